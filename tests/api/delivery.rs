//! The outbox: mail survives an SMTP outage, 4xx is retried, 5xx is recorded, nothing is lost.

use iscriviti::db;

use crate::helpers::{
    confirm_link, spawn_app, spawn_app_with, spawn_app_with_sink, SmtpMode, SmtpSink,
};

#[tokio::test]
async fn mail_recorded_while_the_relay_is_down_arrives_once_it_is_back() {
    let sink = SmtpSink::down().await;
    let mut app = spawn_app_with_sink(sink, |_| {}).await;
    assert_eq!(
        app.subscribe("attesa@example.org", &["newsletter"])
            .await
            .status(),
        200
    );

    // The worker tries, fails to connect, and keeps the row for a retry. The row is read
    // between attempts: during one it is leased ("sending").
    let failing = async {
        loop {
            let rows = app.db(db::outbox::all).await;
            if rows[0].attempts >= 2 && rows[0].status.as_str() != "sending" {
                return rows;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    let rows = tokio::time::timeout(std::time::Duration::from_secs(10), failing)
        .await
        .unwrap();
    assert_eq!(rows[0].status.as_str(), "queued");
    assert!(rows[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("connecting to"));

    app.smtp.restart().await;
    let mails = app.mails(1).await;
    assert_eq!(mails.len(), 1);
    confirm_link(&mails[0]);
    crate::helpers::eventually(10, "the row to be recorded as sent", || async {
        app.db(db::outbox::all).await[0].status.as_str() == "sent"
    })
    .await;
    assert_eq!(app.smtp.received().len(), 1, "sent exactly once");
}

#[tokio::test]
async fn a_4xx_answer_is_retried_until_it_succeeds() {
    let app = spawn_app().await;
    app.smtp.set_mode(SmtpMode::TempFail);
    assert_eq!(
        app.subscribe("riprova@example.org", &["newsletter"])
            .await
            .status(),
        200
    );
    let retried = async {
        loop {
            let rows = app.db(db::outbox::all).await;
            if rows[0].attempts >= 2 {
                return rows;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    let rows = tokio::time::timeout(std::time::Duration::from_secs(10), retried)
        .await
        .unwrap();
    assert!(rows[0].last_error.as_deref().unwrap().contains("451"));
    app.smtp.set_mode(SmtpMode::Accept);
    app.mails(1).await;
}

#[tokio::test]
async fn a_5xx_answer_is_recorded_as_failed_with_its_reason_and_not_retried() {
    let app = spawn_app_with(|s| s.worker.enabled = false).await;
    app.smtp.set_mode(SmtpMode::PermFail);
    assert_eq!(
        app.subscribe("inesistente@example.org", &["newsletter"])
            .await
            .status(),
        200
    );
    let drained = app.worker.drain().await.unwrap();
    assert_eq!((drained.sent, drained.failed, drained.retrying), (0, 1, 0));
    let rows = app.db(db::outbox::all).await;
    assert_eq!(rows[0].status.as_str(), "failed");
    assert_eq!(rows[0].attempts, 1);
    assert!(rows[0].last_error.as_deref().unwrap().contains("550"));
    app.smtp.set_mode(SmtpMode::Accept);
    assert_eq!(
        app.worker.drain().await.unwrap().sent,
        0,
        "a failure is never retried"
    );
}

#[tokio::test]
async fn temporary_failures_are_given_up_after_the_attempt_limit_and_kept() {
    let app = spawn_app_with(|s| {
        s.worker.enabled = false;
        s.worker.max_attempts = 2u32.try_into().unwrap();
        s.worker.retry_base_ms = 1u64.try_into().unwrap();
        s.worker.retry_max_ms = 1u64.try_into().unwrap();
    })
    .await;
    app.smtp.set_mode(SmtpMode::TempFail);
    app.subscribe("sempre-451@example.org", &["newsletter"])
        .await;
    // Drained until given up: the retry is due a millisecond after the first attempt.
    let (mut retrying, mut failed) = (0, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while failed == 0 && std::time::Instant::now() < deadline {
        let drained = app.worker.drain().await.unwrap();
        (retrying, failed) = (retrying + drained.retrying, failed + drained.failed);
    }
    assert_eq!((retrying, failed), (1, 1));
    let rows = app.db(db::outbox::all).await;
    assert_eq!(rows[0].status.as_str(), "failed");
    assert!(rows[0]
        .last_error
        .as_deref()
        .unwrap()
        .starts_with("gave up after 2 attempts"));
}

#[tokio::test]
async fn with_the_worker_stopped_mail_waits_in_the_outbox_and_drain_sends_it_once() {
    let app = spawn_app_with(|s| s.worker.enabled = false).await;
    for i in 0..3 {
        app.subscribe(&format!("coda{i}@example.org"), &["newsletter"])
            .await;
    }
    assert!(app.smtp.received().is_empty());
    assert_eq!(app.count("outbox").await, 3);
    assert_eq!(app.worker.drain().await.unwrap().sent, 3);
    assert_eq!(app.worker.drain().await.unwrap().sent, 0);
    assert_eq!(app.smtp.received().len(), 3);
}

#[tokio::test]
async fn an_expired_lease_makes_a_row_claimable_again() {
    let app = spawn_app_with(|s| s.worker.enabled = false).await;
    app.subscribe("lease@example.org", &["newsletter"]).await;
    // A worker that died mid-send left this lease behind.
    let now = chrono::Utc::now().naive_utc();
    let expired = now - chrono::Duration::seconds(1);
    let claimed = app
        .db(move |c| db::outbox::claim(c, "dead-worker", now, expired, 10))
        .await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(app.worker.drain().await.unwrap().sent, 1);
    let rows = app.db(db::outbox::all).await;
    assert_eq!((rows[0].status.as_str(), rows[0].attempts), ("sent", 2));
}

/// A relay that takes only 7-bit mail (no 8BITMIME): confirmations (quoted-printable) go
/// through; digests, whose bodies are 8-bit UTF-8, fail at once with that reason rather than
/// being retried for days.
#[tokio::test]
async fn a_relay_without_8bitmime_gets_confirmations_and_refuses_digests_with_a_clear_reason() {
    let app = crate::helpers::spawn_app_without_workers().await;
    app.smtp.without_8bitmime();
    let path = app
        .pending_signup("settebit@example.org", "newsletter")
        .await;
    let mails = app.mails(1).await;
    assert!(mails[0].data.is_ascii());
    assert_eq!(app.confirm(&path).await.status(), 200);
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    let id = app.start_digest("newsletter", "Oggi").await;
    let sent = app.engine.drain().await.unwrap();
    assert_eq!((sent.sent, sent.failed, sent.retrying), (0, 1, 0));
    let rows = app.db(move |c| db::deliveries::of_digest(c, id)).await;
    assert_eq!(rows[0].status.as_str(), "failed");
    assert!(
        rows[0].last_error.as_deref().unwrap().contains("8BITMIME"),
        "{rows:?}"
    );
    assert_eq!(app.smtp.received().len(), 1, "only the confirmation");
}
