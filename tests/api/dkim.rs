//! DKIM: digests and confirmation mail signed with RSA or Ed25519, checked by an independent
//! verifier against the DNS record a receiver would fetch; and fixtures made with another
//! implementation, dkimpy (tests/fixtures/dkim/README.md), checked both ways.

use iscriviti::config::Settings;
use iscriviti::mail::DkimSigner;
use iscriviti::startup::Application;

use crate::helpers::dkim::{signature_tag, signed_headers, verify};
use crate::helpers::{spawn_app_with, Received, TestApp};

const RSA_TXT: &str = include_str!("../fixtures/dkim-rsa.txt");
const ED25519_TXT: &str = include_str!("../fixtures/dkim-ed25519.txt");

/// The message of the fixtures, unsigned; every fixture is it with a DKIM-Signature in front.
const UNSIGNED: &str = include_str!("../fixtures/dkim/unsigned.eml");

/// One key's fixtures: the message signed by dkimpy, and signed by `DkimSigner::sign_at`
/// (which dkimpy verified when the fixtures were made).
struct Signed {
    key_pem: &'static str,
    txt: &'static str,
    dkimpy: &'static str,
    ours: &'static str,
}

const FIXTURES: [Signed; 2] = [
    Signed {
        key_pem: include_str!("../fixtures/dkim-rsa.pem"),
        txt: RSA_TXT,
        dkimpy: include_str!("../fixtures/dkim/dkimpy-rsa.eml"),
        ours: include_str!("../fixtures/dkim/iscriviti-rsa.eml"),
    },
    Signed {
        key_pem: include_str!("../fixtures/dkim-ed25519.pem"),
        txt: ED25519_TXT,
        dkimpy: include_str!("../fixtures/dkim/dkimpy-ed25519.eml"),
        ours: include_str!("../fixtures/dkim/iscriviti-ed25519.eml"),
    },
];

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn with_key(s: &mut Settings, key: &str) {
    s.worker.enabled = false;
    s.delivery.enabled = false;
    s.mail.dkim.domain = Some("example.org".parse().unwrap());
    s.mail.dkim.selector = "news2026".parse().unwrap();
    s.mail.dkim.key_file = Some(fixture(key));
    s.mail.unsubscribe_mailto = Some("disiscrizioni@example.org".parse().unwrap());
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
    settings.mail.dkim.domain = Some("example.org".parse().unwrap());
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

/// `message` with its only instance of `from` replaced by `to`.
fn changed(message: &str, from: &str, to: &str) -> Vec<u8> {
    assert_eq!(
        message.matches(from).count(),
        1,
        "{from:?} is in the message once"
    );
    message.replacen(from, to, 1).into_bytes()
}

#[test]
fn messages_signed_by_dkimpy_verify_and_a_changed_body_byte_or_subject_does_not() {
    for f in &FIXTURES {
        assert!(f.dkimpy.ends_with(UNSIGNED), "dkimpy only added a header");
        assert_eq!(
            verify(f.dkimpy.as_bytes(), f.txt),
            Ok("example.org".to_owned())
        );
        // One byte of the text part.
        let body_changed = changed(f.dkimpy, "patto:  più", "patta:  più");
        assert_eq!(
            verify(&body_changed, f.txt),
            Err("body hash mismatch".to_owned())
        );
        let subject_changed = changed(f.dkimpy, "\r\nSubject: ", "\r\nSubject: Re: ");
        let err = verify(&subject_changed, f.txt).unwrap_err();
        assert!(err.contains("signature does not verify"), "{err}");
        // What relaxed canonicalization ignores, both implementations ignore.
        let respaced = changed(
            f.dkimpy,
            "Le notizie di oggi   \r\n",
            "Le notizie di oggi\t\r\n",
        );
        assert_eq!(verify(&respaced, f.txt), Ok("example.org".to_owned()));
        let other_key = if f.txt == RSA_TXT {
            ED25519_TXT
        } else {
            RSA_TXT
        };
        assert!(verify(f.dkimpy.as_bytes(), other_key).is_err());
    }
}

/// Writes tests/fixtures/dkim/iscriviti-*.eml afresh (see the README there):
/// `cargo test --test api -- --ignored write_our_signed_fixtures`.
#[test]
#[ignore = "writes fixtures; run by hand when they must be made again"]
fn write_our_signed_fixtures() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dkim");
    for (name, f) in ["rsa", "ed25519"].iter().zip(&FIXTURES) {
        let signer = DkimSigner::new("example.org", "news2026", f.key_pem).unwrap();
        let signed = signer.sign_at(UNSIGNED, FIXTURE_TIME);
        std::fs::write(dir.join(format!("iscriviti-{name}.eml")), signed).unwrap();
    }
}

/// The `t=` of every fixture.
const FIXTURE_TIME: u64 = 1772433000;

#[test]
fn signing_the_fixture_at_its_time_gives_exactly_the_bytes_dkimpy_verified() {
    for f in &FIXTURES {
        let t = signature_tag(f.ours.as_bytes(), "t").expect("t=");
        assert_eq!(t, FIXTURE_TIME.to_string());
        let signer = DkimSigner::new("example.org", "news2026", f.key_pem).unwrap();
        let signed = signer.sign_at(UNSIGNED, FIXTURE_TIME);
        assert_eq!(signed, f.ours);
        assert_eq!(
            verify(signed.as_bytes(), f.txt),
            Ok("example.org".to_owned())
        );
    }
}

#[test]
fn our_body_hash_and_signed_fields_are_those_dkimpy_chose_for_the_same_message() {
    for f in &FIXTURES {
        let theirs = signature_tag(f.dkimpy.as_bytes(), "bh").expect("bh=");
        assert_eq!(signature_tag(f.ours.as_bytes(), "bh"), Some(theirs.clone()));
        // The body hash does not depend on the time of signing.
        let now = DkimSigner::new("example.org", "news2026", f.key_pem)
            .unwrap()
            .sign(UNSIGNED);
        assert_eq!(signature_tag(now.as_bytes(), "bh"), Some(theirs));
        assert_eq!(
            signed_headers(f.dkimpy.as_bytes()),
            signed_headers(f.ours.as_bytes())
        );
    }
}
