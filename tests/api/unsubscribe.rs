use crate::helpers::{html_unescape, spawn_app};

#[tokio::test]
async fn the_unsubscribe_page_changes_nothing_and_its_button_unsubscribes() {
    let app = spawn_app().await;
    let (sid, lid) = app
        .confirmed_subscriber("lascia@example.org", "newsletter")
        .await;
    let path = app.path_of(&app.state.links.unsubscribe(sid, lid));

    let res = app.get(&path).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Newsletter"));
    assert_eq!(
        app.status_of("lascia@example.org", "newsletter")
            .await
            .as_deref(),
        Some("confirmed")
    );

    let res = app.post_form(&path, "").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Iscrizione annullata"));
    assert_eq!(
        app.status_of("lascia@example.org", "newsletter")
            .await
            .as_deref(),
        Some("unsubscribed")
    );
}

#[tokio::test]
async fn rfc_8058_one_click_post_unsubscribes_with_200_and_no_redirect_or_cookie() {
    let app = spawn_app().await;
    let (sid, lid) = app
        .confirmed_subscriber("oneclick@example.org", "newsletter")
        .await;
    let path = app.path_of(&app.state.links.unsubscribe(sid, lid));
    for content_type in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=XyZ",
    ] {
        let body = if content_type.starts_with("multipart") {
            "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n".to_owned()
        } else {
            "List-Unsubscribe=One-Click".to_owned()
        };
        let res = app
            .client
            .post(format!("{}{path}", app.address))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(res.headers().get("set-cookie").is_none());
        assert!(res.headers().get("location").is_none());
        assert_eq!(
            res.status(),
            200,
            "{content_type}: {}",
            res.text().await.unwrap()
        );
    }
    assert_eq!(
        app.status_of("oneclick@example.org", "newsletter")
            .await
            .as_deref(),
        Some("unsubscribed")
    );
}

#[tokio::test]
async fn a_tampered_unsubscribe_link_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let (sid, lid) = app
        .confirmed_subscriber("integra@example.org", "newsletter")
        .await;
    let genuine = app.path_of(&app.state.links.unsubscribe(sid, lid));
    let forged = genuine.replacen(&format!("/{sid}."), &format!("/{}.", sid + 1), 1);
    assert_eq!(
        app.post_form(&forged, "List-Unsubscribe=One-Click")
            .await
            .status(),
        404
    );
    assert_eq!(app.get("/unsubscribe/not-a-link").await.status(), 404);
    assert_eq!(
        app.status_of("integra@example.org", "newsletter")
            .await
            .as_deref(),
        Some("confirmed")
    );
}

/// Pages reached from a reader's own link speak the reader's language (not the browser's),
/// and offer a switch to the other one.
#[tokio::test]
async fn the_unsubscribe_page_speaks_the_readers_language_with_a_switch() {
    let app = spawn_app().await;
    let (sid, lid) = app
        .confirmed_subscriber("lingua@example.org", "newsletter")
        .await;
    let path = app.path_of(&app.state.links.unsubscribe(sid, lid));
    let english_browser = |path: String| {
        app.client
            .get(format!("{}{path}", app.address))
            .header("Accept-Language", "en-GB,en;q=0.9")
            .send()
    };
    let page = |res: reqwest::Response| async { html_unescape(&res.text().await.unwrap()) };
    let html = page(english_browser(path.clone()).await.unwrap()).await;
    assert!(html.contains(r#"<html lang="it">"#), "{html}");
    assert!(html.contains("<h1>Annulla l’iscrizione</h1>"), "{html}");
    let switch = format!(r#"href="{path}?lang=en""#);
    assert!(html.contains(&switch), "a link to the English page: {html}");

    let html = page(english_browser(format!("{path}?lang=en")).await.unwrap()).await;
    assert!(html.contains(r#"<html lang="en">"#));
    assert!(
        html.contains(&format!(r#"action="{path}?lang=en""#)),
        "the button keeps the chosen language: {html}"
    );

    let prefs = app.path_of(&app.state.links.preferences(sid));
    let html = page(english_browser(prefs).await.unwrap()).await;
    assert!(html.contains(r#"<html lang="it">"#));
    assert!(html.contains(r#"hreflang="en""#));
}
