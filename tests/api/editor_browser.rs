//! The editor's week in a real browser (headless Chromium), on the harness of the admin's
//! browser test: a reader subscribes on the public form and confirms from the mail; an editor
//! adds an article from its page, composes a digest, previews it, sends a test, sends it and
//! watches the progress reach 100%; the reader gets it and unsubscribes from it; the public
//! archive shows it. Screenshots of each page go to `target/screenshots/`.

use iscriviti::domain::Role;

use crate::helpers::browser::{app_for_browser, Browser};
use crate::helpers::http::{HttpServer, Route};
use crate::helpers::staff::PASSWORD;
use crate::helpers::{confirm_link, eventually};

/// The article's image: a picture of our own, drawn.
const IMAGE: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="496" height="200" viewBox="0 0 496 200"><rect width="496" height="200" fill="#0b5cad"/><rect x="40" y="110" width="120" height="50" fill="#e4572e"/><rect x="170" y="110" width="120" height="50" fill="#f3a712"/><rect x="300" y="110" width="120" height="50" fill="#29335c"/><text x="40" y="70" font-size="28" fill="#fff" font-family="sans-serif">Porto di Genova</text></svg>"##;

const ARTICLE: &str = r#"<!doctype html><html lang="it"><head><meta charset="utf-8">
<meta property="og:title" content="Porto e ferrovie: un’intesa “storica” per il Nord">
<meta property="og:description" content="Le due società hanno annunciato l’accordo «solo ieri»: più treni merci, meno camion.">
<meta property="og:image" content="/img/porto.svg">
<meta property="og:image:alt" content="Container al porto di Genova">
<meta name="author" content="Niccolò Ferrè"></head><body>Testo</body></html>"#;

#[tokio::test]
async fn a_reader_subscribes_an_editor_sends_a_digest_the_reader_leaves_and_the_archive_shows_it() {
    let Some(browser) = Browser::start(1280, 1000).await else {
        return;
    };
    // The article's page is served on 127.0.0.1: allowed as an operator allows an intranet.
    let (app, base) = app_for_browser(|s| {
        s.outbound.allow = vec![iscriviti::outbound::Allowed::parse("127.0.0.1").unwrap()];
    })
    .await;
    // The list publishes its archive (an admin's choice, made on the list's page).
    let admin = app.staff("direttrice@example.org", Role::Admin).await;
    let list_form = "name=Newsletter&description=Le+notizie+della+settimana&public=on\
        &double_opt_in=on&public_archive=on&language=it&from=Redazione+%3Cnews%40example.org%3E\
        &reply_to=&cadence=&time_zone=Europe%2FRome";
    assert_eq!(
        admin
            .post("/admin/lists/newsletter", list_form)
            .await
            .status(),
        303
    );

    // 1. A reader subscribes on the public form and confirms from the mail.
    browser.goto(&format!("{base}/?lang=it")).await;
    browser.fill("#email", "giulia@example.org").await;
    browser.fill("#name", "Giulia Ferrè").await;
    browser.screenshot("editor-01-signup").await;
    browser
        .click("form[action=\"/subscribe\"] button[type=submit]")
        .await;
    browser.wait_for_text("e-mail", 10).await;
    let mails = app.mails(1).await;
    browser.goto(&confirm_link(&mails[0])).await;
    browser.click("form[action=\"/confirm\"] button").await;
    eventually(10, "the reader is confirmed", || async {
        app.status_of("giulia@example.org", "newsletter")
            .await
            .as_deref()
            == Some("confirmed")
    })
    .await;
    browser.screenshot("editor-02-confirmed").await;

    // 2. The editor signs in and adds an article from its page.
    app.staff_account("redazione@example.org", Role::Editor)
        .await;
    browser.goto(&format!("{base}/admin/login?lang=en")).await;
    browser.fill("#f-email", "redazione@example.org").await;
    browser.fill("#f-password", PASSWORD).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_text("Sign out", 10).await;
    let server = HttpServer::start().await;
    server.set("/porto", Route::ok("text/html; charset=utf-8", ARTICLE));
    server.set("/img/porto.svg", Route::ok("image/svg+xml", IMAGE));
    browser.goto(&format!("{base}/admin/articles/new")).await;
    browser.fill("#f-url", &server.url("/porto")).await;
    browser.click("button[name=\"fill\"]").await;
    browser.wait_for_text("Read from the page", 10).await;
    assert_eq!(
        browser.value("#f-title").await,
        "Porto e ferrovie: un’intesa “storica” per il Nord"
    );
    assert_eq!(
        browser.value("#f-image_alt").await,
        "Container al porto di Genova"
    );
    browser.screenshot("editor-03-article-filled").await;
    browser
        .click("form.card > button[type=submit]:last-of-type")
        .await;
    browser.wait_for_text("Article added", 10).await;
    browser.screenshot("editor-04-articles").await;

    // Compose: the new article comes ticked; an introduction in Markdown.
    browser
        .goto(&format!("{base}/admin/digests/new?list=newsletter"))
        .await;
    browser.find("input[name=\"article\"][checked]").await;
    browser
        .fill("#f-subject", "Le notizie della settimana")
        .await;
    browser
        .fill(
            "#f-intro",
            "Buongiorno! Questa settimana **una notizia sola**, ma importante.",
        )
        .await;
    browser.screenshot("editor-05-compose").await;
    browser.click("form.card button[type=submit]").await;
    browser.wait_for_text("Preview", 10).await;
    let page = browser.text().await;
    assert!(
        page.contains("Buongiorno! Questa settimana **una notizia sola**"),
        "{page}"
    );
    browser.screenshot("editor-06-draft").await;
    // The preview follows what is typed, without the Save button.
    browser
        .fill(
            "#f-intro",
            "Buongiorno! Questa settimana **una notizia sola**, ma importante. Buona lettura!",
        )
        .await;
    browser
        .wait_for_text("importante. Buona lettura!", 10)
        .await;
    let draft = browser.url().await;
    browser.goto(&format!("{draft}#preview")).await;
    browser.screenshot("editor-06-preview").await;

    // A test to the editor's own address.
    browser.click("form[action$=\"/test\"] button").await;
    browser.wait_for_text("A test copy is on its way", 10).await;
    let mails = app.mails(2).await;
    assert_eq!(mails[1].rcpt_to, vec!["redazione@example.org".to_owned()]);

    // The confirmation states the audience; send; the progress reaches 100%.
    browser.click("a[href$=\"/send\"]").await;
    browser
        .wait_for_text("It goes to 1 confirmed readers of Newsletter", 10)
        .await;
    browser.screenshot("editor-07-send-confirm").await;
    browser.click("#send-now").await;
    browser.wait_for_text("100%", 20).await;
    eventually(20, "the page shows the digest sent", || async {
        browser.source().await.contains("class=\"tag digest-sent\"")
    })
    .await;
    browser.screenshot("editor-08-progress-done").await;
    browser.click("a[href$=\"/deliveries\"]").await;
    browser.wait_for_text("giulia@example.org", 10).await;
    browser.screenshot("editor-09-delivery-log").await;

    // 3. The reader gets it, and unsubscribes from it.
    let mails = app.mails(3).await;
    let digest = mails
        .iter()
        .find(|m| {
            m.rcpt_to == vec!["giulia@example.org".to_owned()]
                && m.parsed()
                    .subject()
                    .is_some_and(|s| s.contains("settimana"))
        })
        .expect("the reader's digest");
    let text = digest.parsed().body_text(0).unwrap().into_owned();
    assert!(
        text.contains("Giulia Ferrè") && text.contains("Porto e ferrovie"),
        "{text}"
    );
    let unsubscribe = text
        .split_whitespace()
        .find(|w| w.contains("/unsubscribe/"))
        .expect("an unsubscribe link")
        .to_owned();
    browser.goto(&unsubscribe).await;
    browser.screenshot("editor-10-unsubscribe").await;
    browser
        .click("form[action^=\"/unsubscribe/\"] button")
        .await;
    eventually(10, "the reader has left", || async {
        app.status_of("giulia@example.org", "newsletter")
            .await
            .as_deref()
            == Some("unsubscribed")
    })
    .await;

    // 4. The archive shows the digest, with the way to subscribe.
    browser.goto(&format!("{base}/archive/newsletter")).await;
    browser
        .wait_for_text("Le notizie della settimana", 10)
        .await;
    browser.screenshot("editor-11-archive").await;
    browser.click("ul.archive a").await;
    browser.wait_for_text("Porto e ferrovie", 10).await;
    let page = browser.text().await;
    assert!(
        !page.contains("Giulia") && !page.contains("giulia@"),
        "{page}"
    );
    browser.screenshot("editor-12-archive-digest").await;

    // The editor's pages in Italian, and on a phone.
    browser.goto(&format!("{base}/admin/digests")).await;
    browser.click("button[value=\"it\"]").await;
    browser.wait_for_text("Esci", 10).await;
    browser.screenshot("editor-13-history-it").await;
    browser.click("td a[href^=\"/admin/digests/\"]").await;
    browser.wait_for_text("100%", 10).await;
    browser.screenshot("editor-14-progress-it").await;
    browser.goto(&format!("{base}/admin/digests/new")).await;
    browser.screenshot("editor-15-new-digest-it").await;
    browser
        .click("a[href=\"/admin/digests/new?list=newsletter\"]")
        .await;
    browser.wait_for_text("Nuovo digest", 10).await;
    // Nothing new since the digest: nothing ticked, and a blank subject (spaces pass the
    // browser's check, not the server's).
    browser.fill("#f-subject", "   ").await;
    browser.click("form.card button[type=submit]").await;
    browser.wait_for_text("Spunta almeno un articolo", 10).await;
    browser.screenshot("editor-16-compose-errors-it").await;
    browser.goto(&format!("{base}/admin/articles")).await;
    browser.screenshot("editor-17-articles-it").await;
    browser.click("td a[href^=\"/admin/articles/\"]").await;
    browser.wait_for_text("Modifica l'articolo", 10).await;
    browser.screenshot("editor-18-article-edit-it").await;
    // A feed that answers 404: its error shows on the list and on its page.
    browser.goto(&format!("{base}/admin/feeds")).await;
    browser.fill("#f-url", &server.url("/feed.xml")).await;
    browser
        .click("form[action=\"/admin/feeds\"] button[type=submit]")
        .await;
    browser.wait_for_text("Feed aggiunto", 10).await;
    browser.click("form[action$=\"/fetch\"] button").await;
    browser.wait_for_text("HTTP 404", 10).await;
    browser.screenshot("editor-19-feeds-it").await;
    browser.click("td a[href^=\"/admin/feeds/\"]").await;
    browser.wait_for_text("Ultima lettura riuscita", 10).await;
    browser.screenshot("editor-20-feed-it").await;
    browser
        .goto(&format!("{base}/admin/digests/1/deliveries?outcome=sent"))
        .await;
    browser.screenshot("editor-21-delivery-log-it").await;
    browser.resize(390, 844).await;
    browser.goto(&format!("{base}/admin")).await;
    browser.screenshot("editor-22-phone-dashboard-it").await;
    browser.quit().await;
}
