//! A feed document to article drafts. feed-rs reads RSS 0.9x/1.0/2.0, Atom and JSON Feed,
//! decodes the XML in the encoding it declares, and parses the many date formats feeds use;
//! here each entry becomes an [`ArticleDraft`] or a reason to skip it.

use chrono::NaiveDateTime;
use feed_rs::model::{Entry, Feed, Text};

use super::text;
use crate::domain::{ArticleDraft, ArticleFields, DomainError, Lang};

/// Longest summary kept (the article type's limit), ellipsis included.
const MAX_SUMMARY_CHARS: usize = 5_000;
const MAX_AUTHOR_CHARS: usize = 200;
const MAX_URL_BYTES: usize = 2_048;

/// What a feed document held.
#[derive(Debug)]
pub struct ParsedFeed {
    pub drafts: Vec<ArticleDraft>,
    /// Entries that are not valid articles: their position in the feed and why.
    pub skipped: Vec<(usize, DomainError)>,
}

/// The document is not a feed.
#[derive(Debug, thiserror::Error)]
#[error("not a valid RSS or Atom feed: {0}")]
pub struct ParseError(String);

/// Parses `body`, fetched from `base_url` (after redirects: relative links resolve against
/// it) for the feed stored as `feed_url` (which scopes GUIDs that are not URIs, so they stay
/// the same if the server's redirects change). Articles take the entry's or the feed's language
/// when it is one we support, else `fallback`; undated entries are dated `now`.
pub fn parse(
    body: &[u8],
    base_url: &str,
    feed_url: &str,
    fallback: Lang,
    now: NaiveDateTime,
) -> Result<ParsedFeed, ParseError> {
    let feed = feed_rs::parser::Builder::new()
        .base_uri(Some(base_url))
        // No made-up ids: an entry without one is identified by its link.
        .id_generator(|_, _, _| String::new())
        .build()
        .parse(body)
        .map_err(|e| ParseError(e.to_string()))?;
    let mut parsed = ParsedFeed {
        drafts: Vec::with_capacity(feed.entries.len()),
        skipped: Vec::new(),
    };
    for (i, entry) in feed.entries.iter().enumerate() {
        match draft(&feed, entry, feed_url, fallback, now) {
            Ok(d) => parsed.drafts.push(d),
            Err(e) => parsed.skipped.push((i, e)),
        }
    }
    Ok(parsed)
}

fn draft(
    feed: &Feed,
    entry: &Entry,
    feed_url: &str,
    fallback: Lang,
    now: NaiveDateTime,
) -> Result<ArticleDraft, DomainError> {
    let link = entry
        .links
        .iter()
        .find(|l| l.target.is_none() && l.rel.as_deref().map_or(true, |r| r == "alternate"))
        .map(|l| l.href.as_str())
        // An RSS item may carry its address only as a permalink GUID.
        .or_else(|| is_http(&entry.id).then_some(entry.id.as_str()))
        .unwrap_or_default();
    let title = entry.title.as_ref().map(text_of).unwrap_or_default();
    let summary = entry
        .summary
        .as_ref()
        .map(text_of)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let content = entry.content.as_ref()?;
            let body = content.body.as_deref()?;
            Some(match content.content_type.as_str() {
                "text/plain" => text::plain(body),
                _ => text::from_html(body),
            })
        })
        .map(|s| text::truncate(s, MAX_SUMMARY_CHARS));
    // Optional fields that are unusable are dropped rather than costing the article.
    let author = entry
        .authors
        .iter()
        .find_map(|p| p.name.as_deref())
        // RSS writes `mail@example.org (Name)`; feed-rs keeps the parentheses.
        .map(|n| {
            n.trim()
                .strip_prefix('(')
                .and_then(|n| n.strip_suffix(')'))
                .unwrap_or(n)
        })
        .map(text::plain)
        .filter(|a| !a.is_empty() && a.chars().count() <= MAX_AUTHOR_CHARS);
    let image = image_of(entry).filter(|u| is_http(u));
    let language = [entry.language.as_deref(), feed.language.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|l| Lang::parse(l).ok())
        .unwrap_or(fallback);
    let guid = scoped_guid(&entry.id, feed_url);
    let published = entry
        .published
        .or(entry.updated)
        .map_or(now, |t| t.naive_utc());
    ArticleDraft::parse(
        ArticleFields {
            guid: guid.as_deref(),
            title: &title,
            url: link,
            author: author.as_deref(),
            summary: summary.as_deref(),
            language: Some(language.code()),
            image_url: image.as_deref(),
            image_alt: image.as_ref().and_then(|_| image_alt_of(entry)).as_deref(),
        },
        published,
    )
}

/// Atom and RSS text constructs may be HTML; titles declared plain often still hold entities.
fn text_of(t: &Text) -> String {
    match t.content_type.as_str() {
        "text/plain" => text::plain(&t.content),
        _ => text::from_html(&t.content),
    }
}

/// An image/* enclosure or media:content, else a media:thumbnail, else an Atom enclosure link.
/// (feed-rs drops a media:thumbnail that stands alone, without media:content.)
fn image_of(entry: &Entry) -> Option<String> {
    let media = entry.media.iter();
    media
        .clone()
        .flat_map(|m| &m.content)
        .find(|c| match &c.content_type {
            Some(t) => t.as_str().starts_with("image/"),
            // media:content often gives only medium="image", which feed-rs drops.
            None => c.url.as_ref().is_some_and(|u| looks_like_image(u.path())),
        })
        .and_then(|c| c.url.as_ref().map(|u| u.to_string()))
        .or_else(|| {
            media
                .flat_map(|m| &m.thumbnails)
                .map(|t| t.image.uri.clone())
                .next()
        })
        .or_else(|| {
            entry
                .links
                .iter()
                .find(|l| {
                    l.rel.as_deref() == Some("enclosure")
                        && l.media_type
                            .as_deref()
                            .is_some_and(|t| t.starts_with("image/"))
                })
                .map(|l| l.href.clone())
        })
}

/// The description a feed gives its media (media:description), as the image's alt text.
fn image_alt_of(entry: &Entry) -> Option<String> {
    entry
        .media
        .iter()
        .find_map(|m| m.description.as_ref())
        .map(text_of)
        .map(|d| text::truncate(d, 300))
        .filter(|d| !d.is_empty())
}

fn looks_like_image(path: &str) -> bool {
    let path = path.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

/// Articles are deduplicated by GUID across all feeds. Atom ids and permalink GUIDs are URIs
/// and unique on their own; a GUID that is not (RSS allows "42") is scoped by the feed's
/// address, so two feeds numbering their items alike do not collide.
fn scoped_guid(id: &str, feed_url: &str) -> Option<String> {
    let id = id.trim();
    if id.is_empty() {
        return None;
    }
    Some(match url::Url::parse(id) {
        Ok(_) => id.to_owned(),
        Err(_) => format!("{feed_url}#{id}"),
    })
}

fn is_http(s: &str) -> bool {
    s.len() <= MAX_URL_BYTES
        && url::Url::parse(s)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_against_the_final_address_and_guids_are_scoped_by_the_stored_one() {
        let xml = br#"<rss version="2.0"><channel><title>t</title><language>fr</language>
            <item><title>Uno</title><link>/uno</link><guid isPermaLink="false">1</guid></item>
            <item><title>Due</title><guid>https://example.org/due</guid></item>
            <item><link>https://example.org/senza-titolo</link></item>
            </channel></rss>"#;
        let now = chrono::DateTime::from_timestamp(1_764_000_000, 0)
            .unwrap()
            .naive_utc();
        let parsed = parse(
            xml,
            "https://cdn.example.org/feed.xml",
            "https://example.org/feed",
            Lang::En,
            now,
        )
        .unwrap();
        let [uno, due] = &parsed.drafts[..] else {
            panic!("{parsed:?}");
        };
        assert_eq!(uno.url(), "https://cdn.example.org/uno");
        assert_eq!(uno.guid(), "https://example.org/feed#1");
        assert_eq!(uno.language(), Lang::En, "fr is not ours: the list's");
        assert_eq!(uno.published_at(), now);
        assert_eq!(due.url(), "https://example.org/due", "a permalink GUID");
        assert_eq!(parsed.skipped.len(), 1, "no title");
        assert_eq!(parsed.skipped[0].0, 2);
    }

    #[test]
    fn what_is_not_a_feed_is_an_error() {
        let now = chrono::Utc::now().naive_utc();
        for body in [
            &b"<html><body>no</body></html>"[..],
            b"",
            b"<rss version=\"2.0\"><channel><item></channel>",
        ] {
            assert!(parse(body, "https://e.org/f", "https://e.org/f", Lang::It, now).is_err());
        }
    }
}
