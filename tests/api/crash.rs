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
    digests::status(&app.state.pool, id).await.unwrap().0.status == "sent"
}

/// Copies received per recipient.
fn copies(app: &TestApp) -> HashMap<String, usize> {
    let mut per = HashMap::new();
    for m in app.smtp.received() {
        *per.entry(m.rcpt_to[0].clone()).or_default() += 1;
    }
    per
}

#[tokio::test]
async fn a_kill_9_mid_send_then_a_restart_reaches_everyone_with_at_most_what_was_in_flight_twice() {
    let (app, id) = prepared_send().await;
    app.smtp.set_delay(Duration::from_millis(3));
    let mut first = ChildServer::start(&app, &config());
    eventually(60, "the send to be under way", || async {
        app.smtp.received().len() >= READERS / 3
    })
    .await;
    first.kill_9();
    // The relay may still be reading what the dead process had written.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_kill = app.smtp.received().len();
    assert!(
        at_kill < READERS,
        "killed mid-send ({at_kill} of {READERS})"
    );
    // In flight: accepted by the relay, not yet recorded as sent. Each of the engine's two
    // lanes has at most one batch out.
    let recorded = digests::status(&app.state.pool, id).await.unwrap().1.sent as usize;
    let in_flight = at_kill - recorded;
    assert!(
        in_flight <= 2 * BATCH,
        "{in_flight} in flight, more than a batch per lane"
    );

    let _second = ChildServer::start(&app, &config());
    eventually(120, "the digest to finish", || is_sent(&app, id)).await;
    let per = copies(&app);
    assert_eq!(per.len(), READERS, "every reader got the digest");
    let duplicates: usize = per.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= in_flight,
        "{duplicates} duplicates, but only {in_flight} were in flight at the kill"
    );
    let p = digests::status(&app.state.pool, id).await.unwrap().1;
    assert_eq!((p.sent, p.failed), (READERS as i64, 0));
}

#[tokio::test]
async fn a_relay_outage_pauses_the_send_and_loses_nothing() {
    let (mut app, id) = prepared_send().await;
    app.smtp.stop();
    let _server = ChildServer::start(&app, &config());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let p = digests::status(&app.state.pool, id).await.unwrap().1;
    assert_eq!((p.sent, p.failed), (0, 0), "nothing sent, nothing given up");
    assert!(p.retrying > 0, "failed attempts are queued for a retry");

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
    // Long enough for the instance to find nothing to do and go idle (polling every 100 ms).
    tokio::time::sleep(Duration::from_millis(1500)).await;
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
