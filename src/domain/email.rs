use sha2::{Digest, Sha256};
use validator::ValidateEmail;

use super::{has_control_chars, DomainError};

/// A syntactically valid, normalised (trimmed, lower-cased) e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubscriberEmail(String);

impl SubscriberEmail {
    /// RFC 5321 caps a path at 256 octets, so an address at 254.
    pub const MAX_LEN: usize = 254;

    /// Parses user input. Addresses are compared case-insensitively everywhere (mailbox
    /// providers treat the local part so in practice), so they are stored lower-cased.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let trimmed = input.trim();
        if trimmed.is_empty()
            || trimmed.len() > Self::MAX_LEN
            || has_control_chars(trimmed)
            || !trimmed.validate_email()
            // validator accepts dotless domains such as `a@localhost`; a newsletter cannot
            // deliver there, and such a typo is far likelier than an intranet reader.
            || !trimmed.rsplit('@').next().is_some_and(|d| d.contains('.'))
        {
            return Err(DomainError::InvalidEmail);
        }
        Ok(Self(trimmed.to_lowercase()))
    }

    /// The address as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SHA-256 of the normalised address, kept in the suppression list after erasure.
    pub fn suppression_hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl AsRef<str> for SubscriberEmail {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// `m***@example.org`: enough to follow a log, not enough to identify a reader.
pub fn mask(address: &str) -> String {
    match address.split_once('@') {
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

    #[test]
    fn valid_addresses_are_normalised() {
        let e = SubscriberEmail::parse("  Mario.Rossi@Example.ORG ").unwrap();
        assert_eq!(e.as_str(), "mario.rossi@example.org");
    }

    #[test]
    fn malformed_addresses_are_refused() {
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
        ] {
            assert_eq!(
                SubscriberEmail::parse(bad),
                Err(DomainError::InvalidEmail),
                "{bad:?}"
            );
        }
        let long = format!("{}@example.org", "a".repeat(250));
        assert!(SubscriberEmail::parse(&long).is_err());
    }

    #[test]
    fn masking_hides_the_local_part() {
        assert_eq!(mask("mario.rossi@example.org"), "m***@example.org");
    }
}
