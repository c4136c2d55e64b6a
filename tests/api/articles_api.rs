//! `POST /api/articles`: editors (or their CMS) add articles over HTTP.

use iscriviti::config::Secret;
use iscriviti::db;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

const TOKEN: &str = "una-chiave-segreta-di-prova-abbastanza-lunga";

async fn app() -> TestApp {
    spawn_app_with(|s| s.api_token = Some(Secret::new(TOKEN.into()))).await
}

async fn post(app: &TestApp, token: Option<&str>, ct: &str, body: &str) -> reqwest::Response {
    let mut req = app
        .client
        .post(format!("{}/api/articles", app.address))
        .header("Content-Type", ct)
        .body(body.to_owned());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn error_of(res: reqwest::Response) -> String {
    let v: Value = res.json().await.expect("a JSON error");
    v["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_article_added_over_http_keeps_its_italian_text_and_is_added_once() {
    let app = app().await;
    let article = json!({
        "title": "L’Italia e il “nuovo” patto: più lavoro, è così",
        "url": "https://www.example.org/patto",
        "author": "Niccolò Ferrè",
        "published_at": "2026-11-27T18:30:00+01:00",
        "summary": "«Perché» è già così.",
        "language": "it",
        "image_url": "https://www.example.org/patto.jpg",
        "list": "newsletter"
    })
    .to_string();
    let res = post(&app, Some(TOKEN), "application/json", &article).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "added");

    let stored = app.db(|c| db::articles::latest(c, 10)).await;
    assert_eq!(stored.len(), 1);
    let a = &stored[0];
    assert_eq!(a.title, "L’Italia e il “nuovo” patto: più lavoro, è così");
    assert_eq!(a.author.as_deref(), Some("Niccolò Ferrè"));
    assert_eq!(a.summary, "«Perché» è già così.");
    assert_eq!(
        a.published_at.to_string(),
        "2026-11-27 17:30:00",
        "stored as UTC"
    );
    assert_eq!(a.list_id, Some(1));
    assert_eq!(
        a.image_url.as_deref(),
        Some("https://www.example.org/patto.jpg")
    );

    // The same article again (a CMS retrying) changes nothing.
    let again = post(&app, Some(TOKEN), "application/json", &article).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["status"], "exists");
    assert_eq!(app.count("articles").await, 1);
}

#[tokio::test]
async fn bad_requests_get_a_clear_json_error_and_write_nothing() {
    let app = app().await;
    let good = json!({"title": "t", "url": "https://www.example.org/a"}).to_string();
    let cases: Vec<(Option<&str>, &str, String, u16, &str)> = vec![
        (None, "application/json", good.clone(), 401, "bearer token"),
        (
            Some("wrong-token"),
            "application/json",
            good.clone(),
            401,
            "bearer token",
        ),
        (
            Some(TOKEN),
            "text/plain",
            good.clone(),
            415,
            "application/json",
        ),
        (
            Some(TOKEN),
            "application/json",
            "{\"title\":".into(),
            400,
            "invalid JSON",
        ),
        (
            Some(TOKEN),
            "application/json",
            json!({"title": "t", "url": "https://x.org/", "sumary": "typo"}).to_string(),
            400,
            "unknown field",
        ),
        (
            Some(TOKEN),
            "application/json",
            json!({"title": "", "url": "https://x.org/"}).to_string(),
            422,
            "title",
        ),
        (
            Some(TOKEN),
            "application/json",
            json!({"title": "t", "url": "javascript:alert(1)"}).to_string(),
            422,
            "http(s)",
        ),
        (
            Some(TOKEN),
            "application/json",
            json!({"title": "t", "url": "https://x.org/", "published_at": "ieri"}).to_string(),
            422,
            "RFC 3339",
        ),
        (
            Some(TOKEN),
            "application/json",
            json!({"title": "t", "url": "https://x.org/", "list": "non-esiste"}).to_string(),
            422,
            "no list",
        ),
        (
            Some(TOKEN),
            "application/json",
            json!({"title": "t", "url": "https://x.org/", "language": "fr"}).to_string(),
            422,
            "language",
        ),
        (
            Some(TOKEN),
            "application/json",
            json!({"title": "t", "url": "https://x.org/", "summary": "x".repeat(70_000)})
                .to_string(),
            413,
            "",
        ),
    ];
    for (token, ct, body, status, says) in cases {
        let res = post(&app, token, ct, &body).await;
        assert_eq!(
            res.status().as_u16(),
            status,
            "{ct} {}",
            &body[..body.len().min(80)]
        );
        if status != 413 {
            let error = error_of(res).await;
            assert!(error.contains(says), "{error:?} should mention {says:?}");
        }
    }
    assert_eq!(app.count("articles").await, 0);
}

#[tokio::test]
async fn without_a_token_the_api_is_off() {
    let app = spawn_app().await;
    let res = post(
        &app,
        Some("anything"),
        "application/json",
        &json!({"title": "t", "url": "https://x.org/"}).to_string(),
    )
    .await;
    assert_eq!(res.status(), 404);
    assert!(error_of(res).await.contains("ISCRIVITI_API_TOKEN"));
    assert_eq!(app.count("articles").await, 0);
}
