//! A real browser for the admin pages: headless Chromium driven over the W3C WebDriver
//! protocol by `chromedriver`, with a small client written on `reqwest` (no extra crate).
//!
//! Without `chromedriver` on the PATH the browser tests are skipped with a message, unless
//! `ISCRIVITI_REQUIRE_BROWSER` is set (as CI sets it), when its absence is a failure.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    /// `http://127.0.0.1:{port}/session/{id}`.
    session: String,
    shots: PathBuf,
}

/// A free TCP port on 127.0.0.1 (closed again before it is used).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width`×`height`; `None` (after saying
    /// why) when chromedriver is not installed and no one asked for the browser tests.
    pub async fn start(width: u32, height: u32) -> Option<Self> {
        let Some(driver_bin) = find_on_path("chromedriver") else {
            assert!(
                std::env::var_os("ISCRIVITI_REQUIRE_BROWSER").is_none(),
                "ISCRIVITI_REQUIRE_BROWSER is set but chromedriver is not on the PATH"
            );
            eprintln!("skipped: chromedriver is not installed (apt-get install chromium-driver)");
            return None;
        };
        let port = free_port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http.get(format!("{base}/status")).send().await;
            if let Ok(res) = ready {
                let status: Value = res.json().await.unwrap_or_default();
                if status["value"]["ready"] == true {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver answers");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut options = json!({
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-sync",
                "--disable-component-update", format!("--window-size={width},{height}"),
            ]
        });
        if let Some(chromium) = find_on_path("chromium") {
            options["binary"] = json!(chromium);
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
        }}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("a browser session")
            .json()
            .await
            .unwrap();
        let id = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a browser session: {res}"))
            .to_owned();
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Some(Browser {
            driver,
            http,
            session: format!("{base}/session/{id}"),
            shots,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.session);
        let mut req = self.http.request(method, &url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        if let Some(error) = res["value"]["error"].as_str() {
            panic!("WebDriver {path}: {error}: {}", res["value"]["message"]);
        }
        res["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn url(&self) -> String {
        let v = self.call(reqwest::Method::GET, "/url", None).await;
        v.as_str().unwrap().to_owned()
    }

    /// The page's HTML as the browser now holds it.
    pub async fn source(&self) -> String {
        let v = self.call(reqwest::Method::GET, "/source", None).await;
        v.as_str().unwrap().to_owned()
    }

    /// The text the page shows (`document.body.innerText`).
    pub async fn text(&self) -> String {
        let v = self
            .post(
                "/execute/sync",
                json!({"script": "return document.body.innerText", "args": []}),
            )
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// The value of the form field of `css`.
    pub async fn value(&self, css: &str) -> String {
        self.find(css).await;
        let v = self
            .post(
                "/execute/sync",
                json!({"script": "return document.querySelector(arguments[0]).value", "args": [css]}),
            )
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// The element of a CSS selector (waiting up to 5 s for it to appear).
    pub async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let url = format!("{}/element", self.session);
            let res: Value = self
                .http
                .post(&url)
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(id) = res["value"][ELEMENT].as_str() {
                return id.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} on {}: {res}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types `text` into the field of `css` (after clearing it).
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.post(&format!("/element/{el}/clear"), json!({})).await;
        self.post(&format!("/element/{el}/value"), json!({ "text": text }))
            .await;
    }

    /// Chooses a local file in the file input of `css`.
    pub async fn choose_file(&self, css: &str, path: &std::path::Path) {
        let el = self.find(css).await;
        let text = path.to_str().unwrap();
        self.post(&format!("/element/{el}/value"), json!({ "text": text }))
            .await;
    }

    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.post(&format!("/element/{el}/click"), json!({})).await;
    }

    /// Waits until the page's text contains `needle` (a page that reloads itself, or a
    /// form's answer), up to `secs`.
    pub async fn wait_for_text(&self, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "\"{needle}\" never showed on {}: {text}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Saves a screenshot of the window as `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) {
        use base64::Engine;
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await;
    }

    /// Ends the browser session and the driver.
    pub async fn quit(mut self) {
        let _ = self.http.delete(&self.session).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failed test still leaves no driver behind (its Chromium exits with it).
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// An app the browser reaches over plain HTTP at its own address: the links it is given must
/// point there, and the session cookie must not be Secure-only. Returns it and that address.
pub async fn app_for_browser(
    customize: impl FnOnce(&mut iscriviti::config::Settings),
) -> (super::TestApp, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let app = super::spawn_app_with(|s| {
        s.bind = format!("127.0.0.1:{port}").parse().unwrap();
        s.base_url = base.parse().unwrap();
        customize(s);
    })
    .await;
    assert_eq!(app.address, base);
    (app, base)
}
