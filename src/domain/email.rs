//! The one address type: what a reader may sign up with is exactly what can be put on an SMTP
//! envelope. Internationalised addresses (RFC 6530/6531) are accepted; what no receiver
//! accepts (IP literals, dotless or over-long domains, quoted or malformed local parts,
//! invalid IDNA) is refused.

use std::borrow::Cow;

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{GeneralCategory, GeneralCategoryGroup};
use icu_properties::CodePointMapData;
use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use lettre::Address;
use sha2::{Digest, Sha256};

use super::{has_control_chars, DomainError};

/// A valid, normalised address: NFC, lower-cased, its domain in Unicode (U-labels).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubscriberEmail {
    stored: String,
    /// The same address with its domain in A-labels, as it goes on the envelope and in `To:`.
    envelope: Address,
}

/// RFC 5321 caps a path at 256 octets, so an address at 254.
const MAX_LEN: usize = 254;
/// RFC 5321 4.5.3.1.1.
const MAX_LOCAL: usize = 64;

impl SubscriberEmail {
    /// The longest address accepted, in octets.
    pub const MAX_LEN: usize = MAX_LEN;

    /// Parses user input. Addresses are compared case-insensitively everywhere (mailbox
    /// providers treat the local part so in practice), so they are stored lower-cased.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let trimmed = input.trim();
        if trimmed.is_empty() || trimmed.len() > 4 * MAX_LEN || has_control_chars(trimmed) {
            return Err(DomainError::InvalidEmail);
        }
        let normalised = nfc(&trimmed.to_lowercase()).into_owned();
        let (local, domain) = normalised
            .rsplit_once('@')
            .ok_or(DomainError::InvalidEmail)?;
        if !is_local_part(local) {
            return Err(DomainError::InvalidEmail);
        }
        let ascii = domain_to_ascii(domain).ok_or(DomainError::InvalidEmail)?;
        let (unicode, checked) =
            Uts46::new().to_unicode(ascii.as_bytes(), AsciiDenyList::STD3, Hyphens::Check);
        if checked.is_err() {
            return Err(DomainError::InvalidEmail);
        }
        let stored = format!("{local}@{unicode}");
        let on_envelope = format!("{local}@{ascii}");
        if stored.len() > MAX_LEN || on_envelope.len() > MAX_LEN {
            return Err(DomainError::InvalidEmail);
        }
        // The relay's view has the last word: what lettre cannot put on an envelope is not
        // accepted, so a signup can never fail later for want of a valid recipient.
        let envelope = on_envelope
            .parse::<Address>()
            .map_err(|_| DomainError::InvalidEmail)?;
        Ok(Self { stored, envelope })
    }

    /// The start of an address as the admin's search compares it with stored ones
    /// (lower-cased, NFC); `None` when blank.
    pub fn normalise_prefix(input: &str) -> Option<String> {
        let trimmed = input.trim();
        (!trimmed.is_empty()).then(|| nfc(&trimmed.to_lowercase()).into_owned())
    }

    /// The address as stored.
    pub fn as_str(&self) -> &str {
        &self.stored
    }

    /// The address for the envelope and the `To:` header: the domain in A-labels, so an
    /// ASCII local part needs no SMTPUTF8.
    pub fn envelope(&self) -> &Address {
        &self.envelope
    }
}

/// The key of the suppression list: an entry is HMAC-SHA256 under this key of the address's
/// SHA-256, so nobody holding the database alone can test a guessed address against it.
/// (Entries made before the key were unkeyed SHA-256; `db::suppressions` converts them once.)
#[derive(Clone)]
pub struct SuppressionKey(hmac::Hmac<Sha256>);

impl SuppressionKey {
    pub fn new(key: &[u8]) -> Self {
        Self(<hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(key).expect("any key length"))
    }

    /// The entry of an address as stored (read back, not validated again: an address stored
    /// under older rules must stay erasable).
    pub fn entry(&self, stored: &str) -> String {
        self.entry_of_digest(&hex::encode(Sha256::digest(stored.as_bytes())))
    }

    /// The entry of an unkeyed entry (the hex SHA-256 of an address).
    pub fn entry_of_digest(&self, sha256_hex: &str) -> String {
        use hmac::Mac;
        let mut mac = self.0.clone();
        mac.update(sha256_hex.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for SuppressionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SuppressionKey(…)")
    }
}

/// What confirmation mail is counted against: the mailbox (the address with a `+tag` left out
/// of its local part, so `victim+1@` and `victim+2@` are one) and its domain.
pub fn mailbox_key(stored: &str) -> (String, String) {
    let (local, domain) = stored.rsplit_once('@').unwrap_or((stored, ""));
    let base = local.split('+').next().unwrap_or(local);
    (format!("{base}@{domain}"), domain.to_owned())
}

impl AsRef<str> for SubscriberEmail {
    fn as_ref(&self) -> &str {
        &self.stored
    }
}

/// The envelope form of an address read back from the database: its domain in A-labels when
/// it converts. Stored data is not validated again (an address stored under older rules must
/// still be erasable and mailable); what the relay cannot take fails that one delivery.
pub fn envelope_form(stored: &str) -> Cow<'_, str> {
    match stored.rsplit_once('@') {
        Some((local, domain)) if !domain.is_ascii() => match domain_to_ascii(domain) {
            Some(ascii) => Cow::Owned(format!("{local}@{ascii}")),
            None => Cow::Borrowed(stored),
        },
        _ => Cow::Borrowed(stored),
    }
}

pub(super) fn nfc(s: &str) -> Cow<'_, str> {
    ComposingNormalizerBorrowed::new_nfc().normalize(s)
}

/// A dot-atom (RFC 5322 3.2.3) of at most 64 octets, whose atoms are ASCII `atext` or
/// non-ASCII letters, marks and digits (RFC 6531's UTF8-non-ascii, less the symbols,
/// punctuation, spaces and invisible characters no mailbox provider hands out). Quoted local
/// parts are refused: legal, but unused by real mailboxes and a common way to smuggle
/// characters past filters.
fn is_local_part(local: &str) -> bool {
    let categories = CodePointMapData::<GeneralCategory>::new();
    let allowed = GeneralCategoryGroup::Letter
        .union(GeneralCategoryGroup::Mark)
        .union(GeneralCategoryGroup::Number);
    let atext = |c: char| {
        c.is_ascii_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~".contains(c)
            || (!c.is_ascii() && allowed.contains(categories.get(c)))
    };
    !local.is_empty()
        && local.len() <= MAX_LOCAL
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atext))
}

/// The domain in A-labels after UTS #46 processing (IDNA 2008, STD3 rules, no hyphen first or
/// last in a label nor `--` third and fourth unless it is a valid `xn--` A-label, DNS
/// lengths: labels of 1 to 63 octets, at most 253), with at least two
/// labels and a TLD that is not all digits. None for anything else, IP literals included.
fn domain_to_ascii(domain: &str) -> Option<String> {
    if domain.starts_with('[') {
        return None;
    }
    let ascii = Uts46::new()
        .to_ascii(
            domain.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::Check,
            DnsLength::Verify,
        )
        .ok()?;
    let tld = ascii.rsplit_once('.')?.1;
    (!tld.bytes().all(|b| b.is_ascii_digit())).then(|| ascii.into_owned())
}

/// `m***@example.org`: enough to follow a log, not enough to identify a reader.
pub fn mask(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().unwrap_or('*');
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> SubscriberEmail {
        SubscriberEmail::parse(input).unwrap_or_else(|_| panic!("{input:?} is refused"))
    }

    #[test]
    fn valid_addresses_are_normalised() {
        let e = ok("  Mario.Rossi@Example.ORG ");
        assert_eq!(e.as_str(), "mario.rossi@example.org");
        assert_eq!(e.envelope().to_string(), "mario.rossi@example.org");
    }

    #[test]
    fn international_addresses_are_stored_in_unicode_and_sent_with_a_labels() {
        let e = ok("Dörte@Sörensen.example.com");
        assert_eq!(e.as_str(), "dörte@sörensen.example.com");
        assert_eq!(
            e.envelope().to_string(),
            "dörte@xn--srensen-90a.example.com"
        );
        let e = ok("mario@XN--SRENSEN-90A.example.com");
        assert_eq!(e.as_str(), "mario@sörensen.example.com");
        assert_eq!(
            e.envelope().to_string(),
            "mario@xn--srensen-90a.example.com"
        );
        assert_eq!(ok("用户@例子.广告").as_str(), "用户@例子.广告");
        assert_eq!(ok("квіточка@пошта.укр").as_str(), "квіточка@пошта.укр");
        // NFC: "n" + COMBINING TILDE is the same address as "ñ".
        assert_eq!(ok("n\u{303}o@example.org"), ok("ño@example.org"));
        assert_eq!(envelope_form("a@例子.广告"), "a@xn--fsqu00a.xn--4rr70v");
        assert_eq!(envelope_form("a@example.org"), "a@example.org");
    }

    #[test]
    fn malformed_addresses_are_refused() {
        let long_label = format!("a@{}.org", "b".repeat(64));
        let long_domain = format!("a@{}org", "abcdefghi.".repeat(25));
        for bad in [
            "",
            "   ",
            "mario",
            "mario@",
            "@example.org",
            "mario@localhost",
            "mario rossi@example.org",
            "mario@example.org\r\nBcc: victim@example.org",
            "mario@exa\nmple.org",
            ".test@iana.org",
            "twodots..here@domain.com",
            "trailingdot.@domain.email",
            "me@[127.0.0.1]",
            "me@[IPv6:::1]",
            "me@127.0.0.1",
            "me@xn--0.tld",
            "me@-example.org",
            "me@example-.org",
            "me@exa_mple.org",
            "me@example.org.",
            "\"quoted\"@example.org",
            "a\\b@example.org",
            "emoji😀@example.org",
            "a@b@example.org",
            &long_label,
            &long_domain,
        ] {
            assert_eq!(
                SubscriberEmail::parse(bad),
                Err(DomainError::InvalidEmail),
                "{bad:?}"
            );
        }
        let long = format!("{}@example.org", "a".repeat(65));
        assert!(SubscriberEmail::parse(&long).is_err());
        ok(&format!("{}@example.org", "a".repeat(64)));
        ok(&format!("a@{}.org", "b".repeat(63)));
    }

    /// Addresses from public suites (isemail, python-email-validator, RFC 3696 and its errata,
    /// WHATWG's form tests...), each with the verdict our rules give.
    #[test]
    fn the_public_corpus_gets_its_verdicts() {
        let corpus = include_str!("../../tests/fixtures/addresses.tsv");
        let mut wrong = Vec::new();
        for row in corpus.lines().skip(1) {
            let [address, verdict, source, ..] = row.split('\t').collect::<Vec<_>>()[..] else {
                panic!("a row of four columns: {row:?}");
            };
            let accepted = SubscriberEmail::parse(address).is_ok();
            if accepted != (verdict == "accept") {
                wrong.push(format!("{address:?} ({source}): expected {verdict}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn tags_do_not_make_another_mailbox_and_suppression_entries_are_keyed() {
        let key = |a: &str| mailbox_key(a).0;
        assert_eq!(key("victim+1@example.org"), "victim@example.org");
        assert_eq!(key("victim+a+b@example.org"), key("victim@example.org"));
        assert_eq!(mailbox_key("a@例子.广告").1, "例子.广告");
        let (k1, k2) = (SuppressionKey::new(b"one"), SuppressionKey::new(b"two"));
        assert_eq!(k1.entry("a@example.org"), k1.entry("a@example.org"));
        assert_ne!(k1.entry("a@example.org"), k2.entry("a@example.org"));
        assert_ne!(
            k1.entry("a@example.org"),
            hex::encode(Sha256::digest(b"a@example.org"))
        );
        let digest = hex::encode(Sha256::digest(b"a@example.org"));
        assert_eq!(k1.entry_of_digest(&digest), k1.entry("a@example.org"));
    }

    #[test]
    fn masking_hides_the_local_part() {
        assert_eq!(mask("mario.rossi@example.org"), "m***@example.org");
    }
}
