use chrono::NaiveDateTime;

use super::{has_control_chars, DomainError, Lang};

const MAX_TITLE: usize = 300;
const MAX_AUTHOR: usize = 200;
const MAX_SUMMARY: usize = 5_000;
const MAX_URL: usize = 2_048;
const MAX_ALT: usize = 300;

/// An article ready to store, whichever way it came in (the CLI, the HTTP API, a feed): a
/// one-line title, an http(s) link, optional author and image, a plain-text summary, a language
/// and a publication time. Its identity (`guid`) is the feed item's GUID, else the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleDraft {
    guid: String,
    title: String,
    url: String,
    author: Option<String>,
    summary: String,
    language: Lang,
    image_url: Option<String>,
    /// The image described for readers who do not see it; empty when decorative.
    image_alt: String,
    published_at: NaiveDateTime,
}

/// The raw fields of an article, as the edge received them.
#[derive(Debug, Clone, Default)]
pub struct ArticleFields<'a> {
    pub guid: Option<&'a str>,
    pub title: &'a str,
    pub url: &'a str,
    pub author: Option<&'a str>,
    pub summary: Option<&'a str>,
    pub language: Option<&'a str>,
    pub image_url: Option<&'a str>,
    pub image_alt: Option<&'a str>,
}

impl ArticleDraft {
    /// Validates the fields; `published_at` is naive UTC. Blank optional fields mean "none";
    /// whitespace runs in the title and author fold to one space (feeds wrap long titles).
    pub fn parse(f: ArticleFields<'_>, published_at: NaiveDateTime) -> Result<Self, DomainError> {
        let title = one_line(f.title);
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            return Err(DomainError::InvalidArticle(
                "the title must be 1 to 300 characters",
            ));
        }
        let url = http_url(f.url).ok_or(DomainError::InvalidArticle(
            "the link must be an http(s) address",
        ))?;
        let author = match f.author.map(one_line).filter(|a| !a.is_empty()) {
            Some(a) if a.chars().count() > MAX_AUTHOR => {
                return Err(DomainError::InvalidArticle(
                    "the author is too long (at most 200 characters)",
                ))
            }
            other => other,
        };
        let summary = f.summary.unwrap_or_default().trim().to_owned();
        if summary.chars().count() > MAX_SUMMARY
            || summary
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(DomainError::InvalidArticle(
                "the summary must be plain text of at most 5,000 characters",
            ));
        }
        let language = match f.language.map(str::trim).filter(|l| !l.is_empty()) {
            Some(l) => Lang::parse(l)?,
            None => Lang::default(),
        };
        let image_url = match f.image_url.map(str::trim).filter(|i| !i.is_empty()) {
            Some(i) => Some(http_url(i).ok_or(DomainError::InvalidArticle(
                "the image must be an http(s) address",
            ))?),
            None => None,
        };
        let image_alt = f.image_alt.map(one_line).unwrap_or_default();
        if image_alt.chars().count() > MAX_ALT {
            return Err(DomainError::InvalidArticle(
                "the image's description is too long (at most 300 characters)",
            ));
        }
        let guid = match f.guid.map(str::trim).filter(|g| !g.is_empty()) {
            Some(g) if g.len() > MAX_URL || has_control_chars(g) => {
                return Err(DomainError::InvalidArticle(
                    "the GUID must be one line of at most 2,048 bytes",
                ))
            }
            Some(g) => g.to_owned(),
            None => url.clone(),
        };
        Ok(Self {
            guid,
            title,
            url,
            author,
            summary,
            language,
            image_url,
            image_alt,
            published_at,
        })
    }

    pub fn guid(&self) -> &str {
        &self.guid
    }
    pub fn title(&self) -> &str {
        &self.title
    }
    pub fn url(&self) -> &str {
        &self.url
    }
    pub fn author(&self) -> Option<&str> {
        self.author.as_deref()
    }
    pub fn summary(&self) -> &str {
        &self.summary
    }
    pub fn language(&self) -> Lang {
        self.language
    }
    pub fn image_url(&self) -> Option<&str> {
        self.image_url.as_deref()
    }
    pub fn image_alt(&self) -> &str {
        &self.image_alt
    }
    pub fn published_at(&self) -> NaiveDateTime {
        self.published_at
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn http_url(s: &str) -> Option<String> {
    let s = s.trim();
    if s.len() > MAX_URL {
        return None;
    }
    let url = url::Url::parse(s).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host().is_some()).then(|| url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_764_000_000, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn a_valid_article_keeps_its_text_and_defaults_its_guid_to_the_link() {
        let a = ArticleDraft::parse(
            ArticleFields {
                title: "  L’Italia   e il “nuovo” patto\n",
                url: "https://example.org/a?x=1",
                summary: Some("Perché è così."),
                language: Some("it-IT"),
                ..Default::default()
            },
            at(),
        )
        .unwrap();
        assert_eq!(a.title(), "L’Italia e il “nuovo” patto");
        assert_eq!(a.guid(), "https://example.org/a?x=1");
        assert_eq!(a.summary(), "Perché è così.");
        assert_eq!(a.language(), Lang::It);
    }

    #[test]
    fn bad_fields_are_refused() {
        let base = ArticleFields {
            title: "t",
            url: "https://example.org/",
            ..Default::default()
        };
        for bad in [
            ArticleFields {
                title: " ",
                ..base.clone()
            },
            ArticleFields {
                url: "javascript:alert(1)",
                ..base.clone()
            },
            ArticleFields {
                image_url: Some("ftp://x/y.png"),
                ..base.clone()
            },
            ArticleFields {
                language: Some("fr"),
                ..base.clone()
            },
            ArticleFields {
                guid: Some("a\u{0}b"),
                ..base.clone()
            },
        ] {
            assert!(ArticleDraft::parse(bad.clone(), at()).is_err(), "{bad:?}");
        }
    }
}
