//! Staff access: every admin route by role, CSRF, session fixation, sign-out and expiry,
//! sign-in throttling, and the unknown account's timing.

use std::time::{Duration, Instant};

use iscriviti::domain::Role;
use iscriviti::routes::admin::{Access, ROUTES};

use crate::helpers::staff::{hidden, set_cookie, set_cookie_header, PASSWORD};
use crate::helpers::{spawn_app, spawn_app_with, urlencode};

/// A route's path with its parameters filled in with values of the right shape.
fn concrete(path: &str) -> String {
    path.replace("{slug}", "newsletter")
        .replace("{id}", "1")
        .replace("{job}", "1")
        .replace("{upload}", &"0".repeat(32))
        .replace("{token}", &"A".repeat(43))
}

#[tokio::test]
async fn every_admin_route_sends_visitors_to_sign_in_and_refuses_editors_admin_pages() {
    let app = spawn_app().await;
    let editor = app.staff("editor@example.org", Role::Editor).await;
    let admin = app.staff("admin@example.org", Role::Admin).await;
    assert!(
        ROUTES.len() >= 30,
        "the route table is walked: {}",
        ROUTES.len()
    );
    for route in ROUTES {
        let path = concrete(route.path);
        let signs_out = path == "/admin/logout";
        let url = format!("{}{path}", app.address);
        let anonymous = match route.method {
            "get" => app.client.get(&url).send().await.unwrap(),
            _ => app
                .client
                .post(&url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("csrf=x")
                .send()
                .await
                .unwrap(),
        };
        let location = anonymous
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        if signs_out {
            // Tested on its own: here it would end the sessions the walk goes on with.
            assert!(location.starts_with("/admin/login"));
            continue;
        }
        let by_editor = match route.method {
            "get" => editor.get(&path).await,
            _ => editor.post(&path, "").await,
        };
        let by_admin = match route.method {
            "get" => admin.get(&path).await,
            _ => admin.post(&path, "").await,
        };
        let what = format!("{} {path}", route.method);
        match route.access {
            Access::Anyone => {
                assert!(
                    !location.starts_with("/admin/login"),
                    "{what} is open: {location}"
                );
            }
            Access::Staff | Access::Admin => {
                assert_eq!(anonymous.status(), 303, "{what} sends visitors away");
                assert!(location.starts_with("/admin/login"), "{what} → {location}");
            }
        }
        match route.access {
            Access::Admin => assert_eq!(by_editor.status(), 403, "{what} refuses editors"),
            Access::Staff => assert_ne!(by_editor.status(), 403, "{what} is for editors too"),
            // Forms for visitors take the visitor's token, not a session's: a 403 here is the
            // CSRF check.
            Access::Anyone => {}
        }
        let admin_status = by_admin.status();
        assert!(
            !admin_status.is_server_error(),
            "{what} as admin: {admin_status}"
        );
        if route.access != Access::Anyone {
            assert_ne!(admin_status, 403, "{what} as admin");
        }
    }
}

#[tokio::test]
async fn a_form_without_the_sessions_csrf_token_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.staff("admin@example.org", Role::Admin).await;
    let form =
        "slug=cultura&name=Cultura&language=it&from=Redazione+%3Cr%40example.org%3E&public=1";
    let missing = admin.post_raw("/admin/lists/new", form).await;
    assert_eq!(missing.status(), 403);
    let forged = admin
        .post_raw("/admin/lists/new", &format!("csrf=forged&{form}"))
        .await;
    assert_eq!(forged.status(), 403);
    assert!(forged.text().await.unwrap().contains("reload the page"));
    // Another session's token is not this session's.
    let other = app.staff("other@example.org", Role::Admin).await;
    let crossed = admin
        .post_raw("/admin/lists/new", &format!("csrf={}&{form}", other.csrf))
        .await;
    assert_eq!(crossed.status(), 403);
    assert_eq!(app.count_where("lists", "slug = 'cultura'").await, 0);
    let good = admin.post("/admin/lists/new", form).await;
    assert_eq!(good.status(), 303);
    assert_eq!(app.count_where("lists", "slug = 'cultura'").await, 1);
    // Signing in takes the visitor token the sign-in page set.
    app.staff_account("third@example.org", Role::Admin).await;
    let no_token = app
        .post_form(
            "/admin/login",
            &format!("email=third%40example.org&password={}", urlencode(PASSWORD)),
        )
        .await;
    assert_eq!(no_token.status(), 403);
    assert!(set_cookie(&no_token, "iscriviti_session").is_none());
}

#[tokio::test]
async fn sign_in_starts_a_new_session_and_sign_out_ends_it_on_the_server() {
    let app = spawn_app().await;
    app.staff_account("admin@example.org", Role::Admin).await;
    // A session id planted before sign-in is not adopted.
    let planted = "A".repeat(43);
    let res = app
        .sign_in(
            "admin@example.org",
            PASSWORD,
            &format!("; iscriviti_session={planted}"),
        )
        .await;
    assert_eq!(res.status(), 303);
    let header = set_cookie_header(&res, "iscriviti_session").unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/admin"] {
        assert!(header.contains(attribute), "{attribute} in {header}");
    }
    let first = set_cookie(&res, "iscriviti_session").unwrap();
    assert_ne!(first, planted);
    assert_eq!(app.count("staff_sessions").await, 1);
    // Signing in again from the same browser replaces its session.
    let again = app
        .sign_in(
            "admin@example.org",
            PASSWORD,
            &format!("; iscriviti_session={first}"),
        )
        .await;
    let second = set_cookie(&again, "iscriviti_session").unwrap();
    assert_ne!(second, first);
    assert_eq!(
        app.count("staff_sessions").await,
        1,
        "the replaced session is gone"
    );
    let old = app
        .client
        .get(format!("{}/admin", app.address))
        .header("Cookie", format!("iscriviti_session={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 303);

    let admin = app.signed_in("admin@example.org").await;
    assert_eq!(admin.get("/admin").await.status(), 200);
    let out = admin.post("/admin/logout", "").await;
    assert_eq!(out.status(), 303);
    assert_eq!(set_cookie(&out, "iscriviti_session").as_deref(), Some(""));
    assert_eq!(
        admin.get("/admin").await.status(),
        303,
        "the cookie no longer works anywhere"
    );
}

#[tokio::test]
async fn sessions_end_when_idle_or_old_and_when_the_account_is_disabled() {
    let app = spawn_app().await;
    let admin = app.staff("admin@example.org", Role::Admin).await;
    let editor = app.staff("editor@example.org", Role::Editor).await;
    assert_eq!(admin.get("/admin").await.status(), 200);
    // Idle for longer than allowed (two hours by default).
    app.db(|c| {
        diesel::sql_query(
            "UPDATE staff_sessions SET last_seen_at = created_at - (created_at - last_seen_at) \
             WHERE 1 = 0",
        )
        .execute(c)
    })
    .await;
    let idle = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(121);
    let editor_id = app
        .db(|c| iscriviti::db::staff::user_by_email(c, "editor@example.org"))
        .await
        .unwrap()
        .id;
    app.db(move |c| {
        use diesel::prelude::*;
        use iscriviti::db::schema::staff_sessions as s;
        diesel::update(s::table.filter(s::user_id.eq(editor_id)))
            .set(s::last_seen_at.eq(idle))
            .execute(c)
    })
    .await;
    assert_eq!(
        editor.get("/admin").await.status(),
        303,
        "an idle session has ended"
    );
    // Past its absolute end, however busy.
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1);
    app.db(move |c| {
        use diesel::prelude::*;
        use iscriviti::db::schema::staff_sessions as s;
        diesel::update(s::table)
            .set(s::expires_at.eq(past))
            .execute(c)
    })
    .await;
    assert_eq!(
        admin.get("/admin").await.status(),
        303,
        "an old session has ended"
    );
    assert_eq!(
        app.count("staff_sessions").await,
        0,
        "ended sessions are deleted"
    );

    let admin = app.signed_in("admin@example.org").await;
    let editor = app.signed_in("editor@example.org").await;
    let res = admin
        .post(&format!("/admin/users/{editor_id}"), "disabled=1")
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        editor.get("/admin").await.status(),
        303,
        "a disabled account is signed out"
    );
    let refused = app.sign_in("editor@example.org", PASSWORD, "").await;
    assert_eq!(refused.status(), 401, "and cannot sign in");
}

use diesel::RunQueryDsl;

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_and_per_client() {
    let app = spawn_app_with(|s| {
        s.staff.failures_per_account = 3.try_into().unwrap();
        s.staff.failures_per_ip = 5.try_into().unwrap();
    })
    .await;
    app.staff_account("admin@example.org", Role::Admin).await;
    app.staff_account("other@example.org", Role::Admin).await;
    for _ in 0..3 {
        let res = app
            .sign_in("admin@example.org", "not the password at all", "")
            .await;
        assert_eq!(res.status(), 401);
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("The address or the password is not right"));
    }
    let throttled = app.sign_in("admin@example.org", PASSWORD, "").await;
    assert_eq!(throttled.status(), 429, "even the right password waits");
    assert!(throttled
        .text()
        .await
        .unwrap()
        .contains("quarter of an hour"));
    // Another account from the same client still may, until the client's own limit.
    assert_eq!(
        app.sign_in("other@example.org", PASSWORD, "")
            .await
            .status(),
        303
    );
    for _ in 0..2 {
        let res = app
            .sign_in("nobody@example.org", "not the password at all", "")
            .await;
        assert_eq!(res.status(), 401);
    }
    assert_eq!(
        app.sign_in("other@example.org", PASSWORD, "")
            .await
            .status(),
        429
    );
    assert_eq!(
        app.count_where("audit_log", "action = 'login_failed'")
            .await,
        5
    );
    // Once the window has passed, the account signs in again.
    let long_ago = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(16);
    app.db(move |c| {
        use diesel::prelude::*;
        use iscriviti::db::schema::login_failures as f;
        diesel::update(f::table).set(f::at.eq(long_ago)).execute(c)
    })
    .await;
    assert_eq!(
        app.sign_in("admin@example.org", PASSWORD, "")
            .await
            .status(),
        303
    );
}

/// The median time of `n` sign-ins with this address and a wrong password.
async fn median_failure(app: &crate::helpers::TestApp, email: &str, n: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..n {
        let (cookie, csrf) = app.visitor_token("/admin/login").await;
        let started = Instant::now();
        let res = app
            .client
            .post(format!("{}/admin/login", app.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Cookie", format!("iscriviti_form={cookie}"))
            .body(format!(
                "csrf={csrf}&email={}&password=wrong+password+here",
                urlencode(email)
            ))
            .send()
            .await
            .unwrap();
        times.push(started.elapsed());
        assert_eq!(res.status(), 401);
    }
    times.sort();
    times[n / 2]
}

#[tokio::test]
async fn an_unknown_address_takes_as_long_to_refuse_as_a_wrong_password() {
    let app = spawn_app_with(|s| {
        s.staff.failures_per_account = 50.try_into().unwrap();
        s.staff.failures_per_ip = 100.try_into().unwrap();
    })
    .await;
    app.staff_account("admin@example.org", Role::Admin).await;
    let known = median_failure(&app, "admin@example.org", 7).await;
    let unknown = median_failure(&app, "nobody@example.org", 7).await;
    let malformed = median_failure(&app, "not an address", 7).await;
    // Without the dummy hash an unknown address answers in about a millisecond, against the
    // tens of milliseconds of argon2id: a factor of ten or more. The check allows for noise.
    for (what, t) in [("unknown", unknown), ("malformed", malformed)] {
        assert!(t * 2 >= known, "{what} {t:?} against known {known:?}");
        assert!(t <= known * 2, "{what} {t:?} against known {known:?}");
    }
}

#[tokio::test]
async fn the_set_up_link_creates_the_first_admin_once() {
    let app = spawn_app().await;
    let (url, _) = iscriviti::staff::setup_link(&app.state)
        .await
        .unwrap()
        .expect("no admin yet");
    let path = app.path_of(&url);
    let (cookie, csrf) = app.visitor_token(&path).await;
    let post = |body: String| {
        app.client
            .post(format!("{}{path}", app.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Cookie", format!("iscriviti_form={cookie}"))
            .body(body)
            .send()
    };
    // Mistakes come back next to their field, with what was typed.
    let bad = post(format!(
        "csrf={csrf}&email=capo%40example&language=it&password=short&password_again=short"
    ))
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains("value=\"capo@example\""),
        "kept what was typed"
    );
    assert!(html.contains("id=\"e-email\"") && html.contains("id=\"e-password\""));
    assert_eq!(app.count("staff_users").await, 0);

    let good = post(format!(
        "csrf={csrf}&email=capo%40example.org&language=it&password={0}&password_again={0}",
        urlencode(PASSWORD)
    ))
    .await
    .unwrap();
    assert_eq!(good.status(), 303, "signed in at once");
    assert!(set_cookie(&good, "iscriviti_session").is_some());
    let admin = app
        .db(|c| iscriviti::db::staff::user_by_email(c, "capo@example.org"))
        .await
        .unwrap();
    assert_eq!((admin.role, admin.language.as_str()), (Role::Admin, "it"));
    assert!(admin.password_hash.starts_with("$argon2id$"));
    // The link works once; and with an admin, no new one is made.
    assert_eq!(app.get(&path).await.status(), 404);
    assert!(iscriviti::staff::setup_link(&app.state)
        .await
        .unwrap()
        .is_none());
    let page = app.get("/admin/login").await.text().await.unwrap();
    assert!(hidden(&page, "csrf").is_some());
}

#[tokio::test]
async fn an_expired_set_up_link_is_refused() {
    let app = spawn_app().await;
    let (url, _) = iscriviti::staff::setup_link(&app.state)
        .await
        .unwrap()
        .unwrap();
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1);
    app.db(move |c| {
        use diesel::prelude::*;
        use iscriviti::db::schema::staff_tokens as t;
        diesel::update(t::table)
            .set(t::expires_at.eq(past))
            .execute(c)
    })
    .await;
    let res = app.get(&app.path_of(&url)).await;
    assert_eq!(res.status(), 404);
    // The visitor's language (Italian by default) says why.
    assert!(res.text().await.unwrap().contains("è scaduto"));
}
