//! DKIM: digests and confirmation mail signed with RSA or Ed25519, checked by an independent
//! verifier against the DNS record a receiver would fetch.

use iscriviti::config::Settings;
use iscriviti::startup::Application;

use crate::helpers::dkim::{signed_headers, verify};
use crate::helpers::{spawn_app_with, Received, TestApp};

const RSA_TXT: &str = include_str!("../fixtures/dkim-rsa.txt");
const ED25519_TXT: &str = include_str!("../fixtures/dkim-ed25519.txt");

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn with_key(s: &mut Settings, key: &str) {
    s.worker.enabled = false;
    s.delivery.enabled = false;
    s.mail.dkim.domain = Some("example.org".into());
    s.mail.dkim.selector = "news2026".into();
    s.mail.dkim.key_file = Some(fixture(key));
    s.mail.unsubscribe_mailto = Some("disiscrizioni@example.org".into());
}

/// Two confirmed readers and a sent digest; returns the digest mails.
async fn digest_mails(app: &TestApp) -> Vec<Received> {
    app.seed_confirmed("newsletter", 2).await;
    app.add_article(
        "L’Italia e il “nuovo” patto: più lavoro, è così",
        "https://www.example.org/patto",
    )
    .await;
    app.start_digest("newsletter", "Le notizie: è già così")
        .await;
    assert_eq!(app.engine.drain().await.unwrap().sent, 2);
    let mails: Vec<Received> = app
        .smtp
        .received()
        .into_iter()
        .filter(|m| m.rcpt_to[0].starts_with("lettore"))
        .collect();
    assert_eq!(mails.len(), 2);
    mails
}

fn tampered(mail: &Received, from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(mail.data.clone()).unwrap();
    assert!(text.contains(from), "{from:?} is in the message");
    text.replacen(from, to, 1).into_bytes()
}

#[tokio::test]
async fn digests_are_signed_with_rsa_over_the_list_headers_and_verify() {
    let app = spawn_app_with(|s| with_key(s, "dkim-rsa.pem")).await;
    for mail in digest_mails(&app).await {
        assert_eq!(verify(&mail.data, RSA_TXT), Ok("example.org".to_owned()));
        let covered = signed_headers(&mail.data);
        for h in [
            "from",
            "subject",
            "date",
            "message-id",
            "list-id",
            "list-unsubscribe",
            "list-unsubscribe-post",
        ] {
            assert!(covered.iter().any(|c| c == h), "{h} is signed: {covered:?}");
        }
        let raw = String::from_utf8_lossy(&mail.data);
        assert!(raw.contains("s=news2026"), "selector");
        // The mailto alternative sits next to the https link.
        let parsed = mail.parsed();
        let list_unsubscribe = format!("{:?}", parsed.header("List-Unsubscribe").unwrap());
        assert!(list_unsubscribe.contains("mailto:disiscrizioni@example.org"));
        assert!(list_unsubscribe.contains("https://news.example.org/"));

        // A verifier that can fail: any change to a signed header or the body breaks it.
        let subject_changed = tampered(&mail, "Subject: ", "Subject: R");
        assert!(verify(&subject_changed, RSA_TXT).is_err());
        let body_changed = tampered(&mail, "patto", "patta");
        assert_eq!(
            verify(&body_changed, RSA_TXT),
            Err("body hash mismatch".to_owned())
        );
        let wrong_key = verify(&mail.data, ED25519_TXT);
        assert!(wrong_key.is_err(), "{wrong_key:?}");
    }
}

#[tokio::test]
async fn ed25519_signs_digests_and_confirmation_mail() {
    let app = spawn_app_with(|s| with_key(s, "dkim-ed25519.pem")).await;
    for mail in digest_mails(&app).await {
        assert_eq!(
            verify(&mail.data, ED25519_TXT),
            Ok("example.org".to_owned())
        );
        let list_id_changed = tampered(&mail, "List-Id: ", "List-Id: x");
        assert!(verify(&list_id_changed, ED25519_TXT).is_err());
    }
    app.subscribe("nuova@example.org", &["newsletter"]).await;
    app.worker.drain().await.unwrap();
    let confirmation = app
        .smtp
        .received()
        .into_iter()
        .find(|m| m.rcpt_to[0] == "nuova@example.org")
        .expect("the confirmation mail");
    assert_eq!(
        verify(&confirmation.data, ED25519_TXT),
        Ok("example.org".to_owned())
    );
}

#[tokio::test]
async fn a_bad_key_or_missing_domain_stops_the_start_with_a_clear_error() {
    // The key is checked before the database is opened: this one is never touched.
    let mut settings = Settings {
        database_url: iscriviti::config::Secret::new("sqlite://unused.db".into()),
        bind: "127.0.0.1:0".parse().unwrap(),
        ..Settings::default()
    };
    settings.mail.dkim.key_file = Some(fixture("README.md"));
    settings.mail.dkim.domain = Some("example.org".into());
    let err = Application::build(settings.clone())
        .await
        .err()
        .expect("refused");
    assert!(format!("{err:#}").contains("DKIM key"), "{err:#}");

    settings.mail.dkim.key_file = Some(fixture("dkim-rsa.pem"));
    settings.mail.dkim.domain = None;
    let err = Application::build(settings).await.err().expect("refused");
    assert!(format!("{err:#}").contains("mail.dkim.domain"), "{err:#}");
}
