use super::DomainError;

/// A list's identifier in URLs, forms and the CLI: `[a-z0-9][a-z0-9-]{0,63}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListSlug(String);

impl ListSlug {
    /// Parses a slug; no normalisation, so a slug always means exactly one list.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let ok = !input.is_empty()
            && input.len() <= 64
            && input
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !input.starts_with('-');
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(DomainError::InvalidSlug)
        }
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_words_with_dashes() {
        assert!(ListSlug::parse("economia-2026").is_ok());
        for bad in ["", "-x", "Economia", "a b", "a_b", "àè", &"a".repeat(65)] {
            assert!(ListSlug::parse(bad).is_err(), "{bad:?}");
        }
    }
}
