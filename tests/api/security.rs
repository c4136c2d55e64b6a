//! What the service says about its responses, and what it refuses to do for a stranger.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{html_unescape, spawn_app, spawn_app_with};

/// Every page: a CSP that allows no inline script or style and no framing, nosniff, no
/// referrer; pages that show a reader's data are kept by no cache.
#[tokio::test]
async fn pages_send_security_headers_and_private_ones_are_not_cached() {
    let app = spawn_app().await;
    let (sid, lid) = app
        .confirmed_subscriber("intestazioni@example.org", "newsletter")
        .await;
    let private = [
        app.path_of(&app.state.links.unsubscribe(sid, lid)),
        app.path_of(&app.state.links.preferences(sid)),
        "/admin/login".to_owned(),
    ];
    for path in ["/".to_owned(), "/no-such-page".to_owned()]
        .iter()
        .chain(&private)
    {
        let res = app.get(path).await;
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        let no_store = h.get("cache-control").is_some_and(|v| v == "no-store");
        assert_eq!(no_store, private.contains(path), "{path}");
    }
    let html = html_unescape(&app.get("/").await.text().await.unwrap());
    assert!(
        !html.contains("<style") && !html.contains("style=\""),
        "no inline style"
    );
    let css_link = html
        .split("href=\"")
        .find_map(|rest| rest.split('"').next().filter(|h| h.starts_with("/static/")))
        .expect("a style sheet")
        .to_owned();
    let css = app.get(&css_link).await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
}

/// The editors' API checks the token before it reads a byte of the body: a stranger cannot
/// make it wait for (or hold) 64 KiB.
#[tokio::test]
async fn the_api_refuses_a_wrong_token_without_reading_the_body() {
    let app = spawn_app_with(|s| {
        s.api_token = Some(iscriviti::config::Secret::new("t".repeat(32)));
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    // A body is announced and never sent.
    let head = format!(
        "POST /api/articles HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer wrong\r\n\
         Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}
