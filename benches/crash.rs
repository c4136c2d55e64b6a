//! Recovery from kill -9 during a send, with the real binary: seeds N confirmed readers
//! (20,000 by default), starts `iscriviti serve` with a send-rate cap (so the send lasts long
//! enough to be killed three times), starts the digest, and kills the server with SIGKILL at a
//! quarter, half and three quarters of the audience, restarting it at once each time.
//!
//! Prints per kill the messages it left in flight: accepted by the relay but not recorded as
//! sent (and not already in flight at an earlier kill), which are what that kill sends twice.
//! Then the time from the last restart to the digest being sent (the dead instances' leases
//! must run out first), and the duplicates the sink counted.
//!
//!   cargo bench --bench crash                        # SQLite, 20,000 readers, 1,000 msgs/s
//!   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench crash
//!   READERS=20000 RATE=2000 LEASE_SECS=30 cargo bench --bench crash
//!   ISCRIVITI_BIN=/path/to/other/iscriviti cargo bench --bench crash   # another build

mod common;

use std::collections::HashSet;
use std::process::Child;
use std::time::{Duration, Instant};

use common::{free_port, run, seed, serve, sink::Sink, BenchDb};
use diesel::{Connection, RunQueryDsl};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    s: String,
}

/// Rows of (a number, a text) from `sql` (the columns named `n` and `s`).
fn query(db: &BenchDb, sql: &str) -> Vec<(i64, String)> {
    let rows: Vec<Row> = match db.backend {
        "postgres" => {
            let mut c = diesel::PgConnection::establish(&db.url).unwrap();
            diesel::sql_query(sql).load(&mut c).unwrap()
        }
        _ => {
            let path = db.url.trim_start_matches("sqlite://");
            let mut c = diesel::SqliteConnection::establish(path).unwrap();
            diesel::sql_query(sql).load(&mut c).unwrap()
        }
    };
    rows.into_iter().map(|r| (r.n, r.s)).collect()
}

/// The digest's status.
fn status(db: &BenchDb, id: &str) -> String {
    query(
        db,
        &format!("SELECT id AS n, status AS s FROM digests WHERE id = {id}"),
    )
    .remove(0)
    .1
}

/// The readers whose delivery is recorded as sent.
fn recorded_sent(db: &BenchDb, id: &str) -> HashSet<String> {
    let sql = format!(
        "SELECT d.id AS n, s.email AS s FROM deliveries d \
         JOIN subscribers s ON s.id = d.subscriber_id \
         WHERE d.digest_id = {id} AND d.status = 'sent'"
    );
    query(db, &sql)
        .into_iter()
        .map(|(_, email)| email)
        .collect()
}

fn kill_9(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::main]
async fn main() {
    let readers = env_or("READERS", 20_000);
    let rate = env_or("RATE", 1000);
    let lease = env_or("LEASE_SECS", 30);
    let db = BenchDb::create();
    run(&db, &["migrate"]);
    run(
        &db,
        &[
            "list",
            "create",
            "newsletter",
            "--name",
            "Economia",
            "--from",
            "Redazione <redazione@example.org>",
        ],
    );
    seed(&db, readers);
    run(
        &db,
        &[
            "article",
            "add",
            "--title",
            "Il porto di Trieste: “è già più grande”",
            "--url",
            "https://www.example.org/porto",
        ],
    );
    let id = run(&db, &["digest", "create", "--list", "newsletter"]);
    let id = id.trim().to_owned();

    let sink = Sink::counting_recipients().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), format!("[delivery]\nlease_secs = {lease}\n")).unwrap();
    let env = [
        ("ISCRIVITI_DIGEST_MESSAGES_PER_SECOND", rate.to_string()),
        ("ISCRIVITI_CONFIG", config.path().display().to_string()),
    ];
    let port = free_port();
    let mut server = serve(&db, sink.port, port, &env).await;
    run(&db, &["digest", "send", &id]);
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut per_kill = Vec::new();
    let mut last_restart = Instant::now();
    for kill in 1..=3usize {
        while sink.recipients() < kill * readers / 4 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        kill_9(&mut server);
        // What the dead process had written reaches the sink.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent = recorded_sent(&db, &id);
        let new: Vec<String> = sink
            .recipient_set()
            .into_iter()
            .filter(|r| !sent.contains(r) && !in_flight.contains(r))
            .collect();
        println!(
            "kill {kill}: {} of {readers} readers reached, {} recorded; {} left in flight",
            sink.recipients(),
            sent.len(),
            new.len()
        );
        per_kill.push(new.len());
        in_flight.extend(new);
        server = serve(&db, sink.port, port, &env).await;
        last_restart = Instant::now();
    }
    let deadline = Instant::now() + Duration::from_secs(1800);
    while status(&db, &id) != "sent" && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let finished = last_restart.elapsed().as_secs_f64();
    kill_9(&mut server);
    let duplicates = sink.received() as usize - sink.recipients();
    println!(
        "{} ({readers} readers, {rate} msgs/s, lease {lease} s): finished {finished:.1} s after the last restart; every reader reached: {}; duplicates {duplicates}; left in flight per kill {per_kill:?}",
        db.backend,
        sink.recipients() == readers,
    );
    assert_eq!(sink.recipients(), readers, "every reader got the digest");
    assert!(
        duplicates <= in_flight.len(),
        "no duplicate beyond what was in flight"
    );
}
