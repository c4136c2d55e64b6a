//! Links put in mail. Confirmation links carry a random [`Token`] (stored hashed, expiring).
//! Unsubscribe and preferences links are needed for every recipient of every digest, so
//! instead of a stored token they carry the ids they act on and an HMAC-SHA256 (128-bit tag):
//!
//! - `/unsubscribe/{subscriber}.{list}.{key id}.{tag}` only unsubscribes from that list (and
//!   offers to undo it): it keeps working in any old mail, which anyone a digest is forwarded
//!   to can read.
//! - `/preferences/{subscriber}.{issued}.{key id}.{tag}` shows the address and can erase the
//!   reader's data: it expires (`links.preferences_ttl_days`), and the reader asks for a fresh
//!   one by mail.
//!
//! Keys have ids, so a new key can sign while the old ones still verify until they are
//! retired. The key stored in the database (made at the first start, shared by every instance)
//! signs when no key is configured, and verifies links from before key ids (`{s}.{l}.{tag}`).

use std::fmt::Write as _;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;

use crate::domain::{Lang, Token};

type HmacSha256 = Hmac<Sha256>;
const TAG_BYTES: usize = 16;
/// Room for a signed path part: two numbers (up to 20 digits each), a key id, three dots, a
/// 22-character tag.
const SIGNED_ROOM: usize = 96;
/// The id of the key stored in the database.
pub const STORED_KEY_ID: &str = "k0";

/// A signing key with its id.
#[derive(Clone)]
struct Key {
    id: String,
    /// The HMAC with the key already absorbed: every tag clones it instead of hashing the key
    /// again (two of the four SHA-256 blocks a tag costs; two tags per digest copy).
    keyed: HmacSha256,
}

impl Key {
    fn new(id: &str, secret: &[u8]) -> Self {
        Self {
            id: id.to_owned(),
            keyed: HmacSha256::new_from_slice(secret).expect("HMAC takes any key length"),
        }
    }

    fn mac(&self, purpose: &str, payload: &str) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(purpose.as_bytes());
        mac.update(b":");
        mac.update(payload.as_bytes());
        mac
    }
}

/// What a preferences link says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreferencesLink {
    /// Signed, and younger than the links' lifetime.
    Valid(i64),
    /// Signed, but too old (or from before preferences links expired): a fresh one is sent
    /// by mail on request.
    Expired,
}

/// Builds and checks the links in outgoing mail.
#[derive(Clone)]
pub struct Links {
    base: Url,
    /// Signs new links.
    signing: Key,
    /// Verifies links, the signing key included.
    verifying: Vec<Key>,
    /// Verifies links from before key ids, when the stored key is not retired.
    legacy: Option<Key>,
    preferences_ttl: chrono::Duration,
}

impl Links {
    /// `base` is the public URL of the service; `stored` the key kept in the database. Links
    /// are signed with it and have a 30-day preferences lifetime until `with_keys` says
    /// otherwise.
    pub fn new(base: Url, stored: Vec<u8>) -> Self {
        let key = Key::new(STORED_KEY_ID, &stored);
        Self {
            base,
            signing: key.clone(),
            verifying: vec![key.clone()],
            legacy: Some(key),
            preferences_ttl: chrono::Duration::days(30),
        }
    }

    /// Configured keys `(id, secret)`: `sign_with` signs; all of them, and the stored key
    /// unless `retire_stored`, verify.
    pub fn with_keys(
        mut self,
        keys: &[(String, Vec<u8>)],
        sign_with: Option<&str>,
        retire_stored: bool,
    ) -> Self {
        for (id, secret) in keys {
            self.verifying.push(Key::new(id, secret));
        }
        if let Some(id) = sign_with {
            if let Some(key) = self.verifying.iter().find(|k| k.id == id) {
                self.signing = key.clone();
            }
        }
        if retire_stored {
            self.verifying.retain(|k| k.id != STORED_KEY_ID);
            self.legacy = None;
        }
        self
    }

    /// How long a preferences link works.
    pub fn with_preferences_ttl(mut self, ttl: chrono::Duration) -> Self {
        self.preferences_ttl = ttl;
        self
    }

    /// The host of the public URL (List-Id and Message-ID domains are minted under it).
    pub fn host(&self) -> &str {
        self.base.host_str().unwrap_or("localhost")
    }

    /// A short tag unique to this installation (derived from the stored key, whatever signs
    /// links), so Message-IDs minted from database ids never collide with another
    /// installation's and stay the same when keys rotate.
    pub fn installation_tag(&self) -> String {
        let key = self.legacy.as_ref().unwrap_or(&self.signing);
        let bytes = key.mac("message-id", "").finalize().into_bytes();
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

    /// A page on the service (`/manage`...).
    pub fn page(&self, path: &str) -> String {
        self.url(path)
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

    /// Opens a subscriber's preferences page, for `preferences_ttl` from `now`.
    pub fn preferences_at(&self, subscriber_id: i64, now: NaiveDateTime) -> String {
        let issued = now.and_utc().timestamp();
        let mut url = self.url_with_room(SIGNED_ROOM);
        url.push_str("/preferences/");
        self.sign_into(&mut url, "p", |p| write!(p, "{subscriber_id}.{issued}"));
        url
    }

    /// Opens a subscriber's preferences page, from now.
    pub fn preferences(&self, subscriber_id: i64) -> String {
        self.preferences_at(subscriber_id, chrono::Utc::now().naive_utc())
    }

    /// Appends the payload `write` writes, the signing key's id and the payload's tag.
    fn sign_into(
        &self,
        out: &mut String,
        purpose: &str,
        write: impl FnOnce(&mut String) -> std::fmt::Result,
    ) {
        let start = out.len();
        write(out).expect("writing to a String cannot fail");
        let bytes = self
            .signing
            .mac(purpose, &out[start..])
            .finalize()
            .into_bytes();
        out.push('.');
        out.push_str(&self.signing.id);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&bytes[..TAG_BYTES], out);
    }

    /// The numbers a signed part names, if a key it names (or, for a part from before key
    /// ids, the stored key) verifies it.
    fn verify(&self, purpose: &str, signed: &str) -> Option<Vec<i64>> {
        // `.` separates the parts: it is not in the base64url alphabet of the tag.
        let (rest, tag) = signed.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        if tag.len() != TAG_BYTES {
            return None;
        }
        let (payload, key) = match rest.rsplit_once('.') {
            Some((payload, id)) if id.starts_with(|c: char| c.is_ascii_alphabetic()) => {
                (payload, self.verifying.iter().find(|k| k.id == id)?)
            }
            _ => (rest, self.legacy.as_ref()?),
        };
        // Constant-time comparison of the truncated tag.
        key.mac(purpose, payload).verify_truncated_left(&tag).ok()?;
        payload.split('.').map(|p| p.parse().ok()).collect()
    }

    /// The (subscriber, list) an unsubscribe link names, if its signature holds.
    pub fn verify_unsubscribe(&self, signed: &str) -> Option<(i64, i64)> {
        match self.verify("u", signed)?.as_slice() {
            [s, l] => Some((*s, *l)),
            _ => None,
        }
    }

    /// What a preferences link is worth at `now`, if its signature holds.
    pub fn verify_preferences(&self, signed: &str, now: NaiveDateTime) -> Option<PreferencesLink> {
        match self.verify("p", signed)?.as_slice() {
            [s, issued] => {
                let age = now.and_utc().timestamp() - issued;
                let fresh = (0..=self.preferences_ttl.num_seconds()).contains(&age);
                Some(match fresh {
                    true => PreferencesLink::Valid(*s),
                    false => PreferencesLink::Expired,
                })
            }
            // From before preferences links expired: its age is unknown.
            [_] => Some(PreferencesLink::Expired),
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "links_tests.rs"]
mod tests;
