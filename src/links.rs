//! Links put in mail. Confirmation links carry a random [`Token`] (stored hashed, expiring).
//! Unsubscribe and preferences links must keep working in any old mail and one is needed per
//! recipient of every digest, so instead of a stored token they carry the ids they act on and
//! an HMAC-SHA256 (128-bit tag) under a key every instance shares through the database.

use std::fmt::Write as _;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;

use crate::domain::{Lang, Token};

type HmacSha256 = Hmac<Sha256>;
const TAG_BYTES: usize = 16;
/// Room for a signed path part: two ids (up to 20 digits each), two dots, a 22-character tag.
const SIGNED_ROOM: usize = 80;

/// Builds and checks the links in outgoing mail.
#[derive(Clone)]
pub struct Links {
    base: Url,
    /// The HMAC with the key already absorbed: every tag clones it instead of hashing the key
    /// again (two of the four SHA-256 blocks a tag costs; two tags per digest copy).
    keyed: HmacSha256,
}

impl Links {
    /// `base` is the public URL of the service; `key` the shared signing key.
    pub fn new(base: Url, key: Vec<u8>) -> Self {
        Self {
            base,
            keyed: HmacSha256::new_from_slice(&key).expect("HMAC takes any key length"),
        }
    }

    /// The host of the public URL (List-Id and Message-ID domains are minted under it).
    pub fn host(&self) -> &str {
        self.base.host_str().unwrap_or("localhost")
    }

    /// A short tag unique to this installation (derived from the signing key), so Message-IDs
    /// minted from database ids never collide with another installation's.
    pub fn installation_tag(&self) -> String {
        let bytes = self.mac("message-id", "").finalize().into_bytes();
        hex::encode(&bytes[..6])
    }

    fn url(&self, path: &str) -> String {
        let mut url = self.url_with_room(path.len());
        url.push_str(path);
        url
    }

    /// The public URL without its final slash, with room for `more` octets.
    fn url_with_room(&self, more: usize) -> String {
        let base = self.base.as_str().trim_end_matches('/');
        let mut url = String::with_capacity(base.len() + more);
        url.push_str(base);
        url
    }

    /// Opens the confirmation page.
    pub fn confirm(&self, token: &Token, lang: Lang) -> String {
        self.url(&format!(
            "/confirm?token={}&lang={}",
            token.expose(),
            lang.code()
        ))
    }

    /// Unsubscribes one subscriber from one list (also the RFC 8058 one-click target).
    pub fn unsubscribe(&self, subscriber_id: i64, list_id: i64) -> String {
        // Built in one string: one of these and one preferences link go in every digest copy.
        let mut url = self.url_with_room(SIGNED_ROOM);
        url.push_str("/unsubscribe/");
        self.sign_into(&mut url, "u", |p| write!(p, "{subscriber_id}.{list_id}"));
        url
    }

    /// Opens a subscriber's preferences page.
    pub fn preferences(&self, subscriber_id: i64) -> String {
        let mut url = self.url_with_room(SIGNED_ROOM);
        url.push_str("/preferences/");
        self.sign_into(&mut url, "p", |p| write!(p, "{subscriber_id}"));
        url
    }

    /// The signed part of an unsubscribe link, as it appears in the path.
    pub fn sign_pair(&self, purpose: &str, a: i64, b: i64) -> String {
        let mut signed = String::with_capacity(SIGNED_ROOM);
        self.sign_into(&mut signed, purpose, |p| write!(p, "{a}.{b}"));
        signed
    }

    /// The signed part of a preferences link.
    pub fn sign_one(&self, purpose: &str, a: i64) -> String {
        let mut signed = String::with_capacity(SIGNED_ROOM);
        self.sign_into(&mut signed, purpose, |p| write!(p, "{a}"));
        signed
    }

    /// Appends the payload `write` writes, a dot and the payload's tag.
    fn sign_into(
        &self,
        out: &mut String,
        purpose: &str,
        write: impl FnOnce(&mut String) -> std::fmt::Result,
    ) {
        let start = out.len();
        write(out).expect("writing to a String cannot fail");
        let bytes = self.mac(purpose, &out[start..]).finalize().into_bytes();
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&bytes[..TAG_BYTES], out);
    }

    fn mac(&self, purpose: &str, payload: &str) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(payload.as_bytes());
        mac
    }

    fn verify(&self, purpose: &str, signed: &str) -> Option<Vec<i64>> {
        // `.` separates the parts: it is not in the base64url alphabet of the tag.
        let (payload, tag) = signed.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        if tag.len() != TAG_BYTES {
            return None;
        }
        // Constant-time comparison of the truncated tag.
        self.mac(purpose, payload)
            .verify_truncated_left(&tag)
            .ok()?;
        payload.split('.').map(|p| p.parse().ok()).collect()
    }

    /// The (subscriber, list) an unsubscribe link names, if its signature holds.
    pub fn verify_unsubscribe(&self, signed: &str) -> Option<(i64, i64)> {
        match self.verify("u", signed)?.as_slice() {
            [s, l] => Some((*s, *l)),
            _ => None,
        }
    }

    /// The subscriber a preferences link names, if its signature holds.
    pub fn verify_preferences(&self, signed: &str) -> Option<i64> {
        match self.verify("p", signed)?.as_slice() {
            [s] => Some(*s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> Links {
        Links::new(
            Url::parse("https://news.example.org/").unwrap(),
            vec![7; 32],
        )
    }

    #[test]
    fn signed_links_verify_and_tampering_is_refused() {
        let l = links();
        let url = l.unsubscribe(42, 7);
        assert!(url.starts_with("https://news.example.org/unsubscribe/42.7."));
        let signed = url.rsplit('/').next().unwrap();
        assert_eq!(l.verify_unsubscribe(signed), Some((42, 7)));
        assert_eq!(l.verify_unsubscribe(&signed.replacen("42", "43", 1)), None);
        assert_eq!(l.verify_preferences(signed), None, "purposes do not mix");
        let other = Links::new(Url::parse("https://x.org").unwrap(), vec![8; 32]);
        assert_eq!(other.verify_unsubscribe(signed), None);
        let p = l.preferences(42);
        assert_eq!(
            l.verify_preferences(p.rsplit('/').next().unwrap()),
            Some(42)
        );
        assert_eq!(l.verify_preferences("42.AAAA"), None);
        // Every tag, whatever characters it holds, verifies (no separator clash).
        for id in 0..500 {
            let p = l.preferences(id);
            assert_eq!(
                l.verify_preferences(p.rsplit('/').next().unwrap()),
                Some(id)
            );
        }
        assert_eq!(l.verify_preferences("junk"), None);
    }

    /// Links in mail already sent must keep verifying: the tags are HMAC-SHA256 of
    /// `purpose:payload`, truncated to 16 bytes (values from Python's `hmac`).
    #[test]
    fn tags_are_the_documented_hmac_so_old_links_keep_working() {
        let l = links();
        assert_eq!(
            l.unsubscribe(42, 7),
            "https://news.example.org/unsubscribe/42.7.GIQkJBUBrNMLCRM2Rlxgcw"
        );
        assert_eq!(
            l.preferences(42),
            "https://news.example.org/preferences/42.WmZQSeeoHw1ni77ZlEWrpA"
        );
        assert_eq!(l.sign_pair("u", 42, 7), "42.7.GIQkJBUBrNMLCRM2Rlxgcw");
        assert_eq!(l.sign_one("p", 42), "42.WmZQSeeoHw1ni77ZlEWrpA");
    }
}
