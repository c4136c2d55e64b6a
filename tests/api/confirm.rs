use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn opening_the_link_shows_a_button_and_confirms_nobody() {
    let app = spawn_app().await;
    let path = app
        .pending_signup("scanner@example.org", "newsletter")
        .await;
    for _ in 0..3 {
        let res = app.get(&path).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert!(html.contains(r#"<form method="post" action="/confirm">"#));
    }
    assert_eq!(
        app.status_of("scanner@example.org", "newsletter")
            .await
            .as_deref(),
        Some("pending")
    );
}

#[tokio::test]
async fn posting_the_link_confirms_and_posting_it_again_changes_nothing() {
    let app = spawn_app().await;
    let path = app
        .pending_signup("conferma@example.org", "newsletter")
        .await;
    let token = path
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    for expected in ["Subscription confirmed", "Already confirmed"] {
        let res = app
            .post_form("/confirm?lang=en", &format!("token={token}"))
            .await;
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains(expected));
    }
    assert_eq!(
        app.status_of("conferma@example.org", "newsletter")
            .await
            .as_deref(),
        Some("confirmed")
    );
    // The used link still opens a page rather than an error, and says it was used.
    let res = app.get(&path).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Già confermata"));
}

#[tokio::test]
async fn an_expired_link_is_refused_and_confirms_nothing() {
    let app = spawn_app_with(|s| s.signup.confirm_ttl_secs = iscriviti::config::Secs::new(1)).await;
    let path = app.pending_signup("tardi@example.org", "newsletter").await;
    let token = path
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    crate::helpers::eventually(10, "the link to expire", || async {
        app.get(&path).await.status() == 410
    })
    .await;
    let res = app.get(&path).await;
    assert_eq!(res.status(), 410);
    assert!(res.text().await.unwrap().contains("Il link è scaduto"));
    let res = app.post_form("/confirm", &format!("token={token}")).await;
    assert_eq!(res.status(), 410);
    assert_eq!(
        app.status_of("tardi@example.org", "newsletter")
            .await
            .as_deref(),
        Some("pending")
    );
}

#[tokio::test]
async fn unknown_or_malformed_tokens_are_refused() {
    let app = spawn_app().await;
    let unknown = iscriviti::domain::Token::generate();
    let res = app
        .get(&format!("/confirm?token={}", unknown.expose()))
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.get("/confirm?token=short").await.status(), 400);
    assert_eq!(app.get("/confirm").await.status(), 400);
    let res = app
        .post_form("/confirm", &format!("token={}", unknown.expose()))
        .await;
    assert_eq!(res.status(), 404);
}
