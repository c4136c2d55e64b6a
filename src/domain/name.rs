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

/// The words a name is found by in the admin's search: lower-cased with accents folded
/// ("Élodie" and "elodie" find each other), split at white space, punctuation around each
/// word dropped, each word once. A word joined by punctuation ("D'Angelo-Rossi") is also
/// found by its parts ("angelo", "rossi").
pub fn search_terms(text: &str) -> Vec<String> {
    words(text, true)
}

/// The words of a search, folded as [`search_terms`] folds names; each must be the start of
/// one of the name's terms (whole words: "d'angelo" is the start of "d'angelo-rossi").
pub fn search_words(text: &str) -> Vec<String> {
    words(text, false)
}

fn words(text: &str, with_parts: bool) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    let mut push = |word: &str| {
        let word: String = word.chars().take(MAX_TERM_CHARS).collect();
        if !word.is_empty() && !terms.contains(&word) && terms.len() < MAX_TERMS {
            terms.push(word);
        }
    };
    for word in fold(&text.to_lowercase()).split_whitespace() {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric());
        push(word);
        if with_parts && word.contains(|c: char| !c.is_alphanumeric()) {
            word.split(|c: char| !c.is_alphanumeric())
                .for_each(&mut push);
        }
    }
    terms
}

/// `s` without its accents: decomposed (NFD), combining marks dropped, composed again.
fn fold(s: &str) -> String {
    use icu_normalizer::DecomposingNormalizerBorrowed;
    use icu_properties::props::GeneralCategory;
    use icu_properties::CodePointMapData;
    let categories = CodePointMapData::<GeneralCategory>::new();
    let bare: String = DecomposingNormalizerBorrowed::new_nfd()
        .normalize(s)
        .chars()
        .filter(|c| categories.get(*c) != GeneralCategory::NonspacingMark)
        .collect();
    super::email::nfc(&bare).into_owned()
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
            ["elodie", "d'angelo-rossi", "d", "angelo", "rossi"]
        );
        assert_eq!(search_terms("Ana ana ANA"), ["ana"]);
        assert_eq!(
            search_words(" D'Angelo-Rossi  Élo "),
            ["d'angelo-rossi", "elo"]
        );
        assert!(search_terms(" -- ").is_empty());
        // Accents are folded, whichever way they are written.
        assert_eq!(search_terms("Nicco\u{300}"), search_terms("Niccò"));
        assert_eq!(search_terms("Niccolò ŻÓŁW"), ["niccolo", "zołw"]);
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
