//! Shared by the benchmarks: the SMTP sink, a fresh database, the server as a child process,
//! and reading its CPU time and peak memory from /proc.

#![allow(dead_code)]

pub mod sink;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::{Connection, RunQueryDsl};

/// A database for one run: a SQLite file in a temporary folder, or a fresh PostgreSQL database
/// next to BENCH_DATABASE_URL's.
pub struct BenchDb {
    pub url: String,
    pub backend: &'static str,
    pg: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl BenchDb {
    pub fn create() -> Self {
        let dir = tempfile::tempdir().unwrap();
        match std::env::var("BENCH_DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))
        {
            Some(admin) => {
                let name = format!("iscriviti_bench_{}", hex::encode(rand::random::<[u8; 4]>()));
                let mut c =
                    diesel::PgConnection::establish(&admin).expect("BENCH_DATABASE_URL connects");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .unwrap();
                let mut url = url::Url::parse(&admin).unwrap();
                url.set_path(&name);
                Self {
                    url: url.to_string(),
                    backend: "postgres",
                    pg: Some((admin, name)),
                    _dir: dir,
                }
            }
            None => Self {
                url: format!("sqlite://{}", dir.path().join("bench.db").display()),
                backend: "sqlite",
                pg: None,
                _dir: dir,
            },
        }
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg {
            if let Ok(mut c) = diesel::PgConnection::establish(admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c);
            }
        }
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The release binary (or the one named by `ISCRIVITI_BIN`, to compare two builds in one run)
/// with `args` and benchmark settings in its environment.
pub fn iscriviti(
    db: &BenchDb,
    smtp_port: u16,
    extra_env: &[(&str, String)],
    args: &[&str],
) -> Command {
    let bin = std::env::var("ISCRIVITI_BIN").unwrap_or(env!("CARGO_BIN_EXE_iscriviti").into());
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env("DATABASE_URL", &db.url)
        .env(
            "ISCRIVITI_SMTP_URL",
            format!("smtp://127.0.0.1:{smtp_port}"),
        )
        .env("RUST_LOG", "warn")
        .env_remove("ISCRIVITI_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs a command of the binary to its end and returns its standard output.
pub fn run(db: &BenchDb, args: &[&str]) -> String {
    let out = iscriviti(db, 1, &[], args)
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "iscriviti {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Starts `iscriviti serve` and waits until /health answers.
pub async fn serve(db: &BenchDb, smtp_port: u16, port: u16, extra_env: &[(&str, String)]) -> Child {
    let mut env = vec![("ISCRIVITI_BIND", format!("127.0.0.1:{port}"))];
    env.extend(extra_env.iter().cloned());
    let mut child = iscriviti(db, smtp_port, &env, &["serve"])
        .spawn()
        .expect("the binary starts");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
        {
            if r.status().is_success() {
                return child;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().ok();
    child.wait().ok();
    panic!("the server did not become healthy");
}

/// User + system CPU time of a process so far, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let times = stat_times(&pid.to_string());
    times[0] + times[1]
}

/// CPU seconds (user + system) of this process's children that have exited and been waited
/// for: a delta around one `Command::output` is that command's CPU.
pub fn children_cpu_seconds() -> f64 {
    let times = stat_times("self");
    times[2] + times[3]
}

/// utime, stime, cutime and cstime of `/proc/{pid}/stat`, in seconds.
fn stat_times(pid: &str) -> [f64; 4] {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // After the command name: state is field 3, utime 14 ... cstime 17 (1-based in proc(5)).
    let ticks = |i: usize| fields[i].parse::<f64>().unwrap() / clock_ticks_per_second();
    [ticks(11), ticks(12), ticks(13), ticks(14)]
}

/// CPU seconds (user + system) used so far by every live process whose command name is `comm`
/// (e.g. all `postgres` server processes), with that of their children which have exited: the
/// postmaster waits for each backend, so the work of a connection that closed during the run
/// (a CLI command's) is counted too.
pub fn cpu_seconds_of_all(comm: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .map(|pid| {
            std::panic::catch_unwind(|| stat_times(&pid.to_string()).iter().sum()).unwrap_or(0.0)
        })
        .sum()
}

fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(100.0)
    })
}

/// Peak resident memory (VmHWM) of a process, in MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// A memory figure of a live process from /proc/<pid>/status (`VmHWM`, `RssAnon`...), in MiB;
/// None once the process has exited. `RssAnon` is the heap and stacks without the file pages
/// (SQLite's memory-mapped database) that `VmRSS` and `VmHWM` also count.
pub fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| {
            l.strip_prefix(field)
                .is_some_and(|rest| rest.starts_with(':'))
        })?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The median of some numbers.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// N confirmed readers on list 1, inserted by the database itself, then (PostgreSQL) analyzed,
/// as `iscriviti import` does at its end: without statistics on the just-filled tables the
/// planner reads every subscription to find a batch's 500 readers.
pub fn seed(db: &BenchDb, n: usize) {
    let now = "2026-11-28 08:00:00";
    let (subscribers, subscriptions) = match db.backend {
        "postgres" => (
            format!("INSERT INTO subscribers (email, name, language, blocked, created_at, updated_at) \
                SELECT 'lettore' || i || '@example.org', 'Lettore ' || i, 'it', FALSE, '{now}', '{now}' \
                FROM generate_series(1, {n}) AS i"),
            format!("INSERT INTO subscriptions (subscriber_id, list_id, status, source, created_at, updated_at, confirmed_at) \
                SELECT id, 1, 'confirmed', 'bench', '{now}', '{now}', '{now}' FROM subscribers"),
        ),
        _ => (
            format!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
                INSERT INTO subscribers (email, name, language, blocked, created_at, updated_at) \
                SELECT 'lettore' || i || '@example.org', 'Lettore ' || i, 'it', 0, '{now}', '{now}' FROM n"),
            format!("INSERT INTO subscriptions (subscriber_id, list_id, status, source, created_at, updated_at, confirmed_at) \
                SELECT id, 1, 'confirmed', 'bench', '{now}', '{now}', '{now}' FROM subscribers"),
        ),
    };
    let url = db.url.trim_start_matches("sqlite://").to_owned();
    match db.backend {
        "postgres" => {
            let mut c = diesel::PgConnection::establish(&db.url).unwrap();
            diesel::sql_query(subscribers).execute(&mut c).unwrap();
            diesel::sql_query(subscriptions).execute(&mut c).unwrap();
            diesel::sql_query("ANALYZE subscribers, subscriptions")
                .execute(&mut c)
                .unwrap();
        }
        _ => {
            let mut c = diesel::SqliteConnection::establish(&url).unwrap();
            diesel::sql_query(subscribers).execute(&mut c).unwrap();
            diesel::sql_query(subscriptions).execute(&mut c).unwrap();
        }
    }
}

/// Signs in as a browser does and returns the session cookie.
pub async fn sign_in(http: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let page = http
        .get(format!("{base}/admin/login"))
        .send()
        .await
        .unwrap();
    let cookie = cookie_of(&page, "iscriviti_form");
    let html = page.text().await.unwrap();
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &html[at..at + html[at..].find('"').unwrap()];
    let res = http
        .post(format!("{base}/admin/login"))
        .header("Cookie", format!("iscriviti_form={cookie}"))
        .form(&[
            ("csrf", csrf),
            ("email", email),
            ("password", password),
            ("next", "/admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the bench admin signs in");
    cookie_of(&res, "iscriviti_session")
}

fn cookie_of(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no {name} cookie"))
}
