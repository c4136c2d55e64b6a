//! The admin's pages as a browser uses them: lists, the subscriber search and its pages,
//! adding, editing, blocking and erasing readers, the import from an upload and the export,
//! each leaving its entry in the audit trail.

use iscriviti::domain::Role;

use crate::helpers::staff::StaffClient;
use crate::helpers::{eventually, html_unescape, spawn_app, spawn_app_with, urlencode, TestApp};

/// The subscriber rows of a search page (their detail links).
fn result_ids(html: &str) -> Vec<i64> {
    html.split("<td><a href=\"/admin/subscribers/")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect()
}

/// The `rel="next"` link of a page, unescaped.
fn next_link(html: &str) -> Option<String> {
    let end = html.find("\" rel=\"next\"")?;
    let start = html[..end].rfind("href=\"")? + 6;
    Some(html_unescape(&html[start..end]))
}

async fn body(res: reqwest::Response) -> (u16, String) {
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The audit trail's entries of `action`, as an admin filters them.
async fn audit(admin: &StaffClient<'_>, action: &str) -> String {
    let (status, html) = body(admin.get(&format!("/admin/audit?action={action}")).await).await;
    assert_eq!(status, 200);
    assert!(
        !html.contains("colspan=\"5\""),
        "{action} is in the trail: {html}"
    );
    html
}

const LIST_FORM: &str = "name=Cultura&description=Libri+e+mostre&public=on&double_opt_in=on\
    &language=it&from=Cultura+%3Ccultura%40example.org%3E&reply_to=&cadence=&time_zone=Europe%2FRome";

#[tokio::test]
async fn an_admin_creates_edits_and_archives_a_list_keeping_its_subscribers() {
    let app = spawn_app().await;
    let admin = app.staff("admin@example.org", Role::Admin).await;

    // Bad fields: the page comes back with each error next to its field and what was typed.
    let (status, html) = body(
        admin
            .post(
                "/admin/lists/new",
                "slug=Not+A+Slug&name=Cultura+e+societ%C3%A0&language=it&from=not-an-address",
            )
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("value=\"Cultura e società\""), "{html}");
    assert!(html.contains("value=\"Not A Slug\""));
    assert_eq!(html.matches("class=\"field-error\"").count(), 2, "{html}");
    assert_eq!(app.count("lists").await, 1, "nothing is written");

    let res = admin
        .post("/admin/lists/new", &format!("slug=cultura&{LIST_FORM}"))
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/admin/lists/cultura?saved");
    // The same slug again is refused on its field.
    let (status, html) = body(
        admin
            .post("/admin/lists/new", &format!("slug=cultura&{LIST_FORM}"))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("field-error"));

    let edited = LIST_FORM.replace("name=Cultura", "name=Cultura+%26+Arte");
    let edited = edited.replace("&public=on", "") + "&cadence=weekly+mon+08%3A00";
    assert_eq!(
        admin.post("/admin/lists/cultura", &edited).await.status(),
        303
    );
    let (_, page) = body(admin.get("/admin/lists/cultura").await).await;
    assert!(page.contains("value=\"Cultura &amp; Arte\""), "{page}");
    assert!(page.contains("weekly mon 08:00"), "the cadence is kept");
    let list = app
        .db(|c| iscriviti::db::lists::by_slug(c, "cultura"))
        .await
        .unwrap();
    assert!(!list.public, "the list became private");
    // A private list is not on the public form.
    let (_, form) = body(app.get("/").await).await;
    assert!(!form.contains("Cultura &amp; Arte"));

    app.seed_confirmed("cultura", 3).await;
    let res = admin
        .post("/admin/lists/cultura/archive", "archived=1")
        .await;
    assert_eq!(res.status(), 303);
    let (_, lists) = body(admin.get("/admin/lists").await).await;
    assert!(lists.contains("Cultura &amp; Arte"));
    assert_eq!(
        app.count_where("subscriptions", "status = 'confirmed'")
            .await,
        3,
        "archiving keeps the subscribers"
    );
    for action in ["list_created", "list_updated", "list_archived"] {
        audit(&admin, action).await;
    }
}

#[tokio::test]
async fn the_search_finds_readers_by_address_or_name_prefix_and_pages_through_all_of_them() {
    let app = spawn_app().await;
    let admin = app.staff("admin@example.org", Role::Admin).await;
    let ids = app.seed_confirmed("newsletter", 120).await;

    // Address prefix: lettore11, lettore110..119.
    let (status, html) = body(admin.get("/admin/subscribers?q=lettore11").await).await;
    assert_eq!(status, 200);
    assert_eq!(result_ids(&html).len(), 11, "{html}");
    // Words of the name, in any case, each a prefix: "Lettore 7" and "Lettore 70".."79".
    let (_, html) = body(admin.get("/admin/subscribers?q=LETTORE+7").await).await;
    let found = result_ids(&html);
    assert!(found.contains(&ids[7]), "{found:?}");
    assert_eq!(found.len(), 11, "{found:?}");
    // Nothing matches an unknown prefix.
    let (_, html) = body(admin.get("/admin/subscribers?q=zzz").await).await;
    assert!(result_ids(&html).is_empty());

    // Every reader once, 50 per page, newest first, by following "next".
    let mut seen = Vec::new();
    let mut path = "/admin/subscribers?status=confirmed".to_owned();
    let mut pages = 0;
    loop {
        let (status, html) = body(admin.get(&path).await).await;
        assert_eq!(status, 200);
        let page = result_ids(&html);
        assert!(page.len() <= 50);
        assert!(page.windows(2).all(|w| w[0] > w[1]), "newest first");
        seen.extend(page);
        pages += 1;
        match next_link(&html) {
            Some(next) => path = next,
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected = ids.clone();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected, "each reader exactly once");

    // Filters that match nobody, and a bad filter, answered on its field.
    let (_, html) = body(admin.get("/admin/subscribers?status=unsubscribed").await).await;
    assert!(result_ids(&html).is_empty());
    let (status, html) = body(admin.get("/admin/subscribers?status=gone").await).await;
    assert_eq!(status, 400);
    assert!(html.contains("field-error"));
    let (status, _) = body(admin.get("/admin/subscribers?list=nessuna").await).await;
    assert_eq!(status, 400, "an unknown list is the person's mistake");
}

#[tokio::test]
async fn an_admin_adds_edits_blocks_and_erases_a_reader_as_the_reader_could() {
    let app = spawn_app().await;
    let admin = app.staff("admin@example.org", Role::Admin).await;

    // A bad address comes back on its field with what was typed.
    let (status, html) = body(
        admin
            .post(
                "/admin/subscribers/new",
                "email=giulia%40&name=Giulia&language=it&lists=newsletter&consent=mail",
            )
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("value=\"giulia@\""), "{html}");
    assert_eq!(app.count("subscribers").await, 0);

    // Without recorded consent the reader is asked by mail.
    let res = admin
        .post(
            "/admin/subscribers/new",
            "email=giulia%40example.org&name=Giulia&language=it&lists=newsletter&consent=mail",
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.status_of("giulia@example.org", "newsletter")
            .await
            .as_deref(),
        Some("pending")
    );
    let mails = app.mails(1).await;
    assert_eq!(mails[0].rcpt_to, ["giulia@example.org"]);

    // With consent given elsewhere (recorded as its source), confirmed at once, no mail.
    let res = admin
        .post(
            "/admin/subscribers/new",
            "email=marco%40example.org&name=&language=en&lists=newsletter&consent=given\
             &source=Modulo+cartaceo+fiera+2026",
        )
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        app.status_of("marco@example.org", "newsletter")
            .await
            .as_deref(),
        Some("confirmed")
    );
    let marco: i64 = location
        .trim_start_matches("/admin/subscribers/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let path = format!("/admin/subscribers/{marco}");

    // Edit: a name too long is refused on its field; a good one is saved.
    let long = "x".repeat(300);
    let res = admin.post(&path, &format!("name={long}&language=en")).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        admin
            .post(&path, "name=Marco+Rossi&language=it")
            .await
            .status(),
        303
    );
    let (_, detail) = body(admin.get(&path).await).await;
    assert!(detail.contains("Marco Rossi"));
    assert!(
        detail.contains("Modulo cartaceo fiera 2026"),
        "the history shows the source"
    );

    // Blocked: the public form sends them nothing more.
    assert_eq!(
        admin
            .post(&format!("{path}/block"), "blocked=1")
            .await
            .status(),
        303
    );
    let before = app.count("outbox").await;
    app.subscribe("marco@example.org", &["newsletter"]).await;
    assert_eq!(
        app.count("outbox").await,
        before,
        "a blocked reader gets no mail"
    );

    // Erase needs the tick; then nothing of the address is left but the keyed hash.
    let res = admin.post(&format!("{path}/erase"), "").await;
    assert_eq!(res.status(), 400);
    let res = admin.post(&format!("{path}/erase"), "confirm=on").await;
    assert_eq!(res.status(), 303);
    assert!(app.columns_holding("marco@example.org").await.is_empty());
    assert_eq!(admin.get(&path).await.status(), 404);
    // Suppression holds against the admin too: back only through a confirmation mail.
    admin
        .post(
            "/admin/subscribers/new",
            "email=marco%40example.org&language=it&lists=newsletter&consent=given&source=x",
        )
        .await;
    assert_ne!(
        app.status_of("marco@example.org", "newsletter")
            .await
            .as_deref(),
        Some("confirmed")
    );

    for action in [
        "subscriber_added",
        "subscriber_updated",
        "subscriber_blocked",
        "subscriber_erased",
    ] {
        let trail = audit(&admin, action).await;
        assert!(
            !trail.contains("marco@example.org"),
            "the trail names readers by id, not by address"
        );
    }
}

/// Uploads `csv` to the import form and returns the preview's path.
async fn upload(admin: &StaffClient<'_>, csv: &[u8]) -> reqwest::Response {
    admin
        .post_multipart(
            "/admin/import",
            &[
                ("csrf", None, admin.csrf.as_bytes()),
                ("list", None, b"newsletter"),
                ("status", None, b"confirmed"),
                ("source", None, b"Iscritti del vecchio sito"),
                ("file", Some("vecchio sito.csv"), csv),
            ],
        )
        .await
}

fn upload_files(app: &TestApp) -> usize {
    match std::fs::read_dir(&app.state.settings.staff.upload_dir) {
        Ok(dir) => dir.count(),
        Err(_) => 0,
    }
}

#[tokio::test]
async fn a_csv_from_the_browser_is_mapped_previewed_imported_and_its_bad_rows_reported() {
    let app = spawn_app().await;
    let admin = app.staff("admin@example.org", Role::Admin).await;
    let csv = "Indirizzo;Nome e cognome\n\
               anna@example.org;Anna Bianchi\n\
               non un indirizzo;Qualcuno\n\
               luca@example.org;Luca Verdi\n\
               ;Senza indirizzo\n\
               Anna@Example.org;Anna di nuovo\n";
    let res = upload(&admin, csv.as_bytes()).await;
    assert_eq!(res.status(), 303);
    let preview = res.headers()["location"].to_str().unwrap().to_owned();

    // No "email" column: the preview says so and offers the columns found.
    let (status, html) = body(admin.get(&preview).await).await;
    assert_eq!(status, 200);
    assert!(html.contains("Indirizzo") && html.contains("Nome e cognome"));
    // Mapped: the first rows with their errors.
    let mapped = format!(
        "{preview}?email=Indirizzo&name={}",
        urlencode("Nome e cognome")
    );
    let (status, html) = body(admin.get(&mapped).await).await;
    assert_eq!(status, 200);
    assert!(html.contains("anna@example.org") && html.contains("Luca Verdi"));
    assert!(
        html.contains("class=\"bad\"") || html.contains("invalid"),
        "{html}"
    );
    assert_eq!(
        app.count("subscribers").await,
        0,
        "a preview writes nothing"
    );

    let res = admin
        .post(
            &preview,
            &format!(
                "email=Indirizzo&name={}&status=",
                urlencode("Nome e cognome")
            ),
        )
        .await;
    assert_eq!(res.status(), 303);
    let job = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(job.starts_with("/admin/imports/"));
    eventually(10, "the import ends", || async {
        let (_, html) = body(admin.get(&job).await).await;
        !html.contains("http-equiv=\"refresh\"")
    })
    .await;
    let (_, html) = body(admin.get(&job).await).await;
    assert!(html.contains(&format!("href=\"{job}/errors\"")), "{html}");
    assert_eq!(
        app.count_where("subscriptions", "status = 'confirmed'")
            .await,
        2
    );
    let (status, report) = body(admin.get(&format!("{job}/errors")).await).await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[0], "line,reason");
    let bad: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(bad, ["3", "5", "6"], "{report}");
    assert!(report.contains("duplicate of line 2"));
    assert_eq!(upload_files(&app), 0, "the upload is removed once imported");
    audit(&admin, "import").await;
}

#[tokio::test]
async fn an_upload_over_the_limit_or_with_a_forged_token_leaves_nothing_behind() {
    let app = spawn_app_with(|s| s.staff.max_upload_bytes = 1024u64.try_into().unwrap()).await;
    let admin = app.staff("admin@example.org", Role::Admin).await;
    let big = "email\n".to_owned() + &"lettore@example.org\n".repeat(200);
    let res = upload(&admin, big.as_bytes()).await;
    assert_eq!(res.status(), 413);
    let html = res.text().await.unwrap();
    assert!(html.contains("field-error"), "said next to the file field");
    assert!(
        html.contains("Iscritti del vecchio sito"),
        "the form keeps what was typed"
    );
    assert_eq!(upload_files(&app), 0);

    let res = admin
        .post_multipart(
            "/admin/import",
            &[
                ("csrf", None, b"forged"),
                ("list", None, b"newsletter"),
                ("file", Some("a.csv"), b"email\nx@example.org\n"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(upload_files(&app), 0);
    assert_eq!(app.count("subscribers").await, 0);
}

#[tokio::test]
async fn the_export_streams_the_list_as_csv_and_is_recorded() {
    let app = spawn_app().await;
    let admin = app.staff("admin@example.org", Role::Admin).await;
    app.seed_confirmed("newsletter", 1200).await;
    let res = admin
        .get("/admin/lists/newsletter/export?status=confirmed")
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    assert!(
        res.headers().get("content-length").is_none(),
        "streamed, not built whole"
    );
    let csv = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows = reader.records().map(Result::unwrap).count();
    assert_eq!(rows, 1200);
    assert!(csv.contains("lettore1199@example.org"));
    audit(&admin, "export").await;
    assert_eq!(
        admin
            .get("/admin/lists/newsletter/export?status=nope")
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn a_broad_search_over_more_readers_than_a_window_pages_through_every_match_once() {
    let app = spawn_app().await;
    let admin = app.staff("admin@example.org", Role::Admin).await;
    // Names "Lettore {i}": "lettore 1" matches 1, 10..19, 100..199 and 1000..1999.
    let ids = app.seed_confirmed("newsletter", 2_100).await;
    let mut expected: Vec<i64> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| i.to_string().starts_with('1'))
        .map(|(_, id)| *id)
        .collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(expected.len(), 1_111);
    for search in [
        "q=lettore+1",
        "q=lettore+1&status=confirmed&list=newsletter",
    ] {
        let mut seen = Vec::new();
        let mut path = format!("/admin/subscribers?{search}");
        loop {
            let (status, html) = body(admin.get(&path).await).await;
            assert_eq!(status, 200);
            let page = result_ids(&html);
            assert!(page.len() <= 50);
            seen.extend(page);
            match next_link(&html) {
                Some(next) => path = next,
                None => break,
            }
        }
        assert_eq!(seen, expected, "{search}: every match once, newest first");
    }
    // A narrow search among them: found from its matches, not from the window.
    let (_, html) = body(admin.get("/admin/subscribers?q=lettore+2099").await).await;
    assert_eq!(result_ids(&html), [ids[2_099]]);
    let (_, html) = body(admin.get("/admin/subscribers?q=lettore+5").await).await;
    assert_eq!(
        result_ids(&html).len(),
        50,
        "5, 50..59, 500..599: a full page"
    );
}
