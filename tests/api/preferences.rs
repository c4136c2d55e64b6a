use iscriviti::db;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_reader_picks_lists_and_language_on_the_preferences_page() {
    let app = spawn_app().await;
    app.create_list("economia", "Economia", true, true).await;
    let (sid, _) = app
        .confirmed_subscriber("preferenze@example.org", "newsletter")
        .await;
    let path = app.path_of(&app.state.links.preferences(sid));

    let html = app.get(&path).await.text().await.unwrap();
    assert!(html.contains("preferenze@example.org"));
    assert!(html.contains(r#"value="newsletter" checked"#));
    assert!(html.contains(r#"value="economia">"#));

    let res = app.post_form(&path, "lists=economia&lang=en").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Preferences saved."));
    assert_eq!(
        app.status_of("preferenze@example.org", "newsletter")
            .await
            .as_deref(),
        Some("unsubscribed")
    );
    assert_eq!(
        app.status_of("preferenze@example.org", "economia")
            .await
            .as_deref(),
        Some("confirmed")
    );

    let res = app.post_form(&path, "lists=nonexistent").await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        app.status_of("preferenze@example.org", "economia")
            .await
            .as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn erasing_removes_personal_data_and_keeps_a_hashed_suppression() {
    let app = spawn_app().await;
    let (sid, _) = app
        .confirmed_subscriber("cancellami@example.org", "newsletter")
        .await;
    let path = app.path_of(&app.state.links.preferences(sid));
    // A digest went out to them: its ledger row names them too.
    app.add_article("Notizia", "https://www.example.org/n")
        .await;
    app.start_digest("newsletter", "Oggi").await;
    assert_eq!(app.count("deliveries").await, 1);

    let res = app.post_form(&format!("{path}/erase"), "").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Dati cancellati"));
    assert_eq!(app.count("subscribers").await, 0);
    assert_eq!(app.count("subscriptions").await, 0);
    assert_eq!(app.count("tokens").await, 0);
    assert_eq!(app.count("deliveries").await, 0);
    let hash = app.state.suppression.entry("cancellami@example.org");
    assert!(app.db(move |c| db::suppressions::contains(c, &hash)).await);
    // The outbox keeps the fact that a mail went out, but not to whom or what it said.
    let rows = app.db(db::outbox::all).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].recipient, "");
    assert_eq!(rows[0].status.as_str(), "sent");

    // Erasing again, or opening the old link, is not an error that leaks anything.
    assert_eq!(
        app.post_form(&format!("{path}/erase"), "").await.status(),
        200
    );
    assert_eq!(app.get(&path).await.status(), 404);
}

#[tokio::test]
async fn an_erased_reader_who_signs_up_and_confirms_again_is_no_longer_suppressed() {
    let app = spawn_app().await;
    let (sid, _) = app
        .confirmed_subscriber("ritorno@example.org", "newsletter")
        .await;
    let path = app.path_of(&app.state.links.preferences(sid));
    assert_eq!(
        app.post_form(&format!("{path}/erase"), "").await.status(),
        200
    );
    app.confirmed_subscriber("ritorno@example.org", "newsletter")
        .await;
    let hash = app.state.suppression.entry("ritorno@example.org");
    assert!(!app.db(move |c| db::suppressions::contains(c, &hash)).await);
}

/// A row stored under older, looser rules is read as stored: its reader can still erase
/// their data, and a reminder run goes on past them.
#[tokio::test]
async fn addresses_stored_under_older_rules_are_erasable_and_do_not_stop_a_reminder() {
    let app = spawn_app().await;
    let old = ["twodots..here@example.org", "me@[127.0.0.1]"];
    let ids = app
        .db(move |c| {
            let now = chrono::Utc::now().naive_utc();
            let l = db::lists::by_slug(c, "newsletter")?.unwrap();
            let mut ids = Vec::new();
            for email in old {
                let s = db::subscribers::insert(c, email, None, "it", now)?;
                let pending = iscriviti::domain::SubscriptionStatus::Pending;
                db::subscribers::set_subscription(c, s.id, l.id, pending, "old", now)?;
                ids.push(s.id);
            }
            Ok(ids)
        })
        .await;
    let reminded = iscriviti::subscriptions::remind_pending(
        &app.state,
        iscriviti::domain::ListSlug::parse("newsletter").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(reminded.asked + reminded.unmailable, 2, "{reminded:?}");
    let path = app.path_of(&app.state.links.preferences(ids[1]));
    assert_eq!(
        app.post_form(&format!("{path}/erase"), "").await.status(),
        200
    );
    assert_eq!(app.count("suppressions").await, 1);
    assert!(app
        .db(|c| db::subscribers::by_email(c, "me@[127.0.0.1]"))
        .await
        .is_none());
}
