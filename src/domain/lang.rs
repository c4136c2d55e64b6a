use super::DomainError;

/// The languages pages and mail are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    It,
    En,
}

impl Lang {
    /// Every supported language.
    pub const ALL: [Lang; 2] = [Lang::It, Lang::En];

    /// Parses `it`, `en`, `it-IT`, `en_GB`...
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let primary = input
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "it" => Ok(Lang::It),
            "en" => Ok(Lang::En),
            _ => Err(DomainError::UnknownLanguage),
        }
    }

    /// The first supported language of an `Accept-Language` header, by preference order.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut ranked: Vec<(f32, Lang)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let lang = Lang::parse(pieces.next()?).ok()?;
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((q, lang))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map(|(_, lang)| *lang)
    }

    /// The language's name in itself.
    pub fn name(self) -> &'static str {
        match self {
            Lang::It => "Italiano",
            Lang::En => "English",
        }
    }

    /// The ISO code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::It => "it",
            Lang::En => "en",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        assert_eq!(
            Lang::from_accept_language("en-GB,en;q=0.9,it;q=0.8"),
            Some(Lang::En)
        );
        assert_eq!(
            Lang::from_accept_language("de;q=1.0, it;q=0.5, en;q=0.4"),
            Some(Lang::It)
        );
        assert_eq!(Lang::from_accept_language("fr"), None);
    }
}
