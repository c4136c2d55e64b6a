//! What the links in mail can do: an unsubscribe link only unsubscribes (and undoes it), a
//! preferences link expires and a fresh one comes by mail, keys rotate by id.

use chrono::{Duration, Utc};

use crate::helpers::{html_unescape, spawn_app, spawn_app_with};

/// The unsubscribe link, which anyone the digest is forwarded to can read, shows no address
/// and leads to no preferences; it unsubscribes, and can undo that a moment later.
#[tokio::test]
async fn an_unsubscribe_link_only_unsubscribes_and_can_undo_it() {
    let app = spawn_app().await;
    let (sid, lid) = app
        .confirmed_subscriber("inoltrata@example.org", "newsletter")
        .await;
    let path = app.path_of(&app.state.links.unsubscribe(sid, lid));
    let page = html_unescape(&app.get(&path).await.text().await.unwrap());
    assert!(!page.contains("inoltrata"), "no address on the page");
    assert!(!page.contains("/preferences/"), "no way to the preferences");
    assert!(page.contains("href=\"/manage?lang=it\""));

    let done = html_unescape(&app.post_form(&path, "").await.text().await.unwrap());
    assert_eq!(
        app.status_of("inoltrata@example.org", "newsletter")
            .await
            .as_deref(),
        Some("unsubscribed")
    );
    assert!(
        done.contains(&format!("action=\"{path}/undo?lang=it\"")),
        "{done}"
    );
    assert_eq!(
        app.post_form(&format!("{path}/undo"), "").await.status(),
        200
    );
    assert_eq!(
        app.status_of("inoltrata@example.org", "newsletter")
            .await
            .as_deref(),
        Some("confirmed")
    );

    // A day later, undoing is too late: only a new signup, confirmed, brings them back.
    app.post_form(&path, "").await;
    app.db(|c| {
        use diesel::prelude::*;
        use iscriviti::db::schema::subscriptions as s;
        let then = Utc::now().naive_utc() - Duration::days(2);
        diesel::update(s::table)
            .set(s::unsubscribed_at.eq(Some(then)))
            .execute(c)
    })
    .await;
    let late = app.post_form(&format!("{path}/undo"), "").await;
    assert!(late.text().await.unwrap().contains("troppo tempo"));
    assert_eq!(
        app.status_of("inoltrata@example.org", "newsletter")
            .await
            .as_deref(),
        Some("unsubscribed")
    );
}

/// A preferences link works for `links.preferences_ttl_days`; an older one shows a page that
/// offers a fresh link, and erases nothing.
#[tokio::test]
async fn a_preferences_link_expires_and_a_fresh_one_comes_by_mail() {
    let app = spawn_app().await;
    let (sid, _) = app
        .confirmed_subscriber("scaduta@example.org", "newsletter")
        .await;
    let old = Utc::now().naive_utc() - Duration::days(31);
    let stale = app.path_of(&app.state.links.preferences_at(sid, old));
    let res = app.get(&stale).await;
    assert_eq!(res.status(), 410);
    assert!(html_unescape(&res.text().await.unwrap()).contains("href=\"/manage?lang=it\""));
    assert_eq!(
        app.post_form(&format!("{stale}/erase"), "").await.status(),
        410
    );
    assert_eq!(app.count("subscribers").await, 1, "nothing erased");

    let before = app.smtp.received().len();
    let asked = app
        .post_form("/manage", "email=scaduta%40example.org&lang=it")
        .await;
    assert_eq!(asked.status(), 200);
    let answer = asked.text().await.unwrap();
    let nobody = app
        .post_form("/manage", "email=nessuno%40example.org&lang=it")
        .await;
    assert_eq!(
        nobody.text().await.unwrap(),
        answer,
        "the same answer for anybody"
    );
    app.worker.drain().await.unwrap();
    let mails = app.mails(before + 1).await;
    assert_eq!(mails.len(), before + 1, "one mail, to the subscriber");
    let mail = &mails[before];
    assert_eq!(mail.rcpt_to, ["scaduta@example.org"]);
    let text = mail.parsed().body_text(0).unwrap().into_owned();
    let fresh = text
        .split_whitespace()
        .find(|w| w.contains("/preferences/"))
        .expect("a preferences link");
    let res = app.get(&app.path_of(fresh)).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("scaduta@example.org"));
}

/// Links carry the id of the key that signed them: a configured key signs new links, and
/// links signed with the stored key keep working until it is retired.
#[tokio::test]
async fn links_signed_with_an_older_key_keep_working_after_a_rotation() {
    let app = spawn_app_with(|s| {
        s.links.keys.insert(
            "k2026".into(),
            iscriviti::config::Secret::new("ab".repeat(32)),
        );
        s.links.sign_with = Some("k2026".into());
    })
    .await;
    let (sid, lid) = app
        .confirmed_subscriber("ruotata@example.org", "newsletter")
        .await;
    let new = app.state.links.unsubscribe(sid, lid);
    assert!(new.contains(&format!("/{sid}.{lid}.k2026.")), "{new}");
    let stored: String = app
        .db(|c| {
            use diesel::prelude::*;
            use iscriviti::db::schema::settings as s;
            s::table.find("link_key").select(s::value).first(c)
        })
        .await;
    let before = iscriviti::links::Links::new(
        crate::helpers::BASE_URL.parse().unwrap(),
        hex::decode(stored).unwrap(),
    );
    let old = before.unsubscribe(sid, lid);
    assert!(old.contains(".k0."), "{old}");
    for link in [new, old] {
        assert_eq!(app.get(&app.path_of(&link)).await.status(), 200, "{link}");
    }
    let forged = format!("/unsubscribe/{sid}.{lid}.k2026.AAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(app.get(&forged).await.status(), 404);
}
