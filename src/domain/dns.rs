use super::DomainError;

/// A DNS name as DKIM uses one (a signing domain, a selector): labels of letters, digits,
/// hyphens and underscores, 1 to 63 octets each, at most 253 in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsName(String);

impl DnsName {
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let name = input.trim();
        let ok = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        match ok {
            true => Ok(Self(name.to_ascii_lowercase())),
            false => Err(DomainError::InvalidDnsName),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_are_labels_of_letters_digits_hyphens_and_underscores() {
        assert_eq!(DnsName::parse("News2026").unwrap().as_str(), "news2026");
        assert!(DnsName::parse("mail._domainkey.example.org").is_ok());
        for bad in ["", "a..b", "a b.org", "ex ample", &"a".repeat(64), "é.org"] {
            assert!(DnsName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
