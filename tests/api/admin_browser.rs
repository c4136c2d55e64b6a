//! The admin's pages in a real browser (headless Chromium): the first admin sets up their
//! account from the one-time link, creates a list, imports a CSV with bad rows and reads the
//! report, finds and blocks a reader, creates an editor, and the editor is kept out of the
//! admin's pages. Screenshots of each page go to `target/screenshots/`.

use crate::helpers::browser::{app_for_browser, Browser};
use crate::helpers::staff::PASSWORD;

#[tokio::test]
async fn an_admin_sets_up_imports_blocks_and_invites_an_editor_in_a_browser() {
    let Some(browser) = Browser::start(1100, 1000).await else {
        return;
    };
    let (app, base) = app_for_browser(|_| {}).await;

    // 1. The one-time set-up link `serve` logs.
    let (link, _) = iscriviti::staff::setup_link(&app.state)
        .await
        .unwrap()
        .expect("no admin yet: a set-up link");
    browser.goto(&link).await;
    browser.screenshot("admin-01-setup").await;
    browser.fill("#f-email", "direttrice@example.org").await;
    browser.click("#f-language option[value=\"en\"]").await;
    browser.fill("#f-password", PASSWORD).await;
    browser.fill("#f-password_again", PASSWORD).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_text("Sign out", 10).await;
    browser.screenshot("admin-02-dashboard").await;

    // 2. A list, with a mistake first: the error shows next to the field, the rest is kept.
    browser.goto(&format!("{base}/admin/lists/new")).await;
    browser.fill("#f-slug", "Cultura!").await;
    browser.fill("#f-name", "Cultura e società").await;
    browser
        .fill("#f-from", "Cultura <cultura@example.org>")
        .await;
    browser.click("form.card button[type=submit]").await;
    browser.find("#e-slug").await;
    let source = browser.source().await;
    assert!(
        source.contains("value=\"Cultura e società\""),
        "kept what was typed"
    );
    browser.screenshot("admin-03-list-error").await;
    browser.fill("#f-slug", "cultura").await;
    browser.click("form.card button[type=submit]").await;
    browser.wait_for_text("Saved", 10).await;

    // 3. Import a CSV with bad rows: preview, map, import, read the report.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("lettori.csv");
    std::fs::write(
        &csv,
        "E-mail,Nome\nanna@example.org,Anna Bianchi\nnon-valido,Qualcuno\n\
         luca@example.org,Luca Verdi\nàlvaro@example.org,Álvaro\n",
    )
    .unwrap();
    browser.goto(&format!("{base}/admin/import")).await;
    browser.click("#f-list option[value=\"cultura\"]").await;
    browser
        .fill("#f-source", "Iscritti alla fiera del libro")
        .await;
    browser.choose_file("#f-file", &csv).await;
    browser.screenshot("admin-04-import").await;
    browser.click("form.card button[type=submit]").await;
    browser.wait_for_text("Anna Bianchi", 10).await;
    browser.screenshot("admin-05-import-preview").await;
    browser.click("form[method=post] button[type=submit]").await;
    let report = browser.wait_for_text("Refused rows", 20).await;
    assert!(report.contains("non-valido"), "{report}");
    browser.screenshot("admin-06-import-done").await;
    assert_eq!(
        app.status_of("àlvaro@example.org", "cultura")
            .await
            .as_deref(),
        Some("confirmed")
    );

    // 4. Find a reader by name and block them.
    browser
        .goto(&format!("{base}/admin/subscribers?q=verdi"))
        .await;
    browser.click("td a[href^=\"/admin/subscribers/\"]").await;
    browser.wait_for_text("luca@example.org", 10).await;
    browser.click("form[action$=\"/block\"] button").await;
    browser.wait_for_text("Unblock", 10).await;
    browser.screenshot("admin-07-subscriber-blocked").await;

    // The same pages in Italian: the switch in the header is kept for the account.
    browser.click("button[value=\"it\"]").await;
    browser.wait_for_text("Esci", 10).await;
    browser.screenshot("admin-07-subscriber-blocked-it").await;
    browser.goto(&format!("{base}/admin")).await;
    browser.wait_for_text("Riepilogo", 10).await;
    browser.screenshot("admin-02-dashboard-it").await;
    browser.click("button[value=\"en\"]").await;
    browser.wait_for_text("Sign out", 10).await;

    // 5. An editor account: the page shows a one-time link for them.
    browser.goto(&format!("{base}/admin/users")).await;
    browser.fill("#f-email", "redattore@example.org").await;
    browser.click("form[action=\"/admin/users\"] button").await;
    let editor_link = browser.value("input.copy").await;
    assert!(
        editor_link.starts_with(&format!("{base}/admin/link/")),
        "{editor_link}"
    );
    browser.screenshot("admin-08-users").await;

    // 6. Signed out, the editor chooses a password from the link and is kept out of admin
    // pages.
    browser.click("form[action=\"/admin/logout\"] button").await;
    browser.wait_for_text("Sign in", 10).await;
    browser.goto(&editor_link).await;
    browser
        .fill("#f-password", "la redazione lavora di notte")
        .await;
    browser
        .fill("#f-password_again", "la redazione lavora di notte")
        .await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_text("Sign out", 10).await;
    browser.screenshot("admin-09-editor-dashboard").await;
    let page = browser.source().await;
    for admin_only in [
        "/admin/subscribers",
        "/admin/lists",
        "/admin/users",
        "/admin/import",
    ] {
        assert!(
            !page.contains(&format!("href=\"{admin_only}")),
            "an editor is offered no link to {admin_only}"
        );
    }
    browser.goto(&format!("{base}/admin/subscribers")).await;
    browser.wait_for_text("This page is for admins", 10).await;
    browser.screenshot("admin-10-editor-refused").await;

    // 7. On a phone.
    browser.resize(390, 844).await;
    browser.goto(&format!("{base}/admin/account")).await;
    browser.screenshot("admin-11-phone-account").await;
    browser.quit().await;
}
