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

/// The words a name is found by in the admin's search, and the words of a search: lower-cased
/// (after NFC), split at white space, punctuation around each word dropped, each word once.
pub fn search_terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in super::email::nfc(&text.to_lowercase()).split_whitespace() {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric());
        let word: String = word.chars().take(MAX_TERM_CHARS).collect();
        if !word.is_empty() && !terms.contains(&word) && terms.len() < MAX_TERMS {
            terms.push(word);
        }
    }
    terms
}

/// Bounds on what a name adds to the search index.
const MAX_TERMS: usize = 12;
const MAX_TERM_CHARS: usize = 40;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_searched_by_their_lower_cased_words() {
        assert_eq!(
            search_terms("  Élodie  D'Angelo-Rossi, "),
            ["élodie", "d'angelo-rossi"]
        );
        assert_eq!(search_terms("Ana ana ANA"), ["ana"]);
        assert!(search_terms(" -- ").is_empty());
        // NFD input finds NFC names.
        assert_eq!(search_terms("Nicco\u{300}"), search_terms("Niccò"));
    }

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
