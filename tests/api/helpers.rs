//! The test harness: `spawn_app`, a test database per test, and an SMTP sink.

pub mod browser;
pub mod dkim;
pub mod http;
pub mod smtp;
pub mod staff;

use std::time::Duration;

use actix_web::web;
use diesel::{Connection, RunQueryDsl};
use iscriviti::config::{Settings, SmtpUrl};
use iscriviti::db::{self, DbConnection};
use iscriviti::delivery::{DigestEngine, OutboxWorker};
use iscriviti::feeds::FeedPoller;
use iscriviti::routes::AppState;
use iscriviti::startup::Application;
pub use smtp::{Received, SmtpMode, SmtpSink};

/// The public base URL the app is told it has; links in mail start with it.
pub const BASE_URL: &str = "https://news.example.org";

/// A running app with its own database and SMTP sink.
pub struct TestApp {
    pub address: String,
    pub state: web::Data<AppState>,
    pub worker: OutboxWorker,
    pub engine: DigestEngine,
    pub poller: FeedPoller,
    pub smtp: SmtpSink,
    pub client: reqwest::Client,
    pub db_url: String,
    _db: TestDb,
    _uploads: tempfile::TempDir,
}

/// Starts the app with the test defaults.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the app after `customize` has adjusted the test settings.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let smtp = SmtpSink::start().await;
    spawn_app_with_sink(smtp, customize).await
}

/// Starts the app sending to an already-chosen sink (which may be down).
/// An app whose outbox worker and digest engine do not run: the test (or a child process)
/// does the sending.
pub async fn spawn_app_without_workers() -> TestApp {
    spawn_app_with(|s| {
        s.worker.enabled = false;
        s.delivery.enabled = false;
    })
    .await
}

pub async fn spawn_app_with_sink(smtp: SmtpSink, customize: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDb::create();
    let mut settings = Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        base_url: BASE_URL.parse().unwrap(),
        database_url: iscriviti::config::Secret::new(db.url.clone()),
        ..Settings::default()
    };
    settings.mail.smtp_url =
        Some(SmtpUrl::parse(&format!("smtp://127.0.0.1:{}", smtp.port())).unwrap());
    settings.mail.from = "Redazione <redazione@example.org>".parse().unwrap();
    settings.mail.send_timeout_secs = 5u64.try_into().unwrap();
    settings.signup.per_ip_per_minute = 0;
    // The test servers listen on 127.0.0.1: allowed as an operator allows an intranet host.
    settings.outbound.allow = vec![iscriviti::outbound::Allowed::parse("127.0.0.1").unwrap()];
    settings.worker.poll_interval_ms = 50u64.try_into().unwrap();
    settings.worker.retry_base_ms = 100u64.try_into().unwrap();
    settings.worker.retry_max_ms = 400u64.try_into().unwrap();
    let uploads = tempfile::tempdir().unwrap();
    settings.staff.upload_dir = uploads.path().to_owned();
    customize(&mut settings);
    let app = Application::build(settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let (state, worker, engine, poller) = (app.state(), app.worker(), app.engine(), app.poller());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        state,
        worker,
        engine,
        poller,
        smtp,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db_url: db.url.clone(),
        _db: db,
        _uploads: uploads,
    }
}

impl TestApp {
    /// POSTs a form to `path`.
    pub async fn post_form(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// GETs `path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
    }

    /// Signs up through the HTML form.
    pub async fn subscribe(&self, email: &str, lists: &[&str]) -> reqwest::Response {
        let mut body = format!("email={}&name=Niccol%C3%B2&lang=it", urlencode(email));
        for l in lists {
            body.push_str(&format!("&lists={l}"));
        }
        self.post_form("/subscribe", &body).await
    }

    /// Turns a link from a mail into a path on this test server.
    pub fn path_of(&self, link: &str) -> String {
        link.strip_prefix(BASE_URL)
            .expect("links start with the base URL")
            .to_owned()
    }

    /// Runs `f` on a pooled connection.
    pub async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<T> + Send + 'static,
    ) -> T {
        db::run(&self.state.pool, move |c| Ok::<_, db::DbError>(f(c)?))
            .await
            .unwrap()
    }

    /// How many rows `table` has.
    pub async fn count(&self, table: &'static str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        self.db(move |c| {
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result::<N>(c)
        })
        .await
        .n
    }

    /// How many rows of `table` match `condition` (SQL).
    pub async fn count_where(&self, table: &'static str, condition: &'static str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        self.db(move |c| {
            diesel::sql_query(format!(
                "SELECT COUNT(*) AS n FROM {table} WHERE {condition}"
            ))
            .get_result::<N>(c)
        })
        .await
        .n
    }

    /// Checks a digest's counts (what progress is read from) against its delivery rows.
    pub async fn assert_counts_match_rows(&self, digest_id: i64) {
        let rows = self
            .db(move |c| db::deliveries::of_digest(c, digest_id))
            .await;
        let count = |s: &str| rows.iter().filter(|r| r.status.as_str() == s).count() as i64;
        let p = iscriviti::digests::status(&self.state.pool, digest_id)
            .await
            .unwrap()
            .1;
        assert_eq!(
            (p.sent, p.failed, p.skipped),
            (count("sent"), count("failed"), count("skipped")),
            "counts against rows: {rows:?}"
        );
    }

    /// Every (table, column) of the database whose text holds `needle`.
    pub async fn columns_holding(&self, needle: &'static str) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Column {
            #[diesel(sql_type = diesel::sql_types::Text)]
            table_name: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            column_name: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            data_type: String,
        }
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        self.db(move |c| {
            let pg = matches!(c, DbConnection::Pg(_));
            let columns: Vec<Column> = match pg {
                true => diesel::sql_query(
                    "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                     data_type::text AS data_type FROM information_schema.columns \
                     WHERE table_schema = 'public'",
                )
                .load(c)?,
                false => diesel::sql_query(
                    "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type \
                     FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'",
                )
                .load(c)?,
            };
            assert!(columns.len() > 40, "every table's columns were listed");
            let mut found = Vec::new();
            for col in columns {
                let text = match (pg, col.data_type.as_str()) {
                    (true, "bytea") => format!("encode(\"{}\", 'escape')", col.column_name),
                    _ => format!("CAST(\"{}\" AS TEXT)", col.column_name),
                };
                let sql = format!(
                    "SELECT COUNT(*) AS n FROM \"{}\" WHERE {text} LIKE '%{needle}%'",
                    col.table_name
                );
                if diesel::sql_query(sql).get_result::<N>(c)?.n > 0 {
                    found.push(format!("{}.{}", col.table_name, col.column_name));
                }
            }
            Ok(found)
        })
        .await
    }

    /// The one subscription status of `email` on `list`.
    pub async fn status_of(&self, email: &'static str, list: &'static str) -> Option<String> {
        self.db(move |c| {
            let Some(s) = db::subscribers::by_email(c, email)? else {
                return Ok(None);
            };
            let l = db::lists::by_slug(c, list)?.unwrap();
            Ok(db::subscribers::subscriptions_of(c, s.id)?
                .into_iter()
                .find(|x| x.list_id == l.id)
                .map(|x| x.status.as_str().to_owned()))
        })
        .await
    }

    /// Waits for `n` messages in the sink.
    pub async fn mails(&self, n: usize) -> Vec<Received> {
        self.smtp.wait_for(n, Duration::from_secs(15)).await
    }

    /// Signs up and returns the confirmation link's path from the mail.
    pub async fn pending_signup(&self, email: &str, list: &str) -> String {
        let before = self.smtp.received().len();
        assert_eq!(self.subscribe(email, &[list]).await.status(), 200);
        // Tests that stop the background worker deliver here instead.
        self.worker.drain().await.unwrap();
        let mails = self.mails(before + 1).await;
        self.path_of(&confirm_link(&mails[before]))
    }

    /// Posts the token of a confirmation link's `path` (`/confirm?token=...`), as its page does.
    pub async fn confirm(&self, path: &str) -> reqwest::Response {
        let token = path
            .split("token=")
            .nth(1)
            .expect("a token in the link")
            .split('&')
            .next()
            .unwrap();
        self.post_form("/confirm", &format!("token={token}")).await
    }

    /// Signs up and confirms; returns (subscriber id, list id).
    pub async fn confirmed_subscriber(
        &self,
        email: &'static str,
        list: &'static str,
    ) -> (i64, i64) {
        let path = self.pending_signup(email, list).await;
        assert_eq!(self.confirm(&path).await.status(), 200);
        self.db(move |c| {
            let s = db::subscribers::by_email(c, email)?.unwrap();
            let l = db::lists::by_slug(c, list)?.unwrap();
            Ok((s.id, l.id))
        })
        .await
    }

    /// Creates a list through the same use case as `iscriviti list create`.
    pub async fn create_list(&self, slug: &str, name: &str, public: bool, double_opt_in: bool) {
        let input = iscriviti::subscriptions::ListInput {
            slug: iscriviti::domain::ListSlug::parse(slug).unwrap(),
            name: name.into(),
            description: String::new(),
            public,
            double_opt_in,
            language: iscriviti::domain::Lang::It,
            from: iscriviti::domain::Sender::parse("Economia <economia@example.org>").unwrap(),
            reply_to: None,
            public_archive: false,
        };
        db::run(&self.state.pool, move |c| {
            iscriviti::subscriptions::create_list(c, &input)
        })
        .await
        .unwrap();
    }
}

impl TestApp {
    /// Adds `n` confirmed readers `lettore{i}@example.org` to `list` directly in the database
    /// (fast; the signup journey has its own tests). Returns their ids.
    pub async fn seed_confirmed(&self, list: &'static str, n: usize) -> Vec<i64> {
        db::write(&self.state.pool, move |c| {
            let l = db::lists::by_slug(c, list)?.unwrap();
            let now = chrono::Utc::now().naive_utc();
            let mut ids = Vec::with_capacity(n);
            for i in 0..n {
                let email = format!("lettore{i}@example.org");
                let name = format!("Lettore {i}");
                let s = db::subscribers::insert(c, &email, Some(&name), "it", now)?;
                db::subscribers::set_subscription(
                    c,
                    s.id,
                    l.id,
                    iscriviti::domain::SubscriptionStatus::Confirmed,
                    "test",
                    now,
                )?;
                ids.push(s.id);
            }
            Ok::<_, db::DbError>(ids)
        })
        .await
        .unwrap()
    }

    /// Adds an article with Italian typography and returns nothing.
    pub async fn add_article(&self, title: &'static str, url: &'static str) {
        self.db(move |c| {
            let now = chrono::Utc::now().naive_utc();
            db::articles::insert_if_new(
                c,
                &db::articles::NewArticle {
                    list_id: None,
                    guid: url,
                    title,
                    url,
                    author: Some("Niccolò Ferrè"),
                    summary: "L’intesa è “storica”: più lavoro da remoto, è già così.",
                    language: "it",
                    image_url: None,
                    published_at: now,
                    created_at: now,
                    feed_id: None,
                    image_alt: "",
                },
            )
        })
        .await;
    }

    /// Composes and starts a digest for `list`; returns its id.
    pub async fn start_digest(&self, list: &str, subject: &str) -> i64 {
        let slug = iscriviti::domain::ListSlug::parse(list).unwrap();
        let d = iscriviti::digests::create(&self.state.pool, slug, Some(subject.to_owned()), None)
            .await
            .unwrap();
        iscriviti::digests::start(&self.state.pool, d.id)
            .await
            .unwrap();
        d.id
    }
}

/// `iscriviti serve` as a separate process on the test's database and SMTP sink, killed on drop.
pub struct ChildServer {
    child: std::process::Child,
    _config: tempfile::NamedTempFile,
}

impl ChildServer {
    /// Starts the real binary with `config` (TOML) and the test app's database and sink.
    pub fn start(app: &TestApp, config: &str) -> Self {
        use std::io::Write;
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "bind = \"127.0.0.1:0\"\nbase_url = \"{BASE_URL}\"\n{config}"
        )
        .unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_iscriviti"))
            .arg("--config")
            .arg(file.path())
            .arg("serve")
            .env("DATABASE_URL", &app.db_url)
            .env(
                "ISCRIVITI_SMTP_URL",
                format!("smtp://127.0.0.1:{}", app.smtp.port()),
            )
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the binary starts");
        Self {
            child,
            _config: file,
        }
    }

    /// Starts the binary listening on a known port, logging at `info` (as an operator runs
    /// it) into `log`; returns it and its base address.
    pub fn logging(app: &TestApp, config: &str, log: &std::path::Path) -> (Self, String) {
        use std::io::Write;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "bind = \"127.0.0.1:{port}\"\nbase_url = \"{BASE_URL}\"\n\
             [outbound]\nallow = [\"127.0.0.1\"]\n{config}"
        )
        .unwrap();
        let out = std::fs::File::create(log).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_iscriviti"))
            .arg("--config")
            .arg(file.path())
            .arg("serve")
            .env("DATABASE_URL", &app.db_url)
            .env(
                "ISCRIVITI_SMTP_URL",
                format!("smtp://127.0.0.1:{}", app.smtp.port()),
            )
            .env("RUST_LOG", "info")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("the binary starts");
        let server = Self {
            child,
            _config: file,
        };
        (server, format!("http://127.0.0.1:{port}"))
    }

    /// SIGKILL: no shutdown, no lease released.
    pub fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `cond` holds, polling; panics with `what` after `secs`.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Form-encodes a value.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The confirmation link in a mail's text part (which must equal the one in the HTML part).
pub fn confirm_link(mail: &Received) -> String {
    let parsed = mail.parsed();
    let text = parsed.body_text(0).expect("a text part").into_owned();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/confirm?token="))
        .expect("a confirmation link in the text part")
        .to_owned();
    let html = parsed.body_html(0).expect("an HTML part").into_owned();
    let hrefs: Vec<String> = html
        .split("href=\"")
        .skip(1)
        .map(|rest| html_unescape(rest.split('"').next().unwrap()))
        .collect();
    assert!(
        hrefs.contains(&link),
        "the HTML part carries the same link: {hrefs:?}"
    );
    link
}

/// Decodes the character references an auto-escaping template writes into an attribute.
pub fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let Some(end) = rest[i..].find(';') else {
            break;
        };
        let entity = &rest[i + 1..i + end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&rest[i..=i + end]),
        }
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    out
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A temporary SQLite file, or a fresh database next to TEST_DATABASE_URL's.
    pub fn create() -> Self {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(admin_url) if admin_url.starts_with("postgres") => {
                let name = format!("iscriviti_test_{}", hex::encode(rand::random::<[u8; 6]>()));
                let mut admin = diesel::PgConnection::establish(&admin_url)
                    .expect("TEST_DATABASE_URL connects");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .unwrap();
                let mut url = url::Url::parse(&admin_url).unwrap();
                url.set_path(&name);
                Self {
                    url: url.to_string(),
                    pg: Some((admin_url, name)),
                    _dir: None,
                }
            }
            _ => {
                let dir = tempfile::tempdir().unwrap();
                Self {
                    url: format!("sqlite://{}", dir.path().join("test.db").display()),
                    pg: None,
                    _dir: Some(dir),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.pg {
            if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}
