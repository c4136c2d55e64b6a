//! Consent is never assumed: an address comes back to a list only by confirming from its own
//! mailbox, a link confirms what it was sent for and only once, and nobody can use the form to
//! flood a mailbox or a domain.

use iscriviti::db;

use crate::helpers::{confirm_link, spawn_app, spawn_app_with, urlencode, TestApp};

async fn signup(app: &TestApp, email: &str, list: &str) -> (u16, String) {
    let body = format!("email={}&lists={list}&lang=it", urlencode(email));
    let res = app.post_form("/subscribe", &body).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

/// A reader of a single opt-in list erases their data; a stranger then posts their address.
/// The address is pending, not confirmed: it comes back only through the mail its owner
/// confirms. The stranger's answer is the one anybody gets.
#[tokio::test]
async fn an_erased_address_comes_back_to_a_single_opt_in_list_only_by_confirming() {
    let app = spawn_app().await;
    app.create_list("flash", "Flash", true, false).await;
    let (status, usual) = signup(&app, "prima@example.org", "flash").await;
    assert_eq!(status, 200);
    assert_eq!(
        app.status_of("prima@example.org", "flash").await.as_deref(),
        Some("confirmed")
    );
    assert!(app.smtp.received().is_empty(), "single opt-in: no mail");
    let sid = app
        .db(|c| db::subscribers::by_email(c, "prima@example.org"))
        .await
        .unwrap()
        .id;
    let prefs = app.path_of(&app.state.links.preferences(sid));
    assert_eq!(
        app.post_form(&format!("{prefs}/erase"), "").await.status(),
        200
    );

    let (status, answer) = signup(&app, "prima@example.org", "flash").await;
    assert_eq!(
        (status, answer),
        (200, usual),
        "the same answer as anybody's"
    );
    assert_eq!(
        app.status_of("prima@example.org", "flash").await.as_deref(),
        Some("pending")
    );
    app.worker.drain().await.unwrap();
    let mails = app.mails(1).await;
    assert_eq!(mails[0].rcpt_to, ["prima@example.org"]);
    let link = app.path_of(&confirm_link(&mails[0]));
    assert_eq!(app.confirm(&link).await.status(), 200);
    assert_eq!(
        app.status_of("prima@example.org", "flash").await.as_deref(),
        Some("confirmed")
    );
    assert_eq!(
        app.count("suppressions").await,
        0,
        "the erasure is lifted by the owner"
    );
}

/// A reader who left a single opt-in list is not put back on it by a signup in their name,
/// from the form or the JSON endpoint.
#[tokio::test]
async fn an_address_that_unsubscribed_comes_back_only_by_confirming() {
    let app = spawn_app().await;
    app.create_list("flash", "Flash", true, false).await;
    signup(&app, "partita@example.org", "flash").await;
    let (sid, lid) = app
        .db(|c| {
            let s = db::subscribers::by_email(c, "partita@example.org")?.unwrap();
            let l = db::lists::by_slug(c, "flash")?.unwrap();
            Ok((s.id, l.id))
        })
        .await;
    let unsubscribe = app.path_of(&app.state.links.unsubscribe(sid, lid));
    assert_eq!(app.post_form(&unsubscribe, "").await.status(), 200);
    let res = app
        .client
        .post(format!("{}/subscribe", app.address))
        .json(&serde_json::json!({ "email": "partita@example.org", "lists": ["flash"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(
        app.status_of("partita@example.org", "flash")
            .await
            .as_deref(),
        Some("pending")
    );
    app.worker.drain().await.unwrap();
    assert_eq!(
        app.mails(1).await.len(),
        1,
        "a confirmation mail, to the owner"
    );
}

/// A link confirms the subscriptions it was sent for: an old mail for list A does not confirm
/// list B, requested later (by someone else, say). Used once, it confirms nothing new, and
/// its expiry holds after use.
#[tokio::test]
async fn a_confirmation_link_confirms_only_what_it_was_sent_for_and_only_once() {
    let app = spawn_app().await;
    app.create_list("economia", "Economia", true, true).await;
    let link_a = app.pending_signup("legata@example.org", "newsletter").await;
    let link_b = app.pending_signup("legata@example.org", "economia").await;
    assert_ne!(link_a, link_b);
    assert_eq!(app.confirm(&link_a).await.status(), 200);
    assert_eq!(
        app.status_of("legata@example.org", "newsletter")
            .await
            .as_deref(),
        Some("confirmed")
    );
    assert_eq!(
        app.status_of("legata@example.org", "economia")
            .await
            .as_deref(),
        Some("pending")
    );
    // Used: "already confirmed", and still nothing for economia.
    let again = app.confirm(&link_a).await;
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("Già confermata"));
    assert_eq!(
        app.status_of("legata@example.org", "economia")
            .await
            .as_deref(),
        Some("pending")
    );

    assert_eq!(app.confirm(&link_b).await.status(), 200);
    assert_eq!(
        app.status_of("legata@example.org", "economia")
            .await
            .as_deref(),
        Some("confirmed")
    );
    // Past its expiry a used link is expired too.
    app.db(|c| {
        use diesel::prelude::*;
        use iscriviti::db::schema::tokens;
        let past = chrono::Utc::now().naive_utc() - chrono::Duration::hours(1);
        diesel::update(tokens::table)
            .set(tokens::expires_at.eq(past))
            .execute(c)
    })
    .await;
    assert_eq!(app.get(&link_a).await.status(), 410);
    assert_eq!(app.confirm(&link_a).await.status(), 410);
}

/// One client signs up victim+1@ to victim+19@: the mailbox gets its hour's quota (3), not 19
/// mails; every request gets the usual answer, and the refused ones write nothing.
#[tokio::test]
async fn address_variants_do_not_flood_one_mailbox() {
    let app = spawn_app().await;
    let (_, usual) = signup(&app, "altro@example.org", "newsletter").await;
    for i in 1..=19 {
        let (status, answer) =
            signup(&app, &format!("vittima+{i}@example.org"), "newsletter").await;
        assert_eq!(
            (status, answer.as_str()),
            (200, usual.as_str()),
            "request {i}"
        );
    }
    app.worker.drain().await.unwrap();
    let to_victim: Vec<String> = app
        .mails(4)
        .await
        .iter()
        .flat_map(|m| m.rcpt_to.clone())
        .filter(|r| r.starts_with("vittima"))
        .collect();
    assert_eq!(to_victim.len(), 3, "{to_victim:?}");
    assert_eq!(
        app.count("subscribers").await,
        1 + 3,
        "the refused signups wrote nothing"
    );
}

/// Many mailboxes of one small domain: at most `per_domain_per_minute` confirmation mails a
/// minute go there, whoever asks.
#[tokio::test]
async fn one_domain_gets_at_most_its_minutes_quota_of_confirmation_mail() {
    let app = spawn_app_with(|s| s.signup.per_domain_per_minute = 5).await;
    for i in 0..12 {
        let (status, _) = signup(&app, &format!("utente{i}@piccolo.example"), "newsletter").await;
        assert_eq!(status, 200);
    }
    signup(&app, "altrove@example.org", "newsletter").await;
    app.worker.drain().await.unwrap();
    let mails = app.mails(6).await;
    let small = mails
        .iter()
        .filter(|m| m.rcpt_to[0].ends_with("@piccolo.example"))
        .count();
    assert_eq!(small, 5);
    assert!(mails.iter().any(|m| m.rcpt_to[0] == "altrove@example.org"));
}

/// Entries an older version stored as plain SHA-256 (which anyone with a guess can test) are
/// turned into keyed ones exactly once, and still match their address.
#[tokio::test]
async fn unkeyed_suppression_entries_are_keyed_once_and_still_match() {
    use diesel::prelude::*;
    use iscriviti::db::schema::{settings, suppressions};
    use sha2::{Digest, Sha256};

    let app = spawn_app().await;
    let unkeyed = hex::encode(Sha256::digest(b"vecchia@example.org"));
    app.db(move |c| {
        diesel::delete(settings::table.filter(settings::key.eq("suppressions_keyed")))
            .execute(c)?;
        let now = chrono::Utc::now().naive_utc();
        db::suppressions::add(c, &unkeyed, "erased", now)?;
        Ok(())
    })
    .await;
    for _ in 0..2 {
        db::write(&app.state.pool, |c| {
            Ok::<_, db::DbError>(db::suppressions::key(c)?)
        })
        .await
        .unwrap();
    }
    let stored: Vec<String> = app
        .db(|c| suppressions::table.select(suppressions::email_hash).load(c))
        .await;
    assert_eq!(stored, [app.state.suppression.entry("vecchia@example.org")]);
}

/// A reader with confirmations, digests and a failed delivery erases their data: afterwards
/// no table holds their address or its local part, nor does the service's log, relay
/// replies that repeat the address included.
#[tokio::test]
async fn after_an_erasure_no_table_and_no_log_line_holds_the_address() {
    let app = crate::helpers::spawn_app_without_workers().await;
    let log = tempfile::NamedTempFile::new().unwrap();
    let (server, base) = crate::helpers::ChildServer::logging(
        &app,
        "[worker]\nretry_base_ms = 50\nretry_max_ms = 100\nmax_attempts = 2\n\
         [delivery]\npoll_interval_ms = 50\n",
        log.path(),
    );
    let client = reqwest::Client::new();
    crate::helpers::eventually(30, "the server to answer", || async {
        client.get(format!("{base}/health")).send().await.is_ok()
    })
    .await;
    let address = "privata.lettrice@example.org";
    let form = format!("email={}&lists=newsletter&name=Privata", urlencode(address));
    let post = |path: String, body: String| {
        client
            .post(format!("{base}{path}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    assert_eq!(post("/subscribe".into(), form).await.unwrap().status(), 200);
    let mails = app.mails(1).await;
    let link = app.path_of(&confirm_link(&mails[0]));
    let token = link
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert_eq!(
        post("/confirm".into(), format!("token={token}"))
            .await
            .unwrap()
            .status(),
        200
    );

    // One digest received, one refused by the relay with the address in its reply.
    app.add_article("Prima", "https://www.example.org/1").await;
    let first = app.start_digest("newsletter", "Uno").await;
    crate::helpers::eventually(30, "the first digest", || async {
        iscriviti::digests::status(&app.state.pool, first)
            .await
            .unwrap()
            .1
            .sent
            == 1
    })
    .await;
    app.smtp.set_mode(crate::helpers::SmtpMode::PermFail);
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    app.add_article("Seconda", "https://www.example.org/2")
        .await;
    let second = app.start_digest("newsletter", "Due").await;
    crate::helpers::eventually(30, "the second digest to fail", || async {
        iscriviti::digests::status(&app.state.pool, second)
            .await
            .unwrap()
            .1
            .failed
            == 1
    })
    .await;
    let failed = app.db(move |c| db::deliveries::of_digest(c, second)).await;
    let reply = failed[0].last_error.clone().unwrap();
    assert!(reply.contains("[address]"), "{reply}");

    let sid = app
        .db(|c| db::subscribers::by_email(c, "privata.lettrice@example.org"))
        .await
        .unwrap()
        .id;
    let prefs = app.path_of(&app.state.links.preferences(sid));
    assert_eq!(
        post(format!("{prefs}/erase"), String::new())
            .await
            .unwrap()
            .status(),
        200
    );
    drop(server);

    for needle in [
        "privata.lettrice@example.org",
        "privata.lettrice",
        "Privata",
    ] {
        assert_eq!(
            app.columns_holding(needle).await,
            Vec::<String>::new(),
            "{needle}"
        );
    }
    let logged = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        logged.contains("subscriber erased"),
        "the log was captured: {logged}"
    );
    assert!(!logged.contains("privata.lettrice"), "{logged}");
}
