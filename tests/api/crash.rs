//! The real binary, a real SMTP listener, and the worst that can happen during a send:
//! kill -9, a relay outage, two instances sharing one send.

use std::collections::HashMap;
use std::time::Duration;

use iscriviti::digests;

use crate::helpers::{eventually, spawn_app_without_workers, ChildServer, TestApp};

const READERS: usize = 1500;
const BATCH: usize = 50;

/// Tuned so a send takes a few seconds and a dead instance's leases expire fast.
fn config() -> String {
    format!(
        "[worker]\nretry_base_ms = 200\nretry_max_ms = 1000\n\
         [delivery]\nbatch_size = {BATCH}\nlease_secs = 2\nconnections = 4\npoll_interval_ms = 100\n"
    )
}

/// A test app that only prepares data: the child processes do the sending.
async fn prepared_send() -> (TestApp, i64) {
    let app = spawn_app_without_workers().await;
    app.seed_confirmed("newsletter", READERS).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    let id = app.start_digest("newsletter", "Oggi").await;
    (app, id)
}

async fn is_sent(app: &TestApp, id: i64) -> bool {
    digests::status(&app.state.pool, id)
        .await
        .unwrap()
        .0
        .status
        .as_str()
        == "sent"
}

/// Copies received per recipient.
fn copies(app: &TestApp) -> HashMap<String, usize> {
    let mut per = HashMap::new();
    for m in app.smtp.received() {
        *per.entry(m.rcpt_to[0].clone()).or_default() += 1;
    }
    per
}

/// Sent messages the relay accepted that the database does not yet record as sent: what a
/// kill at this moment would send twice. Read once the relay has taken what was written.
async fn in_flight(app: &TestApp, id: i64) -> usize {
    let mut seen = app.smtp.received().len();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = app.smtp.received().len();
        if now == seen {
            break;
        }
        seen = now;
    }
    let recorded = digests::status(&app.state.pool, id).await.unwrap().1.sent as usize;
    let accepted = copies(app).len();
    accepted.saturating_sub(recorded)
}

/// The ranges of deliveries leased right now.
async fn leased_ranges(app: &TestApp) -> Vec<i64> {
    use diesel::prelude::*;
    use iscriviti::db::schema::delivery_ranges as r;
    app.db(|c| r::table.select(r::id).load(c)).await
}

/// Three kill -9s during one send, each followed by a restart: everyone gets the digest, the
/// restarted instance takes over the dead one's leases within one lease (not minutes), and
/// the only duplicates are the messages in flight at each kill.
#[tokio::test]
async fn three_kill_9s_then_restarts_reach_everyone_with_only_what_was_in_flight_twice() {
    let (app, id) = prepared_send().await;
    app.smtp.set_delay(Duration::from_millis(5));
    let config = format!(
        "[delivery]\nbatch_size = {BATCH}\nlease_secs = 1\nconnections = 4\npoll_interval_ms = 100\n"
    );
    let mut server = ChildServer::start(&app, &config);
    let mut in_flight_total = 0;
    let mut dead_ranges: Vec<i64> = Vec::new();
    for kill in 1..=3 {
        // The previous dead instance's ranges were taken over and finished, so what is in
        // flight now is this instance's alone.
        eventually(
            60,
            "the dead instance's ranges to be taken over",
            || async {
                let live = leased_ranges(&app).await;
                !dead_ranges.iter().any(|r| live.contains(r))
            },
        )
        .await;
        eventually(60, "the send to move on", || async {
            copies(&app).len() >= kill * READERS / 5
        })
        .await;
        server.kill_9();
        let at_kill = in_flight(&app, id).await;
        assert!(
            at_kill <= 2 * BATCH,
            "kill {kill}: {at_kill} in flight, more than a batch per lane"
        );
        in_flight_total += at_kill;
        dead_ranges = leased_ranges(&app).await;
        server = ChildServer::start(&app, &config);
    }
    let restarted = std::time::Instant::now();
    eventually(120, "the digest to finish", || is_sent(&app, id)).await;
    // The dead instance's last leases run out within lease_secs (1 s here), then the rest
    // goes at the relay's pace: nowhere near the minutes a 300 s lease used to cost.
    assert!(
        restarted.elapsed() < Duration::from_secs(30),
        "finished {:?} after the last restart",
        restarted.elapsed()
    );
    let per = copies(&app);
    assert_eq!(per.len(), READERS, "every reader got the digest");
    let duplicates: usize = per.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= in_flight_total,
        "{duplicates} duplicates, but only {in_flight_total} were in flight at the kills"
    );
    let p = digests::status(&app.state.pool, id).await.unwrap().1;
    assert_eq!(
        (p.sent, p.failed, p.queued, p.sending),
        (READERS as i64, 0, 0, 0)
    );
    app.assert_counts_match_rows(id).await;
}

/// A batch that takes longer than a lease keeps it: the heartbeat renews it, so a second
/// instance never takes over work that is still going out.
#[tokio::test]
async fn a_batch_slower_than_its_lease_is_not_taken_over_while_its_instance_lives() {
    let app = spawn_app_without_workers().await;
    app.seed_confirmed("newsletter", 60).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    let id = app.start_digest("newsletter", "Oggi").await;
    // 30 readers a batch, one connection, 50 ms a message: 1.5 s per batch, a 1 s lease.
    app.smtp.set_delay(Duration::from_millis(50));
    let config =
        "[delivery]\nbatch_size = 30\nlease_secs = 1\nconnections = 1\npoll_interval_ms = 100\n";
    let _a = ChildServer::start(&app, config);
    let _b = ChildServer::start(&app, config);
    eventually(60, "the digest to finish", || is_sent(&app, id)).await;
    let per = copies(&app);
    assert_eq!(per.len(), 60);
    assert!(
        per.values().all(|n| *n == 1),
        "nobody got it twice: {per:?}"
    );
}

/// Outcomes are written as they come (within a tenth of a second), not when the batch ends:
/// however slow the relay, what a crash could send twice stays small.
#[tokio::test]
async fn outcomes_are_recorded_while_a_slow_batch_is_still_going_out() {
    let app = spawn_app_without_workers().await;
    app.seed_confirmed("newsletter", 50).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    let id = app.start_digest("newsletter", "Oggi").await;
    // One batch of 50 over one connection at 100 ms a message: five seconds. One message per
    // write (no CHUNKING), so each outcome is known as soon as the relay answers.
    app.smtp.set_delay(Duration::from_millis(100));
    app.smtp.without_chunking();
    let config = "[delivery]\nbatch_size = 50\nconnections = 1\npoll_interval_ms = 100\n";
    let _server = ChildServer::start(&app, config);
    eventually(30, "a third of the batch to be accepted", || async {
        copies(&app).len() >= 17
    })
    .await;
    let accepted = copies(&app).len();
    let p = digests::status(&app.state.pool, id).await.unwrap().1;
    assert!(
        p.sent > 0,
        "nothing recorded {accepted} messages into the batch"
    );
    // A tenth of a second holds about one of these messages; the rest is slack for a busy
    // machine. Recorded only at the end of the batch, this would be the whole batch so far.
    assert!(
        accepted as i64 - p.sent <= 6,
        "{accepted} accepted, {} recorded",
        p.sent
    );
    eventually(30, "the digest to finish", || is_sent(&app, id)).await;
}

/// Beside a running instance, `digest send --wait` only watches; alone, it delivers.
#[tokio::test]
async fn digest_send_wait_delivers_only_when_no_instance_does() {
    let app = spawn_app_without_workers().await;
    app.seed_confirmed("newsletter", 20).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    let list = || iscriviti::domain::ListSlug::parse("newsletter").unwrap();
    let create = |subject: &'static str| {
        let pool = app.state.pool.clone();
        async move {
            digests::create(&pool, list(), Some(subject.into()), None)
                .await
                .unwrap()
                .id
        }
    };
    let (db_url, smtp_url) = (
        app.db_url.clone(),
        format!("smtp://127.0.0.1:{}", app.smtp.port()),
    );
    let send_wait = move |id: i64| {
        std::process::Command::new(env!("CARGO_BIN_EXE_iscriviti"))
            .args(["digest", "send", &id.to_string(), "--wait"])
            .env("DATABASE_URL", &db_url)
            .env("ISCRIVITI_SMTP_URL", &smtp_url)
            .env("ISCRIVITI_BASE_URL", crate::helpers::BASE_URL)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };

    // Both drafts now: a digest takes the articles since the list's last one started.
    let (alone, beside) = (create("Da solo").await, create("Accanto").await);
    let out = tokio::task::spawn_blocking({
        let send_wait = send_wait.clone();
        move || send_wait(alone)
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("delivering from this command"), "{stderr}");
    assert!(is_sent(&app, alone).await);

    let _server = ChildServer::start(&app, &config());
    eventually(30, "the instance to announce its engine", || async {
        app.count_where("instances", "engine = TRUE").await > 0
    })
    .await;
    let out = tokio::task::spawn_blocking(move || send_wait(beside))
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("delivering from this command"), "{stderr}");
    assert!(is_sent(&app, beside).await);
    assert_eq!(
        copies(&app).values().sum::<usize>(),
        40,
        "20 readers, two digests"
    );
    // Each send is in the admins' audit trail, as the command line's.
    let filter = iscriviti::staff::TrailFilter {
        action: Some(iscriviti::domain::AuditAction::DigestSent),
        ..Default::default()
    };
    let trail = iscriviti::staff::trail(&app.state, filter, 10)
        .await
        .unwrap();
    let sends: Vec<String> = trail
        .iter()
        .map(|e| format!("{} {} {}", e.user_email, e.target, e.detail))
        .collect();
    assert_eq!(sends.len(), 2, "{sends:?}");
    assert!(sends[0].contains(&format!("digest #{beside}")) && sends[0].contains("20 readers"));
}

#[tokio::test]
async fn a_relay_outage_pauses_the_send_and_loses_nothing() {
    let (mut app, id) = prepared_send().await;
    app.smtp.stop();
    let _server = ChildServer::start(&app, &config());
    eventually(30, "failed attempts to be queued for a retry", || async {
        digests::status(&app.state.pool, id)
            .await
            .unwrap()
            .1
            .retrying
            > 0
    })
    .await;
    let p = digests::status(&app.state.pool, id).await.unwrap().1;
    assert_eq!((p.sent, p.failed), (0, 0), "nothing sent, nothing given up");

    app.smtp.restart().await;
    eventually(120, "the digest to finish", || is_sent(&app, id)).await;
    let per = copies(&app);
    assert_eq!(per.len(), READERS);
    assert!(per.values().all(|n| *n == 1), "nobody got it twice");
}

#[tokio::test]
async fn two_instances_share_one_send_without_delivering_anyone_twice() {
    let (app, id) = prepared_send().await;
    app.smtp.set_delay(Duration::from_millis(1));
    let _a = ChildServer::start(&app, &config());
    let _b = ChildServer::start(&app, &config());
    eventually(120, "the digest to finish", || is_sent(&app, id)).await;
    let per = copies(&app);
    assert_eq!(per.len(), READERS);
    assert!(per.values().all(|n| *n == 1), "nobody got it twice");
}

#[tokio::test]
async fn an_idle_instance_starts_digests_another_process_started_or_scheduled() {
    let app = spawn_app_without_workers().await;
    app.seed_confirmed("newsletter", 3).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    let list = || iscriviti::domain::ListSlug::parse("newsletter").unwrap();
    let now = digests::create(&app.state.pool, list(), Some("Adesso".into()), None)
        .await
        .unwrap()
        .id;
    let later = digests::create(&app.state.pool, list(), Some("Fra poco".into()), None)
        .await
        .unwrap()
        .id;
    let _server = ChildServer::start(&app, &config());
    // The instance is up (its heartbeat says so) and has found nothing to send.
    eventually(30, "the instance to start", || async {
        app.count_where("instances", "engine = TRUE").await > 0
    })
    .await;
    assert!(app.smtp.received().is_empty());

    digests::start(&app.state.pool, now).await.unwrap();
    let at = chrono::Utc::now().naive_utc() + chrono::Duration::seconds(1);
    digests::schedule(&app.state.pool, later, at).await.unwrap();
    eventually(20, "both digests to be sent", || async {
        is_sent(&app, now).await && is_sent(&app, later).await
    })
    .await;
    assert_eq!(app.smtp.received().len(), 6, "three readers, two digests");
}
