use super::{has_control_chars, DomainError};

pub(super) const MAX_CHARS: usize = 100;

/// An optional display name: trimmed, at most 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberName(String);

impl SubscriberName {
    /// Parses user input; blank input means "no name".
    pub fn parse_optional(input: Option<&str>) -> Result<Option<Self>, DomainError> {
        let Some(trimmed) = input.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        if trimmed.chars().count() > MAX_CHARS {
            return Err(DomainError::NameTooLong);
        }
        if has_control_chars(trimmed) {
            return Err(DomainError::NameInvalid);
        }
        Ok(Some(Self(trimmed.to_owned())))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_optional_trimmed_and_bounded() {
        assert_eq!(SubscriberName::parse_optional(None), Ok(None));
        assert_eq!(SubscriberName::parse_optional(Some("  ")), Ok(None));
        let n = SubscriberName::parse_optional(Some(" Niccolò "))
            .unwrap()
            .unwrap();
        assert_eq!(n.as_str(), "Niccolò");
        let long = "è".repeat(101);
        assert_eq!(
            SubscriberName::parse_optional(Some(&long)),
            Err(DomainError::NameTooLong)
        );
        assert_eq!(
            SubscriberName::parse_optional(Some("Mario\r\nBcc: x")),
            Err(DomainError::NameInvalid)
        );
    }
}
