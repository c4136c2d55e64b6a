//! The editor's pages as a browser uses them: articles (filled in from their page), feeds,
//! composing, previewing, test-sending, sending and watching a digest, its delivery log, the
//! history, and the public archive, which shows nothing of any reader.

use iscriviti::domain::Role;

use crate::helpers::http::{HttpServer, Route};
use crate::helpers::{eventually, html_unescape, spawn_app_with, urlencode, TestApp};

async fn body(res: reqwest::Response) -> (u16, String) {
    (res.status().as_u16(), res.text().await.unwrap())
}

/// An app whose outbound fetches may reach the test servers on 127.0.0.1.
async fn app() -> TestApp {
    spawn_app_with(|s| {
        s.outbound.allow = vec![iscriviti::outbound::Allowed::parse("127.0.0.1").unwrap()];
    })
    .await
}

/// The id at the end of a `Location: /admin/<what>/<id>` header.
fn located_id(res: &reqwest::Response) -> i64 {
    let location = res.headers()["location"].to_str().unwrap();
    location.rsplit('/').next().unwrap().parse().unwrap()
}

/// The audit trail's entries of `action` (read by an admin).
async fn audited(app: &TestApp, action: &str) -> i64 {
    let condition = format!("action = '{action}'");
    app.count_where("audit_log", Box::leak(condition.into_boxed_str()))
        .await
}

const PAGE: &str = r#"<!doctype html><html lang="it"><head>
<meta charset="utf-8"><title>Titolo della pagina, non questo</title>
<meta property="og:title" content="L&rsquo;Italia &laquo;rallenta&raquo;: perch&eacute; il lavoro da remoto &egrave; gi&agrave; realt&agrave;">
<meta property="og:description" content="Le città più care d’Europa “spingono” verso la provincia.">
<meta property="og:image" content="/img/italia.jpg">
<meta property="og:image:alt" content="Una stazione ferroviaria all’alba">
<meta name="author" content="Niccolò Ferrè">
</head><body><p>Testo.</p></body></html>"#;

#[tokio::test]
async fn an_editor_adds_an_article_from_its_page_edits_filters_and_deletes_it() {
    let app = app().await;
    let editor = app.staff("editor@example.org", Role::Editor).await;
    let server = HttpServer::start().await;
    server.set("/articolo", Route::ok("text/html; charset=utf-8", PAGE));
    let url = server.url("/articolo");

    // Filled in from the page: nothing is stored yet.
    let (status, html) = body(
        editor
            .post(
                "/admin/articles/new",
                &format!("url={}&fill=1", urlencode(&url)),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let html = html_unescape(&html);
    assert!(
        html.contains("value=\"L’Italia «rallenta»: perché il lavoro da remoto è già realtà\""),
        "{html}"
    );
    assert!(html.contains("Le città più care d’Europa “spingono” verso la provincia."));
    assert!(html.contains(&format!("value=\"{}\"", server.url("/img/italia.jpg"))));
    assert!(html.contains("value=\"Una stazione ferroviaria all’alba\""));
    assert_eq!(app.count("articles").await, 0);

    // A page that cannot be read says so, and the form keeps what was typed.
    let (status, html) = body(
        editor
            .post(
                "/admin/articles/new",
                "url=http%3A%2F%2F10.0.0.1%2Fx&title=Mio&fill=1",
            )
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("class=\"error\""), "{html}");
    assert!(html.contains("value=\"Mio\""));

    // Bad fields: 400, the error by its field, nothing written.
    let (status, html) = body(
        editor
            .post(
                "/admin/articles/new",
                "url=ftp%3A%2F%2Fx&title=&published=ieri",
            )
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(html.matches("class=\"field-error\"").count(), 2, "{html}");
    assert_eq!(app.count("articles").await, 0);

    let form = format!(
        "url={}&title={}&summary={}&image_url={}&image_alt={}&author=&list=newsletter&language=it&published=2026-12-01T08%3A30",
        urlencode(&url),
        urlencode("L’Italia «rallenta»"),
        urlencode("Sommario “breve”."),
        urlencode(&server.url("/img/italia.jpg")),
        urlencode("Una stazione all’alba"),
    );
    let res = editor.post("/admin/articles/new", &form).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/admin/articles?done=added");
    // The same address again changes nothing.
    let res = editor.post("/admin/articles/new", &form).await;
    assert_eq!(res.headers()["location"], "/admin/articles?done=already");
    assert_eq!(app.count("articles").await, 1);

    let (_, html) = body(editor.get("/admin/articles?q=RALLENTA&source=manual").await).await;
    let html = html_unescape(&html);
    assert!(html.contains("L’Italia «rallenta»"), "{html}");
    let id: i64 = html
        .split("<td><a href=\"/admin/articles/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (_, html) = body(editor.get("/admin/articles?source=feeds").await).await;
    assert!(!html.contains("rallenta"), "not from a feed");
    let (_, html) = body(editor.get("/admin/articles?q=nessuno").await).await;
    assert!(!html.contains("rallenta"));

    let edited = form.replace("Sommario", "Nuovo+sommario");
    let res = editor.post(&format!("/admin/articles/{id}"), &edited).await;
    assert_eq!(res.status(), 303);
    let (_, html) = body(editor.get(&format!("/admin/articles/{id}")).await).await;
    assert!(html_unescape(&html).contains("Nuovo sommario “breve”."));
    assert!(html.contains("value=\"2026-12-01T08:30\""), "{html}");

    let res = editor
        .post(&format!("/admin/articles/{id}/delete"), "")
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.count("articles").await, 0);
    assert_eq!(
        editor.get(&format!("/admin/articles/{id}")).await.status(),
        404
    );
    for action in ["article_added", "article_updated", "article_deleted"] {
        assert_eq!(audited(&app, action).await, 1, "{action}");
    }
}

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Economia</title>
<link>https://www.example.org/</link><description>Notizie</description>
<item><title>Porto e ferrovie: un’intesa “storica”</title>
<link>https://www.example.org/porto</link><guid>porto-1</guid>
<pubDate>Tue, 01 Dec 2026 09:30:00 +0100</pubDate>
<description>Le due società hanno annunciato l’accordo.</description>
<media:content url="https://www.example.org/img/porto.jpg" medium="image"><media:description>Il porto di Genova al tramonto</media:description></media:content>
</item></channel></rss>"#;

#[tokio::test]
async fn an_editor_adds_fetches_pauses_edits_and_deletes_a_feed() {
    let app = app().await;
    let editor = app.staff("editor@example.org", Role::Editor).await;
    let server = HttpServer::start().await;
    server.set("/feed.xml", Route::ok("application/rss+xml", RSS));
    let url = server.url("/feed.xml");

    let (status, html) = body(
        editor
            .post(
                "/admin/feeds",
                "url=non+un+indirizzo&list=newsletter&interval=0",
            )
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(html.matches("class=\"field-error\"").count(), 2, "{html}");
    assert_eq!(app.count("feeds").await, 0);

    let add = format!("url={}&list=newsletter&interval=30", urlencode(&url));
    assert_eq!(editor.post("/admin/feeds", &add).await.status(), 303);
    let (status, _) = body(editor.post("/admin/feeds", &add).await).await;
    assert_eq!(status, 400, "the list already has this feed");
    let id: i64 = app
        .db(|c| iscriviti::db::feeds::all(c).map(|f| f[0].feed.id))
        .await;

    // Paused: the poller leaves it alone.
    assert_eq!(
        editor
            .post(&format!("/admin/feeds/{id}/pause"), "paused=1")
            .await
            .status(),
        303
    );
    assert!(app.poller.drain().await.unwrap().is_empty());
    assert_eq!(app.count("articles").await, 0);

    // Fetch now: the articles come, with the feed's image and its description.
    let res = editor.post(&format!("/admin/feeds/{id}/fetch"), "").await;
    assert_eq!(res.headers()["location"], "/admin/feeds?done=fetched&new=1");
    let (_, html) = body(editor.get("/admin/feeds").await).await;
    assert!(
        html.contains(&format!("href=\"/admin/articles?source={id}\">1</a>")),
        "{html}"
    );
    assert!(
        html.contains("tag\">in pausa") || html.contains("tag\">paused"),
        "{html}"
    );
    let alt = app.db(|c| iscriviti::db::articles::latest(c, 1)).await;
    assert_eq!(alt[0].image_alt, "Il porto di Genova al tramonto");
    assert_eq!(alt[0].feed_id, Some(id));

    // Resumed, then a new interval; a bad one is refused on its field.
    editor
        .post(&format!("/admin/feeds/{id}/pause"), "paused=0")
        .await;
    assert_eq!(app.count_where("feeds", "paused = FALSE").await, 1);
    let (status, _) = body(
        editor
            .post(
                &format!("/admin/feeds/{id}"),
                &format!("url={}&interval=999999", urlencode(&url)),
            )
            .await,
    )
    .await;
    assert_eq!(status, 400);
    let res = editor
        .post(
            &format!("/admin/feeds/{id}"),
            &format!("url={}&interval=120", urlencode(&url)),
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.count_where("feeds", "interval_secs = 7200").await, 1);

    // A failing feed shows its error.
    server.set("/feed.xml", Route::status(500));
    editor.post(&format!("/admin/feeds/{id}/fetch"), "").await;
    let (_, html) = body(editor.get(&format!("/admin/feeds/{id}")).await).await;
    assert!(html.contains("HTTP 500"), "{html}");

    // Deleted: its articles stay, as if added by hand.
    assert_eq!(
        editor
            .post(&format!("/admin/feeds/{id}/delete"), "")
            .await
            .status(),
        303
    );
    assert_eq!(app.count("feeds").await, 0);
    assert_eq!(app.count_where("articles", "feed_id IS NULL").await, 1);
    for action in [
        "feed_added",
        "feed_paused",
        "feed_resumed",
        "feed_fetched",
        "feed_updated",
        "feed_deleted",
    ] {
        assert!(audited(&app, action).await >= 1, "{action}");
    }
}

/// The digest's progress as its page polls it.
async fn progress(editor: &crate::helpers::staff::StaffClient<'_>, id: i64) -> serde_json::Value {
    let res = editor.get(&format!("/admin/digests/{id}/progress")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn an_editor_composes_previews_tests_sends_and_follows_a_digest() {
    let app = app().await;
    let editor = app.staff("redazione@example.org", Role::Editor).await;
    app.seed_confirmed("newsletter", 3).await;
    app.add_article("Primo: l’Italia «rallenta»", "https://example.org/primo")
        .await;
    app.add_article(
        "Secondo: un’intesa “storica”",
        "https://example.org/secondo",
    )
    .await;
    let ids: Vec<i64> = app
        .db(|c| iscriviti::db::articles::latest(c, 10))
        .await
        .iter()
        .map(|a| a.id)
        .collect();
    let (newest, oldest) = (ids[0], ids[1]);

    // The picker ticks what is new since the list's last digest (never: everything).
    let (status, html) = body(editor.get("/admin/digests/new?list=newsletter").await).await;
    assert_eq!(status, 200);
    assert_eq!(html.matches(" checked>").count(), 2, "{html}");

    // Nothing ticked: refused, nothing written.
    let (status, html) = body(
        editor
            .post("/admin/digests/new?list=newsletter", "subject=&intro=")
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(html.matches("class=\"field-error\"").count(), 2, "{html}");
    assert_eq!(app.count("digests").await, 0);

    // The oldest first, by the numbers given; a Markdown introduction.
    let intro =
        urlencode("Buongiorno! Ecco **le notizie** della settimana.\n\n<script>x()</script>");
    let form = format!(
        "subject={}&intro={intro}&article={newest}&pos_{newest}=2&article={oldest}&pos_{oldest}=1",
        urlencode("Le notizie “della settimana”")
    );
    let res = editor
        .post("/admin/digests/new?list=newsletter", &form)
        .await;
    assert_eq!(res.status(), 303);
    let id = located_id(&res);

    let (status, html) = body(editor.get(&format!("/admin/digests/{id}")).await).await;
    assert_eq!(status, 200);
    let csp = "frame-src 'self'";
    let text = html_unescape(&html);
    assert!(
        text.contains("Buongiorno! Ecco **le notizie** della settimana."),
        "{text}"
    );
    let (first, second) = (
        text.find("1. Primo").unwrap(),
        text.find("2. Secondo").unwrap(),
    );
    assert!(first < second, "the text preview follows the chosen order");
    let res = editor.get(&format!("/admin/digests/{id}/preview")).await;
    let policy = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("sandbox") && policy.contains("frame-ancestors 'self'"),
        "{policy}"
    );
    let preview = res.text().await.unwrap();
    assert!(preview.contains("<strong>le notizie</strong>"), "{preview}");
    assert!(preview.contains("&lt;script&gt;") && !preview.contains("<script>"));
    let page = editor.get(&format!("/admin/digests/{id}")).await;
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains(csp));

    // The live preview saves as the editor types: 204, and the preview shows it.
    let typed = form.replace("Buongiorno", "Buonasera");
    let res = editor
        .post_live(&format!("/admin/digests/{id}"), &typed)
        .await;
    assert_eq!(res.status(), 204);
    let text = editor
        .get(&format!("/admin/digests/{id}/preview.txt"))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("Buonasera! Ecco **le notizie**"), "{text}");

    // A test copy goes to the editor only.
    let res = editor.post(&format!("/admin/digests/{id}/test"), "").await;
    assert_eq!(
        res.headers()["location"],
        format!("/admin/digests/{id}?tested").as_str()
    );
    let mails = app.mails(1).await;
    assert_eq!(mails[0].rcpt_to, vec!["redazione@example.org".to_owned()]);
    assert!(mails[0]
        .parsed()
        .subject()
        .unwrap()
        .contains("della settimana"));

    // The confirmation states the audience; sending starts it.
    let (_, html) = body(editor.get(&format!("/admin/digests/{id}/send")).await).await;
    assert!(html.contains("id=\"audience\">3</strong>"), "{html}");
    let res = editor
        .post(&format!("/admin/digests/{id}/send"), "when=now")
        .await;
    assert_eq!(res.status(), 303);
    app.mails(4).await;
    eventually(15, "the digest reaches 100%", || async {
        progress(&editor, id).await["percent"] == 100
    })
    .await;
    let p = progress(&editor, id).await;
    assert_eq!(
        (
            p["sent"].as_i64(),
            p["failed"].as_i64(),
            p["total"].as_i64()
        ),
        (Some(3), Some(0), Some(3)),
        "{p}"
    );
    eventually(15, "the digest is marked sent", || async {
        progress(&editor, id).await["status"] == "sent"
    })
    .await;
    let (_, html) = body(editor.get(&format!("/admin/digests/{id}")).await).await;
    assert!(html.contains("id=\"percent\">100%"), "{html}");

    // A sent digest cannot change or be cancelled: 409 with the reason.
    let (status, _) = body(editor.post(&format!("/admin/digests/{id}"), &form).await).await;
    assert_eq!(status, 409);
    let (status, _) = body(
        editor
            .post(&format!("/admin/digests/{id}/control"), "action=cancel")
            .await,
    )
    .await;
    assert_eq!(status, 409);

    // The delivery log: every reader, searchable and filterable, and as CSV.
    let (_, html) = body(editor.get(&format!("/admin/digests/{id}/deliveries")).await).await;
    assert_eq!(html.matches("lettore").count(), 3, "{html}");
    let (_, html) = body(
        editor
            .get(&format!("/admin/digests/{id}/deliveries?q=LETTORE1"))
            .await,
    )
    .await;
    assert_eq!(html.matches("lettore1@example.org").count(), 1, "{html}");
    assert!(!html.contains("lettore2@"));
    let (_, html) = body(
        editor
            .get(&format!("/admin/digests/{id}/deliveries?outcome=failed"))
            .await,
    )
    .await;
    assert!(!html.contains("lettore"), "{html}");
    let (status, _) = body(
        editor
            .get(&format!("/admin/digests/{id}/deliveries?outcome=lost"))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    let res = editor
        .get(&format!("/admin/digests/{id}/deliveries.csv"))
        .await;
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.starts_with("email,outcome,attempts,sent_at,reply"));
    assert_eq!(csv.matches(",sent,1,").count(), 3, "{csv}");
    // The addresses are the admins' to download: an editor's file masks them.
    assert_eq!(csv.matches("l***@example.org,sent").count(), 3, "{csv}");
    assert!(!csv.contains("lettore1@"), "{csv}");

    // The history and the dashboard show its numbers.
    let (_, html) = body(editor.get("/admin/digests?list=newsletter").await).await;
    assert!(html_unescape(&html).contains("Le notizie “della settimana”"));
    assert!(html.contains("<td class=\"num\">3</td>"), "{html}");
    let (_, html) = body(editor.get("/admin").await).await;
    assert!(
        html.contains(&format!("href=\"/admin/digests/{id}\"")),
        "{html}"
    );

    for action in [
        "digest_created",
        "digest_test_sent",
        "digest_sent",
        "delivery_log_exported",
    ] {
        assert_eq!(audited(&app, action).await, 1, "{action}");
    }
}

#[tokio::test]
async fn a_digest_is_scheduled_in_the_lists_time_zone_and_can_go_back_to_draft() {
    let app = app().await;
    let admin = app.staff("admin@example.org", Role::Admin).await;
    app.add_article("Un articolo", "https://example.org/uno")
        .await;
    let digest = iscriviti::digests::create(
        &app.state.pool,
        iscriviti::domain::ListSlug::parse("newsletter").unwrap(),
        Some("Programmato".into()),
        None,
    )
    .await
    .unwrap();
    let id = digest.id;

    // The list's cadence, set from the send page, gives its time zone.
    let res = admin
        .post(
            "/admin/lists/newsletter/cadence",
            &format!("cadence=weekly+mon+08%3A00&time_zone=America%2FNew_York&back=%2Fadmin%2Fdigests%2F{id}%2Fsend"),
        )
        .await;
    assert_eq!(
        res.headers()["location"],
        format!("/admin/digests/{id}/send").as_str()
    );
    let (_, html) = body(admin.get(&format!("/admin/digests/{id}/send")).await).await;
    assert!(html_unescape(&html).contains("America/New_York"), "{html}");

    // In the past, or not a time: refused, nothing changes.
    for at in ["2020-01-01T08%3A00", "domani"] {
        let (status, _) = body(
            admin
                .post(
                    &format!("/admin/digests/{id}/send"),
                    &format!("when=later&at={at}&time_zone=America%2FNew_York"),
                )
                .await,
        )
        .await;
        assert_eq!(status, 400, "{at}");
    }
    assert_eq!(app.count_where("digests", "status = 'draft'").await, 1);

    // 09:00 in New York on 1 July 2031 is 13:00 UTC (daylight time).
    let res = admin
        .post(
            &format!("/admin/digests/{id}/send"),
            "when=later&at=2031-07-01T09%3A00&time_zone=America%2FNew_York",
        )
        .await;
    assert_eq!(res.status(), 303);
    let scheduled = app
        .db(move |c| iscriviti::db::digests::by_id(c, id))
        .await
        .unwrap();
    assert_eq!(
        scheduled.scheduled_at.unwrap().to_string(),
        "2031-07-01 13:00:00"
    );
    let (_, html) = body(admin.get(&format!("/admin/digests/{id}")).await).await;
    assert!(
        html_unescape(&html).contains("2031-07-01 09:00 (America/New_York)"),
        "{html}"
    );
    let (_, html) = body(admin.get("/admin").await).await;
    assert!(
        html.contains("Programmato"),
        "the dashboard lists the next sends: {html}"
    );

    admin
        .post(&format!("/admin/digests/{id}/control"), "action=unschedule")
        .await;
    assert_eq!(app.count_where("digests", "status = 'draft'").await, 1);
    let (status, _) = body(
        admin
            .post(&format!("/admin/digests/{id}/control"), "action=explode")
            .await,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_public_archive_shows_sent_digests_and_nothing_of_any_reader() {
    let app = app().await;
    let admin = app.staff("admin@example.org", Role::Admin).await;
    let readers = app.seed_confirmed("newsletter", 2).await;
    app.add_article("L’Italia «rallenta»", "https://example.org/italia")
        .await;

    // No public archive until the list has one: the same 404 as an unknown list.
    for path in [
        "/archive/newsletter",
        "/archive/newsletter/feed.xml",
        "/archive/nessuna",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    let form = "name=Newsletter&description=Le+notizie&public=on&double_opt_in=on&public_archive=on\
        &language=it&from=Redazione+%3Cnews%40example.org%3E&reply_to=&cadence=&time_zone=Europe%2FRome";
    assert_eq!(
        admin.post("/admin/lists/newsletter", form).await.status(),
        303
    );

    let draft = iscriviti::digests::create(
        &app.state.pool,
        iscriviti::domain::ListSlug::parse("newsletter").unwrap(),
        Some("Bozza segreta".into()),
        None,
    )
    .await
    .unwrap();
    let sent = app.start_digest("newsletter", "Il numero “uno”").await;
    app.mails(2).await;

    let (status, index) = body(app.get("/archive/newsletter").await).await;
    assert_eq!(status, 200);
    let index = html_unescape(&index);
    assert!(index.contains("Il numero “uno”"), "{index}");
    assert!(!index.contains("Bozza segreta"), "drafts stay private");
    assert!(
        index.contains("href=\"/?lang=it\""),
        "readers reach the signup form"
    );
    assert_eq!(
        app.get(&format!("/archive/newsletter/{}", draft.id))
            .await
            .status(),
        404
    );
    let res = app.get(&format!("/archive/newsletter/{sent}")).await;
    assert_eq!(res.status(), 200);
    let page = html_unescape(&res.text().await.unwrap());
    assert!(page.contains("L’Italia «rallenta»"), "{page}");
    let res = app.get("/archive/newsletter/feed.xml").await;
    assert_eq!(
        res.headers()["content-type"],
        "application/rss+xml; charset=utf-8"
    );
    let xml = res.text().await.unwrap();
    let feed = feed_rs::parser::parse(xml.as_bytes()).expect("the archive's feed parses");
    assert_eq!(feed.entries.len(), 1);
    assert_eq!(
        feed.entries[0].title.as_ref().unwrap().content,
        "Il numero “uno”"
    );
    assert!(feed.entries[0].links[0]
        .href
        .ends_with(&format!("/archive/newsletter/{sent}")));

    // Nothing personal: no address, name, reader id in a link, or personal link.
    let personal: Vec<String> = (0..readers.len())
        .flat_map(|i| [format!("lettore{i}@example.org"), format!("Lettore {i}")])
        .chain(["token=", "/unsubscribe", "/preferences", "/u/", "/p/"].map(String::from))
        .collect();
    for (what, text) in [("index", &index), ("page", &page), ("feed", &xml)] {
        for p in &personal {
            assert!(
                !text.contains(p.as_str()),
                "the archive's {what} holds {p:?}: {text}"
            );
        }
    }
}
