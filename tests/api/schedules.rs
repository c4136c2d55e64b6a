//! Automatic digests: a list's cadence builds and sends a digest when its time comes, only when
//! there are new articles, and moves on to the next run in the list's time zone.

use chrono::{Duration, NaiveDateTime, Utc};
use iscriviti::db;
use iscriviti::digests;
use iscriviti::domain::{parse_time_zone, Cadence, ListSlug};

use crate::helpers::{spawn_app_without_workers, TestApp};

async fn next_run(app: &TestApp) -> NaiveDateTime {
    app.db(db::schedules::all).await[0].1.next_run_at
}

/// Pretends the run time has come (as if the clock had reached it).
async fn make_due(app: &TestApp) {
    app.db(|c| {
        let s = db::schedules::all(c)?.remove(0).1;
        let past = Utc::now().naive_utc() - Duration::minutes(1);
        db::schedules::advance(c, s.list_id, s.next_run_at, past)
    })
    .await;
}

async fn digest_count(app: &TestApp) -> i64 {
    app.count("digests").await
}

#[tokio::test]
async fn a_weekly_cadence_sends_when_due_only_with_new_articles_and_moves_on() {
    let app = spawn_app_without_workers().await;
    app.seed_confirmed("newsletter", 3).await;
    let rome = parse_time_zone("Europe/Rome").unwrap();
    let cadence = Cadence::parse("weekly mon 08:00").unwrap();
    let first = digests::set_schedule(
        &app.state.pool,
        ListSlug::parse("newsletter").unwrap(),
        cadence.clone(),
        rome,
    )
    .await
    .unwrap();
    assert_eq!(first, cadence.next_after(rome, Utc::now().naive_utc()));
    assert!(first > Utc::now().naive_utc());

    // Not due yet: nothing happens, even with articles waiting.
    app.add_article("Primo articolo: è così", "https://www.example.org/1")
        .await;
    app.engine.drain().await.unwrap();
    assert_eq!(digest_count(&app).await, 0);

    // Due with new articles: one digest goes to every reader; the next run is a week on.
    make_due(&app).await;
    let sent = app.engine.drain().await.unwrap();
    assert_eq!(sent.sent, 3);
    assert_eq!(digest_count(&app).await, 1);
    let subjects: Vec<_> = app
        .smtp
        .received()
        .iter()
        .map(|m| m.parsed().subject().unwrap().to_owned())
        .collect();
    assert!(subjects
        .iter()
        .all(|s| s == "Newsletter: Primo articolo: è così"));
    let next = next_run(&app).await;
    assert!(next > Utc::now().naive_utc());
    assert_eq!(next, cadence.next_after(rome, Utc::now().naive_utc()));

    // Due again with nothing new since: no digest, but the schedule still moves on.
    make_due(&app).await;
    app.engine.drain().await.unwrap();
    assert_eq!(digest_count(&app).await, 1);
    assert!(next_run(&app).await > Utc::now().naive_utc());

    // A newer article: the next run carries it alone.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    app.add_article("Secondo articolo", "https://www.example.org/2")
        .await;
    make_due(&app).await;
    assert_eq!(app.engine.drain().await.unwrap().sent, 3);
    let second = app.db(|c| db::digests::by_id(c, 2)).await.unwrap();
    let articles = app.db(|c| db::digests::articles_of(c, 2)).await;
    assert_eq!(second.status.as_str(), "sent");
    assert_eq!(
        articles
            .iter()
            .map(|a| a.title.as_str())
            .collect::<Vec<_>>(),
        ["Secondo articolo"]
    );

    // Off: due or not, nothing more.
    assert!(
        digests::unset_schedule(&app.state.pool, ListSlug::parse("newsletter").unwrap())
            .await
            .unwrap()
    );
    assert!(app.db(db::schedules::all).await.is_empty());
}

#[tokio::test]
async fn only_one_of_two_racing_passes_builds_the_digest() {
    let app = spawn_app_without_workers().await;
    app.seed_confirmed("newsletter", 2).await;
    app.add_article("Un articolo", "https://www.example.org/a")
        .await;
    digests::set_schedule(
        &app.state.pool,
        ListSlug::parse("newsletter").unwrap(),
        Cadence::parse("daily 08:00").unwrap(),
        parse_time_zone("Europe/Rome").unwrap(),
    )
    .await
    .unwrap();
    make_due(&app).await;
    // Two passes race for the run, each in its own transaction, as two `serve` processes would.
    let other = app.engine.clone();
    let (a, b) = tokio::join!(app.engine.drain(), other.drain());
    assert_eq!(a.unwrap().sent + b.unwrap().sent, 2);
    assert_eq!(digest_count(&app).await, 1);
}
