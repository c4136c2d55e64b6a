use lettre::message::Mailbox;

use super::{has_control_chars, DomainError};

/// A list's sender, `Name <address@example.org>`, safe to put in a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender(Mailbox);

impl Sender {
    /// Parses `Name <addr>` or a bare address.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        if has_control_chars(input) {
            return Err(DomainError::InvalidSender);
        }
        input
            .trim()
            .parse()
            .map(Self)
            .map_err(|_| DomainError::InvalidSender)
    }

    /// Rebuilds a sender from the two stored columns.
    pub fn from_parts(name: &str, address: &str) -> Result<Self, DomainError> {
        if has_control_chars(name) {
            return Err(DomainError::InvalidSender);
        }
        let address = address.parse().map_err(|_| DomainError::InvalidSender)?;
        let name = (!name.is_empty()).then(|| name.to_owned());
        Ok(Self(Mailbox::new(name, address)))
    }

    /// The display name, empty when there is none.
    pub fn name(&self) -> &str {
        self.0.name.as_deref().unwrap_or_default()
    }

    /// The bare address.
    pub fn address(&self) -> &str {
        self.0.email.as_ref()
    }

    /// The domain of the address (Message-IDs are minted under it).
    pub fn domain(&self) -> &str {
        self.0.email.domain()
    }

    /// The lettre mailbox for the From header.
    pub fn mailbox(&self) -> &Mailbox {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_parse_with_or_without_a_name() {
        let s = Sender::parse("Redazione Economia <news@example.org>").unwrap();
        assert_eq!(s.name(), "Redazione Economia");
        assert_eq!(s.address(), "news@example.org");
        assert_eq!(s.domain(), "example.org");
        assert_eq!(Sender::parse("news@example.org").unwrap().name(), "");
        assert!(Sender::parse("nobody").is_err());
        assert!(Sender::parse("A <a@example.org>\r\nBcc: b@example.org").is_err());
        assert_eq!(
            Sender::from_parts("Città", "a@example.org").unwrap().name(),
            "Città"
        );
    }
}
