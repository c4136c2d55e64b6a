//! Feeds polled from a local HTTP server into articles, on the real app and database.

use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime, Utc};
use iscriviti::db::{self, articles::Article, feeds::Feed};
use iscriviti::domain::{FeedInterval, FeedUrl, ListSlug};
use iscriviti::feeds::{self, Polled};

use crate::helpers::http::{HttpServer, Route};
use crate::helpers::{spawn_app_with, TestApp};

const RSS_TYPE: &str = "application/rss+xml; charset=utf-8";

/// Our own sample of Italian typography: à è é ì ò ù, « », “ ”, ’.
const TITLE_1: &str = "L’Italia «rallenta», ma il lavoro da remoto è già realtà";
const SUMMARY_1: &str = "Perché le città più care d’Europa “spingono” verso la provincia: \
    un’analisi senza sconti & qualche sorpresa, però. Così cambierà l’ufficio.";
const TITLE_2: &str = "Porto e ferrovie: un’intesa “storica”";
const SUMMARY_2: &str = "Le due società hanno annunciato l’accordo «solo ieri».";

fn rss() -> String {
    r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:media="http://search.yahoo.com/mrss/">
<channel>
  <title>Economia</title>
  <link>https://www.example.org/economia</link>
  <description>Le notizie di economia</description>
  <language>it-IT</language>
  <item>
    <title>L’Italia «rallenta»,
      ma il lavoro da remoto è già realtà</title>
    <link>https://www.example.org/economia/italia-rallenta</link>
    <guid isPermaLink="true">https://www.example.org/economia/italia-rallenta</guid>
    <dc:creator>Niccolò Ferrè</dc:creator>
    <pubDate>Sat, 06 Jun 2020 09:30:00 +0200</pubDate>
    <description><![CDATA[<p>Perché le città più care d’Europa “spingono” verso la provincia:
      un’analisi <b>senza sconti</b> &amp; qualche sorpresa, però.</p>
      <p>Così cambierà l’ufficio.</p><script>track()</script>]]></description>
    <enclosure url="https://www.example.org/img/italia.jpg" type="image/jpeg" length="12345"/>
  </item>
  <item>
    <title>Porto e ferrovie: un&#8217;intesa “storica”</title>
    <link>https://www.example.org/economia/slack-amazon</link>
    <guid isPermaLink="false">4217</guid>
    <author>redazione@example.org (Redazione)</author>
    <pubDate>Fri, 05 Jun 2020 18:00:00 GMT</pubDate>
    <description>&lt;p&gt;Le due società hanno annunciato l&amp;rsquo;accordo &amp;laquo;solo ieri&amp;raquo;.&lt;/p&gt;</description>
    <media:content url="https://www.example.org/img/slack.png" medium="image"/>
  </item>
  <item>
    <title>Un link che non è un indirizzo web</title>
    <link>javascript:alert(1)</link>
  </item>
</channel>
</rss>"#
        .to_owned()
}

fn atom() -> String {
    r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="it">
  <title>Cultura</title>
  <id>tag:example.org,2020:cultura</id>
  <updated>2020-06-06T10:00:00Z</updated>
  <entry>
    <title type="html">Il &lt;em&gt;Decamerone&lt;/em&gt; letto “ad alta voce”</title>
    <id>tag:example.org,2020:cultura/1</id>
    <link rel="alternate" type="text/html" href="https://www.example.org/cultura/decamerone"/>
    <link rel="enclosure" type="image/webp" href="https://www.example.org/img/d.webp"/>
    <updated>2020-06-06T08:00:00+02:00</updated>
    <author><name>Maria Rossi</name></author>
    <summary type="html">&lt;p&gt;Dieci giovani, cento novelle: perché Boccaccio è ancora attuale.&lt;/p&gt;</summary>
    <content type="html">&lt;p&gt;Il testo completo, molto più lungo.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Senza riassunto</title>
    <id>tag:example.org,2020:cultura/2</id>
    <link href="/cultura/relativo"/>
    <published>2020-06-05T12:00:00Z</published>
    <updated>2020-06-06T12:00:00Z</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Testo <strong>completo</strong> è qui.</p></div></content>
  </entry>
</feed>"#
        .to_owned()
}

/// The app with no background poller (tests poll explicitly) and short fetch timeouts.
async fn app() -> TestApp {
    spawn_app_with(|s| {
        s.worker.enabled = false;
        s.delivery.enabled = false;
        s.feeds.enabled = false;
        s.feeds.connect_timeout_secs = 1u64.try_into().unwrap();
        s.feeds.timeout_secs = 1u64.try_into().unwrap();
    })
    .await
}

async fn add_feed(app: &TestApp, url: &str, list: &str) -> i64 {
    feeds::add(
        &app.state.pool,
        FeedUrl::parse(url).unwrap(),
        ListSlug::parse(list).unwrap(),
        FeedInterval::parse("30m").unwrap(),
    )
    .await
    .unwrap()
    .id
}

async fn articles(app: &TestApp) -> Vec<Article> {
    let mut all = app.db(|c| db::articles::latest(c, 100)).await;
    all.sort_by_key(|a| a.id);
    all
}

async fn feed(app: &TestApp, id: i64) -> Feed {
    app.db(db::feeds::all)
        .await
        .into_iter()
        .map(|f| f.feed)
        .find(|f| f.id == id)
        .expect("the feed exists")
}

fn outcome_of(polled: &[Polled], id: i64) -> &Polled {
    polled.iter().find(|p| p.feed_id == id).expect("polled")
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, 0)
        .unwrap()
}

/// Asserts `t` is about `secs` from now (the poll happened moments ago).
fn about_from_now(t: NaiveDateTime, secs: i64) {
    let off = (t - Utc::now().naive_utc()).num_seconds();
    assert!(
        (secs - 30..=secs).contains(&off),
        "{off} s, not about {secs}"
    );
}

#[tokio::test]
async fn an_rss_feed_becomes_articles_of_its_list_with_italian_text_intact() {
    let app = app().await;
    let server = HttpServer::start().await;
    server.set("/economia.xml", Route::ok(RSS_TYPE, rss()));
    let id = add_feed(&app, &server.url("/economia.xml"), "newsletter").await;

    let polled = app.poller.drain().await.unwrap();
    assert_eq!(polled.len(), 1);
    let ok = polled[0].outcome.clone().unwrap();
    assert_eq!(
        (ok.new_articles, ok.skipped),
        (2, 1),
        "the javascript: link is skipped"
    );

    let list_id = app
        .db(|c| db::lists::by_slug(c, "newsletter"))
        .await
        .unwrap()
        .id;
    let stored = articles(&app).await;
    assert_eq!(stored.len(), 2);
    let a = &stored[0];
    assert_eq!(a.title, TITLE_1);
    assert_eq!(a.summary, SUMMARY_1);
    assert_eq!(a.url, "https://www.example.org/economia/italia-rallenta");
    assert_eq!(a.guid, a.url, "a permalink GUID is kept as it is");
    assert_eq!(a.author.as_deref(), Some("Niccolò Ferrè"));
    assert_eq!(
        a.image_url.as_deref(),
        Some("https://www.example.org/img/italia.jpg")
    );
    assert_eq!(a.language, "it");
    assert_eq!(a.published_at, at(2020, 6, 6, 7, 30), "converted to UTC");
    assert_eq!(a.list_id, Some(list_id));

    let b = &stored[1];
    assert_eq!(b.title, TITLE_2);
    assert_eq!(b.summary, SUMMARY_2, "entities escaped twice are decoded");
    assert_eq!(
        b.guid,
        format!("{}#4217", server.url("/economia.xml")),
        "a GUID that is not a URI is scoped by its feed"
    );
    assert_eq!(b.author.as_deref(), Some("Redazione"));
    assert_eq!(
        b.image_url.as_deref(),
        Some("https://www.example.org/img/slack.png")
    );
    assert_eq!(b.published_at, at(2020, 6, 5, 18, 0));

    let f = feed(&app, id).await;
    assert_eq!(f.consecutive_failures, 0);
    assert!(f.last_error.is_none() && f.last_ok_at.is_some());
    about_from_now(f.next_poll_at, 1800);
    let ua = &server.requests_for("/economia.xml")[0].headers["user-agent"];
    assert!(ua.starts_with("Iscriviti/"), "{ua}");
}

#[tokio::test]
async fn an_atom_feed_becomes_articles_the_same_way() {
    let app = app().await;
    let server = HttpServer::start().await;
    server.set("/cultura.atom", Route::ok("application/atom+xml", atom()));
    add_feed(&app, &server.url("/cultura.atom"), "newsletter").await;

    let polled = app.poller.drain().await.unwrap();
    assert_eq!(polled[0].outcome.clone().unwrap().new_articles, 2);
    let stored = articles(&app).await;
    let a = &stored[0];
    assert_eq!(a.title, "Il Decamerone letto “ad alta voce”");
    assert_eq!(
        a.summary, "Dieci giovani, cento novelle: perché Boccaccio è ancora attuale.",
        "the summary is preferred to the content"
    );
    assert_eq!(a.guid, "tag:example.org,2020:cultura/1");
    assert_eq!(a.url, "https://www.example.org/cultura/decamerone");
    assert_eq!(a.author.as_deref(), Some("Maria Rossi"));
    assert_eq!(
        a.image_url.as_deref(),
        Some("https://www.example.org/img/d.webp")
    );
    assert_eq!(a.published_at, at(2020, 6, 6, 6, 0), "updated, in UTC");

    let b = &stored[1];
    assert_eq!(b.summary, "Testo completo è qui.", "from the XHTML content");
    assert_eq!(
        b.url,
        server.url("/cultura/relativo"),
        "resolved against the feed"
    );
    assert_eq!(b.published_at, at(2020, 6, 5, 12, 0), "published wins");
    assert_eq!(b.author, None);
    assert_eq!(b.language, "it");
}

#[tokio::test]
async fn a_feed_declared_as_iso_8859_1_is_decoded() {
    let app = app().await;
    let server = HttpServer::start().await;
    let xml = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\
        <rss version=\"2.0\"><channel><title>Latin</title><link>https://www.example.org/</link>\
        <description>d</description><language>en</language><item>\
        <title>Perché è così: «città» più &#8220;vivibili&#8221; dell&#8217;anno</title>\
        <link>https://www.example.org/latin</link>\
        <description>Là, però, ù e ì.</description></item></channel></rss>";
    let latin1: Vec<u8> = xml
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("a Latin-1 character"))
        .collect();
    assert!(std::str::from_utf8(&latin1).is_err(), "really not UTF-8");
    server.set(
        "/latin.xml",
        Route::ok("application/rss+xml; charset=iso-8859-1", latin1),
    );
    add_feed(&app, &server.url("/latin.xml"), "newsletter").await;

    app.poller.drain().await.unwrap();
    let stored = articles(&app).await;
    assert_eq!(
        stored[0].title,
        "Perché è così: «città» più “vivibili” dell’anno"
    );
    assert_eq!(stored[0].summary, "Là, però, ù e ì.");
    assert_eq!(stored[0].language, "en", "the feed's language");
    let before = Utc::now().naive_utc() - chrono::Duration::seconds(60);
    assert!(stored[0].published_at > before, "undated: dated now");
}

#[tokio::test]
async fn polling_again_stores_nothing_new_and_sends_the_etag_back() {
    let app = app().await;
    let server = HttpServer::start().await;
    server.set(
        "/economia.xml",
        Route::ok(RSS_TYPE, rss()).header("ETag", "\"v1\""),
    );
    let id = add_feed(&app, &server.url("/economia.xml"), "newsletter").await;
    app.poller.drain().await.unwrap();
    assert_eq!(articles(&app).await.len(), 2);
    assert!(app.poller.drain().await.unwrap().is_empty(), "not due yet");

    let again = app.poller.poll_now(id).await.unwrap().unwrap();
    let ok = again.outcome.unwrap();
    assert!(ok.not_modified, "{ok:?}");
    let requests = server.requests_for("/economia.xml");
    assert_eq!(requests[1].headers["if-none-match"], "\"v1\"");

    // A server that ignores validators sends the same items again: nothing is stored twice.
    server.set("/economia.xml", Route::ok(RSS_TYPE, rss()));
    let third = app.poller.poll_now(id).await.unwrap().unwrap();
    assert_eq!(third.outcome.unwrap().new_articles, 0);
    assert_eq!(articles(&app).await.len(), 2);
    assert_eq!(
        feed(&app, id).await.etag,
        None,
        "the new answer had no ETag"
    );
}

#[tokio::test]
async fn an_item_repeated_within_one_feed_is_stored_once() {
    let app = app().await;
    let server = HttpServer::start().await;
    // The second copy hits the unique GUID inside the poll's transaction, which must survive
    // it (on PostgreSQL a failed statement aborts a transaction unless under a savepoint).
    let item = rss()
        .split("<item>")
        .nth(1)
        .unwrap()
        .split("</item>")
        .next()
        .unwrap()
        .to_owned();
    let doubled = rss().replace("</channel>", &format!("<item>{item}</item></channel>"));
    server.set("/doppio.xml", Route::ok(RSS_TYPE, doubled));
    let id = add_feed(&app, &server.url("/doppio.xml"), "newsletter").await;

    let polled = app.poller.drain().await.unwrap();
    assert_eq!(polled[0].outcome.clone().unwrap().new_articles, 2);
    assert_eq!(articles(&app).await.len(), 2);
    assert!(feed(&app, id).await.last_ok_at.is_some());
}

#[tokio::test]
async fn a_broken_or_missing_feed_is_recorded_and_backed_off_without_disturbing_the_others() {
    let app = app().await;
    let server = HttpServer::start().await;
    server.set(
        "/broken.xml",
        Route::ok(
            RSS_TYPE,
            "<rss version=\"2.0\"><channel><item><title>rotto</wrong></item></channel></rss>",
        ),
    );
    server.set("/good.xml", Route::ok(RSS_TYPE, rss()));
    let broken = add_feed(&app, &server.url("/broken.xml"), "newsletter").await;
    let missing = add_feed(&app, &server.url("/missing.xml"), "newsletter").await;
    let good = add_feed(&app, &server.url("/good.xml"), "newsletter").await;

    let polled = app.poller.drain().await.unwrap();
    assert_eq!(polled.len(), 3);
    let error = outcome_of(&polled, broken).outcome.clone().unwrap_err();
    assert!(error.contains("not a valid RSS or Atom feed"), "{error}");
    let error = outcome_of(&polled, missing).outcome.clone().unwrap_err();
    assert_eq!(error, "the server answered HTTP 404 Not Found");
    assert_eq!(
        outcome_of(&polled, good)
            .outcome
            .clone()
            .unwrap()
            .new_articles,
        2
    );
    assert_eq!(articles(&app).await.len(), 2);

    for id in [broken, missing] {
        let f = feed(&app, id).await;
        assert_eq!(f.consecutive_failures, 1);
        assert!(f.last_error.is_some() && f.last_ok_at.is_none());
        about_from_now(f.next_poll_at, 2 * 1800);
    }
    app.poller.poll_now(missing).await.unwrap();
    let f = feed(&app, missing).await;
    assert_eq!(f.consecutive_failures, 2);
    about_from_now(f.next_poll_at, 4 * 1800);

    // Once the feed is back, the failures are forgotten.
    server.set("/missing.xml", Route::ok("application/atom+xml", atom()));
    app.poller.poll_now(missing).await.unwrap();
    let f = feed(&app, missing).await;
    assert_eq!((f.consecutive_failures, f.last_error), (0, None));
    about_from_now(f.next_poll_at, 1800);
}

#[tokio::test]
async fn a_slow_server_times_out_quickly_and_the_timeout_is_recorded() {
    let app = app().await;
    let server = HttpServer::start().await;
    server.set(
        "/slow.xml",
        Route::ok(RSS_TYPE, rss()).delayed(Duration::from_secs(10)),
    );
    let id = add_feed(&app, &server.url("/slow.xml"), "newsletter").await;

    let started = Instant::now();
    let polled = app.poller.drain().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        polled[0].outcome.clone().unwrap_err(),
        "no complete answer within 1 s"
    );
    let f = feed(&app, id).await;
    assert_eq!(f.consecutive_failures, 1);
    assert_eq!(
        f.last_error.as_deref(),
        Some("no complete answer within 1 s")
    );
}

#[tokio::test]
async fn a_feed_larger_than_the_cap_is_refused() {
    let app = spawn_app_with(|s| {
        s.feeds.enabled = false;
        s.feeds.max_bytes = 4_096u64.try_into().unwrap();
    })
    .await;
    let server = HttpServer::start().await;
    let padding = format!("<!-- {} -->", "x".repeat(8_000));
    server.set(
        "/big.xml",
        Route::ok(
            RSS_TYPE,
            rss().replace("<channel>", &format!("<channel>{padding}")),
        ),
    );
    add_feed(&app, &server.url("/big.xml"), "newsletter").await;

    let polled = app.poller.drain().await.unwrap();
    assert_eq!(
        polled[0].outcome.clone().unwrap_err(),
        "the feed is larger than 4096 bytes"
    );
    assert!(articles(&app).await.is_empty());
}

#[tokio::test]
async fn a_digest_for_the_list_carries_the_feeds_articles() {
    let app = app().await;
    app.create_list("economia", "Economia", true, true).await;
    let server = HttpServer::start().await;
    server.set("/economia.xml", Route::ok(RSS_TYPE, rss()));
    add_feed(&app, &server.url("/economia.xml"), "economia").await;
    app.poller.drain().await.unwrap();

    let slug = ListSlug::parse("economia").unwrap();
    let digest = iscriviti::digests::create(&app.state.pool, slug, None, None)
        .await
        .unwrap();
    assert_eq!(digest.subject, format!("Economia: {TITLE_1}"));
    let (_, text, _) = iscriviti::digests::preview(&app.state, digest.id)
        .await
        .unwrap();
    assert!(text.contains(TITLE_1) && text.contains(TITLE_2), "{text}");
    assert!(text.contains(SUMMARY_1), "{text}");
    // Bound to `economia`: the default list has nothing to send.
    let other = ListSlug::parse("newsletter").unwrap();
    assert!(
        iscriviti::digests::create(&app.state.pool, other, None, None)
            .await
            .is_err()
    );
}

/// An article with no list: offered to every list's digests.
fn for_every_list(guid: &str) -> db::articles::NewArticle<'_> {
    let now = Utc::now().naive_utc();
    db::articles::NewArticle {
        list_id: None,
        guid,
        title: "Per tutti",
        url: "https://example.org/tutti",
        author: None,
        summary: "",
        language: "it",
        image_url: None,
        published_at: now,
        created_at: now,
        feed_id: None,
        image_alt: "",
    }
}

#[tokio::test]
async fn one_feed_bound_to_two_lists_brings_its_items_to_both_once() {
    let app = app().await;
    app.create_list("economia", "Economia", true, true).await;
    let server = HttpServer::start().await;
    server.set("/economia.xml", Route::ok(RSS_TYPE, rss()));
    let url = server.url("/economia.xml");
    add_feed(&app, &url, "newsletter").await;
    add_feed(&app, &url, "economia").await;
    let polled = app.poller.drain().await.unwrap();
    let new: Vec<usize> = polled
        .iter()
        .map(|p| p.outcome.clone().unwrap().new_articles)
        .collect();
    assert_eq!(new, [2, 2]);
    for slug in ["newsletter", "economia"] {
        let digest =
            iscriviti::digests::create(&app.state.pool, ListSlug::parse(slug).unwrap(), None, None)
                .await
                .unwrap();
        let (_, text, _) = iscriviti::digests::preview(&app.state, digest.id)
            .await
            .unwrap();
        assert_eq!(text.matches(TITLE_1).count(), 1, "{slug}: {text}");
        assert_eq!(text.matches(TITLE_2).count(), 1, "{slug}: {text}");
    }

    // An article offered to every list takes its GUID from each list, and the other way round.
    let stored = articles(&app).await;
    let repeated = stored[0].guid.clone();
    let inserted = app
        .db(move |c| db::articles::insert_if_new(c, &for_every_list(&repeated)))
        .await;
    assert!(!inserted, "the GUID is already in two lists");
    let list_id = stored[0].list_id;
    let fresh = app
        .db(move |c| {
            let guid = "https://example.org/tutti";
            let first = db::articles::insert_if_new(c, &for_every_list(guid))?;
            let bound = db::articles::NewArticle {
                list_id,
                ..for_every_list(guid)
            };
            Ok((first, db::articles::insert_if_new(c, &bound)?))
        })
        .await;
    assert_eq!(fresh, (true, false), "offered to every list already");
}

#[tokio::test]
async fn a_claimed_feed_is_not_claimed_again_until_its_lease_runs_out() {
    let app = app().await;
    for path in ["/a.xml", "/b.xml"] {
        add_feed(
            &app,
            &format!("https://www.example.org{path}"),
            "newsletter",
        )
        .await;
    }
    let now = Utc::now().naive_utc();
    let lease = now + chrono::Duration::seconds(300);
    let (first, second, third, later) = app
        .db(move |c| {
            let claim = |c: &mut db::DbConnection, at| {
                db::feeds::claim_due(c, at, lease, 1)
                    .map(|v| v.into_iter().map(|f| f.feed.id).collect::<Vec<_>>())
            };
            Ok((
                claim(c, now)?,
                claim(c, now)?,
                claim(c, now)?,
                db::feeds::claim_due(c, lease, lease + chrono::Duration::seconds(300), 10)?,
            ))
        })
        .await;
    assert_eq!(first.len(), 1);
    assert_eq!(second.len(), 1);
    assert_ne!(first, second);
    assert!(third.is_empty(), "both are leased");
    assert_eq!(later.len(), 2, "due again once the lease has run out");
}

#[tokio::test]
async fn the_feed_commands_add_list_poll_and_remove_feeds() {
    let app = app().await;
    let server = HttpServer::start().await;
    server.set("/economia.xml", Route::ok(RSS_TYPE, rss()));
    let cli = |args: Vec<String>| {
        let db_url = app.db_url.clone();
        // Blocking: run it off the runtime that serves the feed.
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_iscriviti"))
                .args(&args)
                .env("DATABASE_URL", db_url)
                .env("ISCRIVITI_OUTBOUND_ALLOW", "127.0.0.1")
                .env("RUST_LOG", "error")
                .output()
                .unwrap();
            (
                out.status.success(),
                String::from_utf8(out.stdout).unwrap(),
                String::from_utf8(out.stderr).unwrap(),
            )
        })
    };
    let args = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
    let url = server.url("/economia.xml");

    let (ok, out, err) = cli(args(&format!(
        "feed add {url} --list newsletter --interval 2h"
    )))
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert_eq!(out, "added feed 1 to list newsletter, polled every 2h\n");
    let (ok, _, err) = cli(args(&format!("feed add {url} --list newsletter")))
        .await
        .unwrap();
    assert!(!ok && err.contains("already has this feed"), "{err}");
    let (ok, _, err) = cli(args(&format!(
        "feed add {url} --list newsletter --interval 10s"
    )))
    .await
    .unwrap();
    assert!(!ok && err.contains("1m to 7d"), "{err}");

    let (ok, out, err) = cli(args("feed poll 1")).await.unwrap();
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "feed 1: 2 new articles (1 invalid entry skipped, see the log)\n"
    );
    let (ok, out, _) = cli(args("feed ls")).await.unwrap();
    assert!(ok && out.contains(&url) && out.contains(" 2h "), "{out}");

    let (ok, out, _) = cli(args("feed rm 1")).await.unwrap();
    assert!(ok, "{out}");
    let (ok, _, err) = cli(args("feed poll 1")).await.unwrap();
    assert!(!ok && err.contains("no feed with id 1"), "{err}");
    assert_eq!(articles(&app).await.len(), 2, "the articles stay");
}

/// A feed that redirects into the operator's network, or is there, or a name that resolves
/// there: refused, before anything is fetched from it, and `feed ls` says only "refused".
#[tokio::test]
async fn a_feed_cannot_reach_into_the_operators_network() {
    let app = app().await;
    // 127.0.0.2 stands for an internal host: loopback, and not in outbound.allow.
    let internal = HttpServer::start_on("127.0.0.2").await;
    internal.set("/internal", Route::ok(RSS_TYPE, rss()));
    let public = HttpServer::start().await;
    let target = internal.url("/internal");
    public.set("/feed.xml", Route::status(302).header("Location", &target));
    let redirected = add_feed(&app, &public.url("/feed.xml"), "newsletter").await;
    let direct = add_feed(&app, &target, "newsletter").await;
    let polled = app.poller.drain().await.unwrap();
    for id in [redirected, direct] {
        let outcome = &outcome_of(&polled, id).outcome;
        assert!(outcome.is_err(), "{outcome:?}");
        let error = feed(&app, id).await.last_error.unwrap();
        assert!(error.starts_with("refused"), "{error}");
        assert!(
            !error.contains("127.0.0.2"),
            "no detail about the host: {error}"
        );
    }
    assert!(
        internal.requests_for("/internal").is_empty(),
        "nothing was fetched from inside"
    );
    assert!(articles(&app).await.is_empty());
}

/// With nothing allowed, a host name that resolves to loopback is refused where it is
/// resolved: the address connected to is the one checked.
#[tokio::test]
async fn a_name_resolving_inside_is_refused_where_it_is_resolved() {
    let app = spawn_app_with(|s| {
        s.worker.enabled = false;
        s.delivery.enabled = false;
        s.feeds.enabled = false;
        s.outbound.allow = Vec::new();
    })
    .await;
    let server = HttpServer::start().await;
    server.set("/feed.xml", Route::ok(RSS_TYPE, rss()));
    let port = internal_port(&server.url("/feed.xml"));
    let id = add_feed(
        &app,
        &format!("http://localhost:{port}/feed.xml"),
        "newsletter",
    )
    .await;
    app.poller.drain().await.unwrap();
    let error = feed(&app, id).await.last_error.unwrap();
    assert!(error.starts_with("refused"), "{error}");
    assert!(server.requests_for("/feed.xml").is_empty());
}

fn internal_port(url: &str) -> u16 {
    url::Url::parse(url).unwrap().port().unwrap()
}
