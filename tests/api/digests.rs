//! Digests through the delivery engine, asserted on the parsed messages a real SMTP listener got.

use std::collections::HashMap;

use iscriviti::db;
use iscriviti::digests::{self, Control};
use mail_parser::{HeaderValue, MimeHeaders};

use crate::helpers::{
    html_unescape, spawn_app_with, spawn_app_without_workers, Received, SmtpMode,
};

fn header<'a>(m: &'a mail_parser::Message<'a>, name: &str) -> String {
    match m.header(name) {
        Some(HeaderValue::Text(t)) => t.to_string(),
        Some(other) => format!("{other:?}"),
        None => panic!("no {name} header"),
    }
}

fn raw_header(mail: &Received, name: &str) -> String {
    let text = String::from_utf8_lossy(&mail.data);
    let prefix = format!("{name}: ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_owned()
}

/// Whether an idle engine would tick now (its one-read check).
async fn engine_has_work(app: &crate::helpers::TestApp) -> bool {
    app.db(|c| db::digests::engine_has_work(c, chrono::Utc::now().naive_utc()))
        .await
}

#[tokio::test]
async fn every_confirmed_reader_gets_their_own_standard_compliant_copy() {
    standard_compliant_copies(true).await;
}

#[tokio::test]
async fn a_relay_without_chunking_gets_the_same_copies_with_data() {
    standard_compliant_copies(false).await;
}

/// Sent in groups with BDAT when the relay offers CHUNKING, else one by one with DATA.
async fn standard_compliant_copies(chunking: bool) {
    let app = spawn_app_without_workers().await;
    if !chunking {
        app.smtp.without_chunking();
    }
    let readers = app.seed_confirmed("newsletter", 3).await;
    app.pending_signup("in-attesa@example.org", "newsletter")
        .await;
    app.add_article(
        "Il porto di Trieste cresce: “è già così”",
        "https://www.example.org/slack",
    )
    .await;
    let id = app
        .start_digest(
            "newsletter",
            "Le notizie della settimana: più lette, è così",
        )
        .await;

    let sent = app.engine.drain().await.unwrap();
    assert_eq!(sent.sent, 3);
    let mails: Vec<Received> = app
        .smtp
        .received()
        .into_iter()
        .filter(|m| m.rcpt_to[0].starts_with("lettore"))
        .collect();
    assert_eq!(mails.len(), 3, "pending readers get no digest");
    let deliveries = app.db(move |c| db::deliveries::of_digest(c, id)).await;
    let by_subscriber: HashMap<i64, &db::deliveries::DeliveryRow> =
        deliveries.iter().map(|d| (d.subscriber_id, d)).collect();

    for mail in &mails {
        let parsed = mail.parsed();
        let i: usize = mail.rcpt_to[0]
            .trim_start_matches("lettore")
            .trim_end_matches("@example.org")
            .parse()
            .unwrap();
        assert_eq!(
            parsed.subject(),
            Some("Le notizie della settimana: più lette, è così")
        );
        let raw_subject = raw_header(mail, "Subject");
        assert!(
            raw_subject.is_ascii() && raw_subject.contains("=?utf-8?"),
            "RFC 2047: {raw_subject}"
        );
        assert_eq!(
            parsed.from().unwrap().first().unwrap().address(),
            Some("redazione@example.org")
        );
        assert!(parsed.date().is_some());
        let delivery = by_subscriber[&readers[i]];
        assert_eq!(
            Some(format!("<{}>", parsed.message_id().unwrap())),
            delivery.message_id,
            "Message-ID recorded"
        );
        assert_eq!(
            raw_header(mail, "List-Id"),
            "\"Newsletter\" <newsletter.news.example.org>"
        );
        assert_eq!(
            header(&parsed, "List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click"
        );
        let unsubscribe = raw_header(mail, "List-Unsubscribe");
        let link = unsubscribe.trim_start_matches('<').trim_end_matches('>');
        assert_eq!(
            link,
            app.state.links.unsubscribe(readers[i], 1),
            "each reader's own link"
        );
        assert_eq!(
            parsed.content_type().unwrap().c_subtype.as_deref(),
            Some("alternative")
        );
        let text = parsed.body_text(0).unwrap();
        assert!(text.starts_with(&format!("Ciao Lettore {i},")), "{text}");
        assert!(text.contains("Il porto di Trieste cresce: “è già così”"));
        assert!(text.contains("Niccolò Ferrè"));
        assert!(text.contains(link));
        let html = parsed.body_html(0).unwrap();
        assert!(html_unescape(&html)
            .contains("L’intesa è “storica”: più lavoro da remoto, è già così."));
        assert!(
            mail.data.split(|b| *b == b'\n').all(|l| l.len() <= 998),
            "no line over 998 octets"
        );
    }

    // The one-click link from a header unsubscribes that reader only.
    let first = mails
        .iter()
        .find(|m| m.rcpt_to[0] == "lettore0@example.org")
        .unwrap();
    let link = raw_header(first, "List-Unsubscribe");
    let path = app.path_of(link.trim_start_matches('<').trim_end_matches('>'));
    assert_eq!(
        app.post_form(&path, "List-Unsubscribe=One-Click")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.status_of("lettore0@example.org", "newsletter")
            .await
            .as_deref(),
        Some("unsubscribed")
    );
    assert_eq!(
        app.status_of("lettore1@example.org", "newsletter")
            .await
            .as_deref(),
        Some("confirmed")
    );
    let (d, p) = digests::status(&app.state.pool, id).await.unwrap();
    assert_eq!((d.status.as_str(), p.sent), ("sent", 3));
}

#[tokio::test]
async fn the_audience_is_frozen_at_send_time_and_leavers_and_blocked_readers_are_skipped() {
    let app = spawn_app_without_workers().await;
    let readers = app.seed_confirmed("newsletter", 4).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    let id = app.start_digest("newsletter", "Oggi").await;
    // After the start: one more confirmed reader, one reader leaves, one is blocked.
    app.confirmed_subscriber("tardiva@example.org", "newsletter")
        .await;
    iscriviti::subscriptions::unsubscribe(&app.state, readers[0], 1)
        .await
        .unwrap();
    let blocked = readers[1];
    app.db(move |c| {
        use diesel::prelude::*;
        use iscriviti::db::schema::subscribers;
        diesel::update(subscribers::table.find(blocked))
            .set(subscribers::blocked.eq(true))
            .execute(c)
    })
    .await;
    app.worker.drain().await.unwrap();
    let before = app.smtp.received().len();

    let sent = app.engine.drain().await.unwrap();
    assert_eq!((sent.sent, sent.skipped), (2, 2));
    let got: Vec<String> = app.smtp.received()[before..]
        .iter()
        .map(|m| m.rcpt_to[0].clone())
        .collect();
    assert!(!got.contains(&"tardiva@example.org".to_owned()));
    assert!(!got.contains(&"lettore0@example.org".to_owned()));
    assert!(!got.contains(&"lettore1@example.org".to_owned()));
    let p = digests::status(&app.state.pool, id).await.unwrap().1;
    assert_eq!((p.sent, p.skipped, p.total()), (2, 2, 4));
    app.assert_counts_match_rows(id).await;
}

#[tokio::test]
async fn temporary_failures_are_retried_permanent_ones_recorded_and_retry_failed_resends() {
    let app = spawn_app_with(|s| {
        s.worker.enabled = false;
        s.delivery.enabled = false;
        s.worker.retry_base_ms = 300u64.try_into().unwrap();
        s.worker.retry_max_ms = 300u64.try_into().unwrap();
    })
    .await;
    app.seed_confirmed("newsletter", 2).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    let id = app.start_digest("newsletter", "Oggi").await;

    app.smtp.set_mode(SmtpMode::PermFail);
    let sent = app.engine.drain().await.unwrap();
    assert_eq!((sent.sent, sent.failed), (0, 2));
    let rows = app.db(move |c| db::deliveries::of_digest(c, id)).await;
    assert!(
        rows.iter()
            .all(|r| r.status.as_str() == "failed"
                && r.last_error.as_deref().unwrap().contains("550"))
    );
    assert_eq!(
        digests::status(&app.state.pool, id)
            .await
            .unwrap()
            .0
            .status
            .as_str(),
        "sent",
        "finished, with failures"
    );
    app.assert_counts_match_rows(id).await;

    app.smtp.set_mode(SmtpMode::TempFail);
    assert!(!engine_has_work(&app).await, "a sent digest is no work");
    assert_eq!(digests::retry_failed(&app.state.pool, id).await.unwrap(), 2);
    assert!(engine_has_work(&app).await, "reopened deliveries are due");
    let sent = app.engine.drain().await.unwrap();
    assert_eq!(
        (sent.retrying, sent.sent),
        (2, 0),
        "retried later, not given up"
    );
    assert!(
        !engine_has_work(&app).await,
        "deliveries waiting for their retry are no work yet"
    );
    app.smtp.set_mode(SmtpMode::Accept);
    crate::helpers::eventually(10, "their retry to be due", || engine_has_work(&app)).await;
    app.engine.drain().await.unwrap();
    assert!(!engine_has_work(&app).await);
    let p = digests::status(&app.state.pool, id).await.unwrap().1;
    assert_eq!((p.sent, p.failed), (2, 0));
    assert_eq!(app.smtp.received().len(), 2);
    app.assert_counts_match_rows(id).await;
}

#[tokio::test]
async fn an_engine_stopped_mid_send_hands_its_untried_deliveries_on_at_once() {
    let app = spawn_app_with(|s| {
        s.worker.enabled = false;
        s.delivery.enabled = false;
        s.delivery.connections = 1usize.try_into().unwrap();
        // Far longer than the test: the rest must not wait for the lease to run out.
        s.delivery.lease_secs = 3600u64.try_into().unwrap();
    })
    .await;
    // More readers than one write carries to a relay that takes chunks (a group): a stop
    // lets the group on the wire finish, and hands on the rest.
    app.seed_confirmed("newsletter", 20).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    let id = app.start_digest("newsletter", "Oggi").await;
    app.smtp.set_delay(std::time::Duration::from_millis(200));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(app.engine.clone().run(stopped));
    app.smtp
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    let progress = digests::status(&app.state.pool, id).await.unwrap().1;
    assert_eq!(
        (progress.queued, progress.sending + progress.sent),
        (0, 20),
        "the batch is in flight or recorded as sent"
    );
    stop.send(true).unwrap();
    running.await.unwrap();
    assert!(app.smtp.received().len() < 20, "stopped mid-send");
    let progress = digests::status(&app.state.pool, id).await.unwrap().1;
    assert_eq!(progress.sending, 0, "handed back: nothing in flight");

    app.smtp.set_delay(std::time::Duration::ZERO);
    assert!(engine_has_work(&app).await, "the rest is work at once");
    app.engine.drain().await.unwrap();
    let mails = app.smtp.received();
    let mut readers: Vec<_> = mails.iter().map(|m| m.rcpt_to[0].clone()).collect();
    readers.sort();
    readers.dedup();
    assert_eq!((mails.len(), readers.len()), (20, 20), "everyone, once");
    let (digest, progress) = digests::status(&app.state.pool, id).await.unwrap();
    assert_eq!((digest.status.as_str(), progress.sent), ("sent", 20));
    let rows = app.db(move |c| db::deliveries::of_digest(c, id)).await;
    assert!(
        rows.iter()
            .all(|r| r.attempts == 1 && r.message_id.is_some()),
        "each recorded with its one attempt and Message-ID: {rows:?}"
    );
}

#[tokio::test]
async fn a_paused_digest_sends_nothing_until_resumed_and_a_cancelled_one_never() {
    let app = spawn_app_without_workers().await;
    app.seed_confirmed("newsletter", 2).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    let id = app.start_digest("newsletter", "Oggi").await;
    digests::control(&app.state.pool, id, Control::Pause)
        .await
        .unwrap();
    assert!(!engine_has_work(&app).await, "a paused digest is no work");
    assert_eq!(app.engine.drain().await.unwrap().sent, 0);
    digests::control(&app.state.pool, id, Control::Resume)
        .await
        .unwrap();
    assert!(engine_has_work(&app).await, "a resumed one is");
    assert_eq!(app.engine.drain().await.unwrap().sent, 2);

    app.add_article("Altra", "https://www.example.org/a").await;
    let second = app.start_digest("newsletter", "Domani").await;
    digests::control(&app.state.pool, second, Control::Cancel)
        .await
        .unwrap();
    assert_eq!(app.engine.drain().await.unwrap().sent, 0);
    let err = digests::control(&app.state.pool, second, Control::Resume)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cancelled"), "{err}");
}

#[tokio::test]
async fn a_scheduled_digest_starts_when_due_and_not_before() {
    let app = spawn_app_without_workers().await;
    app.seed_confirmed("newsletter", 1).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    let slug = iscriviti::domain::ListSlug::parse("newsletter").unwrap();
    let d = digests::create(&app.state.pool, slug, None, None)
        .await
        .unwrap();
    assert_eq!(d.subject, "Newsletter: Notizia", "default subject");
    let soon = chrono::Utc::now().naive_utc() + chrono::Duration::milliseconds(800);
    digests::schedule(&app.state.pool, d.id, soon)
        .await
        .unwrap();
    assert_eq!(
        app.engine.drain().await.unwrap().sent,
        0,
        "not before its time"
    );
    let sent = std::sync::atomic::AtomicUsize::new(0);
    crate::helpers::eventually(10, "the scheduled digest to go out", || async {
        let n = app.engine.drain().await.unwrap().sent;
        sent.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n > 0
    })
    .await;
    assert!(chrono::Utc::now().naive_utc() >= soon, "sent at its time");
    assert_eq!(sent.into_inner(), 1);
}

#[tokio::test]
async fn a_digest_needs_new_articles_and_the_next_one_takes_only_newer_ones() {
    let app = spawn_app_without_workers().await;
    let slug = || iscriviti::domain::ListSlug::parse("newsletter").unwrap();
    let err = digests::create(&app.state.pool, slug(), None, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no articles"), "{err}");
    app.add_article("Prima", "https://www.example.org/1").await;
    let first = app.start_digest("newsletter", "Uno").await;
    assert!(
        digests::create(&app.state.pool, slug(), None, None)
            .await
            .is_err(),
        "nothing new since the first"
    );
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.add_article("Seconda", "https://www.example.org/2")
        .await;
    let second = digests::create(&app.state.pool, slug(), None, None)
        .await
        .unwrap();
    let titles = app
        .db(move |c| db::digests::articles_of(c, second.id))
        .await;
    assert_eq!(
        titles.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(),
        ["Seconda"]
    );
    assert_ne!(first, second.id);
}

#[tokio::test]
async fn the_preview_renders_text_and_html_in_the_lists_language() {
    let app = spawn_app_without_workers().await;
    app.add_article("Notizia <importante>", "https://www.example.org/n")
        .await;
    let id = app.start_digest("newsletter", "Oggi").await;
    let (subject, text, html) = digests::preview(&app.state, id).await.unwrap();
    assert_eq!(subject, "Oggi");
    assert!(text.contains("Notizia <importante>"));
    assert!(
        html.contains("Notizia &lt;importante&gt;"),
        "HTML is escaped"
    );
    assert!(text.starts_with("Ciao Lettore,"));
}

#[tokio::test]
async fn a_confirmation_mail_does_not_wait_behind_a_running_digest() {
    let app = spawn_app_with(|s| {
        s.delivery.connections = 2usize.try_into().unwrap();
        s.delivery.batch_size = 20u32.try_into().unwrap();
        s.delivery.poll_interval_ms = 20u64.try_into().unwrap();
    })
    .await;
    app.seed_confirmed("newsletter", 120).await;
    app.add_article("Il porto cresce", "https://www.example.org/porto")
        .await;
    // A slow relay: the digest needs 120 × 40 ms / 2 connections ≈ 2.4 s.
    app.smtp.set_delay(std::time::Duration::from_millis(40));
    app.start_digest("newsletter", "Notizie").await;
    app.smtp
        .wait_for(5, std::time::Duration::from_secs(10))
        .await;

    assert_eq!(
        app.subscribe("nuova@example.org", &["newsletter"])
            .await
            .status(),
        200
    );
    let started = std::time::Instant::now();
    let confirmation = loop {
        let got = app.smtp.received();
        if let Some(i) = got.iter().position(|m| m.rcpt_to[0] == "nuova@example.org") {
            break i;
        }
        assert!(
            started.elapsed().as_secs() < 10,
            "the confirmation never came"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    // It went out on the transactional connections while the digest was still going.
    assert!(
        confirmation < 100,
        "the confirmation arrived after {confirmation} digest copies"
    );
    app.smtp
        .wait_for(121, std::time::Duration::from_secs(20))
        .await;
}

#[tokio::test]
async fn the_per_domain_cap_spaces_a_domains_messages() {
    let app = spawn_app_with(|s| {
        s.worker.enabled = false;
        s.delivery.enabled = false;
        s.delivery.per_domain_per_second = 4;
    })
    .await;
    // Six readers, all at example.org: slots 0, 0.25 ... 1.25 s.
    app.seed_confirmed("newsletter", 6).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    app.start_digest("newsletter", "Oggi").await;
    let started = std::time::Instant::now();
    let sent = app.engine.drain().await.unwrap();
    assert_eq!(sent.sent, 6);
    assert_eq!(app.smtp.received().len(), 6);
    let took = started.elapsed();
    assert!(took >= std::time::Duration::from_millis(1200), "{took:?}");
}

/// An instance that stalls past its lease (alive, not dead) and then records its batch must
/// leave the range to the instance that took it over: handing it back would let a third
/// instance send the same deliveries while the new owner is still sending them.
#[tokio::test]
async fn a_stalled_instance_leaves_a_range_taken_over_from_it_to_its_new_owner() {
    use chrono::Timelike;
    use diesel::prelude::*;
    use iscriviti::db::ranges;
    use iscriviti::db::schema::delivery_ranges as r;

    let app = spawn_app_without_workers().await;
    app.seed_confirmed("newsletter", 4).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    app.start_digest("newsletter", "Oggi").await;
    // Whole seconds: the lease times are compared after a round trip through the database.
    let t0 = chrono::Utc::now().naive_utc().with_nanosecond(0).unwrap();
    let lease = chrono::Duration::seconds(60);
    let later = t0 + lease + chrono::Duration::seconds(1);
    let suffix = ".test@example.org>";
    let ids = |c: &ranges::RangeClaim| c.deliveries.iter().map(|d| d.id).collect::<Vec<_>>();
    app.db(move |c| {
        let a = ranges::claim(c, "a", t0, t0 + lease, 2, suffix)?.expect("a range for A");
        let b = ranges::claim(c, "b", later, later + lease, 2, suffix)?.expect("one for B");
        assert_eq!(
            b.range_id, a.range_id,
            "the expired range is taken over first"
        );
        assert_eq!(ids(&b), ids(&a), "with its deliveries, all still untried");

        // A wakes up: it had sent the first, was stopped before the second, and hands back.
        ranges::mark_sent(c, a.deliveries[0].digest_id, &ids(&a)[..1], later, suffix)?;
        ranges::close(c, a.range_id, "a", later, true)?;
        let range: (String, chrono::NaiveDateTime) = r::table
            .find(a.range_id)
            .select((r::lease_owner, r::lease_until))
            .first(c)?;
        assert_eq!(
            range,
            ("b".to_owned(), later + lease),
            "still B's, lease untouched"
        );
        let third = ranges::claim(c, "c", later, later + lease, 2, suffix)?.expect("the rest");
        assert_ne!(
            third.range_id, a.range_id,
            "nothing of B's range for a third"
        );
        assert!(ids(&third).iter().all(|id| !ids(&a).contains(id)));

        // B records both (the first went twice: it was in flight when A's lease ran out).
        ranges::mark_sent(c, b.deliveries[0].digest_id, &ids(&b), later, suffix)?;
        ranges::close(c, b.range_id, "b", later, false)?;
        let left: i64 = r::table.find(b.range_id).count().get_result(c)?;
        assert_eq!(left, 0, "B forgets its range once nothing in it is untried");
        Ok(())
    })
    .await;
}

/// A retry leased on its own and handed back unsent (the instance stopped) is due again at
/// once, and goes out.
#[tokio::test]
async fn a_retry_handed_back_unsent_is_due_again_and_goes_out() {
    use iscriviti::db::{deliveries, ranges};

    let app = spawn_app_without_workers().await;
    app.seed_confirmed("newsletter", 2).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    let id = app.start_digest("newsletter", "Oggi").await;
    let suffix = ".test@example.org>";
    app.db(move |c| {
        let now = chrono::Utc::now().naive_utc();
        let lease = now + chrono::Duration::seconds(60);
        // One delivery sent; the other failed for a moment and waits for its retry, due now.
        let range = ranges::claim(c, "a", now, lease, 10, suffix)?.expect("the two");
        let (first, second) = (range.deliveries[0].id, range.deliveries[1].id);
        ranges::mark_sent(c, id, &[first], now, suffix)?;
        deliveries::mark_retry(c, second, 1, now, "451 try later")?;
        ranges::close(c, range.range_id, "a", now, false)?;
        // Leased on its own, then handed back without being sent.
        let claimed = deliveries::claim(c, "a", now, lease, 10, suffix)?;
        assert_eq!(claimed.iter().map(|d| d.id).collect::<Vec<_>>(), [second]);
        assert_eq!(deliveries::release(c, "a", &[second], now)?, 1);
        Ok(())
    })
    .await;
    assert!(engine_has_work(&app).await, "the retry is due at once");
    assert_eq!(app.engine.drain().await.unwrap().sent, 1);
    let (digest, progress) = digests::status(&app.state.pool, id).await.unwrap();
    assert_eq!((digest.status.as_str(), progress.sent), ("sent", 2));
    let rows = app.db(move |c| db::deliveries::of_digest(c, id)).await;
    assert_eq!(
        rows[1].attempts, 2,
        "the handed-back attempt is not counted"
    );
}

/// A reader erased while a digest is out leaves no delivery behind: it counts as skipped, and
/// the digest's progress still adds up to its audience.
#[tokio::test]
async fn a_reader_erased_mid_send_counts_as_skipped_and_the_digest_finishes() {
    let app = spawn_app_without_workers().await;
    let ids = app.seed_confirmed("newsletter", 3).await;
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    let id = app.start_digest("newsletter", "Oggi").await;
    let erased = ids[1];
    assert!(iscriviti::subscriptions::erase(&app.state, erased)
        .await
        .unwrap());
    app.engine.drain().await.unwrap();
    let (digest, p) = digests::status(&app.state.pool, id).await.unwrap();
    assert_eq!(digest.status.as_str(), "sent");
    assert_eq!(
        (p.sent, p.skipped, p.queued, p.sending, p.total()),
        (2, 1, 0, 0, 3)
    );
    assert_eq!(app.smtp.received().len(), 2);
}
