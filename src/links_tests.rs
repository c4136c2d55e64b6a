use chrono::{Duration, NaiveDate};

use super::*;

fn links() -> Links {
    Links::new(
        Url::parse("https://news.example.org/").unwrap(),
        vec![7; 32],
    )
}

fn now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 12, 2)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
}

fn signed(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

#[test]
fn signed_links_verify_and_tampering_is_refused() {
    let l = links();
    let url = l.unsubscribe(42, 7);
    assert!(url.starts_with("https://news.example.org/unsubscribe/42.7.k0."));
    assert_eq!(l.verify_unsubscribe(signed(&url)), Some((42, 7)));
    assert_eq!(
        l.verify_unsubscribe(&signed(&url).replacen("42", "43", 1)),
        None
    );
    assert_eq!(
        l.verify_preferences(signed(&url), now()),
        None,
        "purposes do not mix"
    );
    let other = Links::new(Url::parse("https://x.org").unwrap(), vec![8; 32]);
    assert_eq!(other.verify_unsubscribe(signed(&url)), None);
    // Every tag, whatever characters it holds, verifies (no separator clash).
    for id in 0..500 {
        let p = l.preferences_at(id, now());
        assert_eq!(
            l.verify_preferences(signed(&p), now()),
            Some(PreferencesLink::Valid(id))
        );
    }
    assert_eq!(l.verify_preferences("junk", now()), None);
}

/// Links in mail already sent must keep verifying: the tags are HMAC-SHA256 of
/// `purpose:payload`, truncated to 16 bytes (values from Python's `hmac`).
#[test]
fn unsubscribe_links_from_before_key_ids_keep_working() {
    let l = links();
    assert_eq!(
        l.unsubscribe(42, 7),
        "https://news.example.org/unsubscribe/42.7.k0.GIQkJBUBrNMLCRM2Rlxgcw"
    );
    assert_eq!(
        l.verify_unsubscribe("42.7.GIQkJBUBrNMLCRM2Rlxgcw"),
        Some((42, 7))
    );
    // A preferences link from then is signed, but expired: its age is unknown.
    assert_eq!(
        l.verify_preferences("42.WmZQSeeoHw1ni77ZlEWrpA", now()),
        Some(PreferencesLink::Expired)
    );
    assert_eq!(
        l.verify_preferences("42.WmZQSeeoHw1ni77ZlEWrpB", now()),
        None
    );
}

#[test]
fn preferences_links_expire() {
    let l = links().with_preferences_ttl(Duration::days(30));
    let url = l.preferences_at(5, now());
    let at = |days| now() + Duration::days(days);
    assert_eq!(
        l.verify_preferences(signed(&url), at(29)),
        Some(PreferencesLink::Valid(5))
    );
    assert_eq!(
        l.verify_preferences(signed(&url), at(31)),
        Some(PreferencesLink::Expired)
    );
    assert_eq!(
        l.verify_preferences(signed(&url), at(-1)),
        Some(PreferencesLink::Expired),
        "not issued in the future"
    );
}

/// A new key signs while the old ones still verify; retiring the stored key ends the links it
/// signed.
#[test]
fn keys_rotate_by_id() {
    let old = links();
    let old_url = old.unsubscribe(1, 2);
    let rotated = links().with_keys(&[("k2026".into(), vec![9; 32])], Some("k2026"), false);
    let new_url = rotated.unsubscribe(1, 2);
    assert!(new_url.contains("/1.2.k2026."), "{new_url}");
    assert_eq!(rotated.verify_unsubscribe(signed(&new_url)), Some((1, 2)));
    assert_eq!(rotated.verify_unsubscribe(signed(&old_url)), Some((1, 2)));
    assert_eq!(old.verify_unsubscribe(signed(&new_url)), None);
    assert_eq!(
        rotated.installation_tag(),
        old.installation_tag(),
        "Message-IDs do not change with the signing key"
    );
    let retired = links().with_keys(&[("k2026".into(), vec![9; 32])], Some("k2026"), true);
    assert_eq!(retired.verify_unsubscribe(signed(&old_url)), None);
    assert_eq!(
        retired.verify_unsubscribe("1.2.GIQkJBUBrNMLCRM2Rlxgcw"),
        None
    );
    assert_eq!(retired.verify_unsubscribe(signed(&new_url)), Some((1, 2)));
}
