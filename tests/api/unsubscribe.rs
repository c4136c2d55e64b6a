use crate::helpers::spawn_app;

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
