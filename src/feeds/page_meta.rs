//! An article's title, summary and image read from its HTML page, to pre-fill a pasted URL.
//! No HTML parser crate: only `<head>` meta/link tags and `<title>` matter, so a scanner does.

use std::collections::HashMap;

use url::Url;

/// Metadata sits at the top of the page; a bigger prefix is body text we never read.
const MAX_SCAN: usize = 1 << 20;
const TITLE_MAX: usize = 300;
const DESCRIPTION_MAX: usize = 5000;
const ALT_MAX: usize = 300;

/// What a page says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageMeta {
    pub title: Option<String>,
    pub description: Option<String>,
    /// Absolute http(s) URL, resolved against the page's address.
    pub image_url: Option<String>,
    pub image_alt: Option<String>,
    pub author: Option<String>,
    /// RFC 3339 / ISO 8601 string as found (article:published_time, or similar), unparsed.
    pub published: Option<String>,
    /// The canonical URL (og:url or <link rel="canonical">), absolute http(s).
    pub canonical_url: Option<String>,
}

/// Reads the metadata of `html`, a page fetched from `page_url`.
pub fn extract(html: &str, page_url: &Url) -> PageMeta {
    let mut end = html.len().min(MAX_SCAN);
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    let found = scan(&html[..end]);
    // Keys in order of preference, space-separated.
    let pick = |keys: &str| keys.split(' ').find_map(|k| found.get(k).cloned());
    // A bad first candidate (javascript:, unparsable) falls through to the next one.
    let link = |keys: &str| {
        keys.split(' ')
            .filter_map(|k| found.get(k))
            .filter_map(|v| page_url.join(v).ok())
            .find(|u| matches!(u.scheme(), "http" | "https"))
            .map(String::from)
    };
    PageMeta {
        title: pick("og:title twitter:title <title>").map(|t| cap(t, TITLE_MAX)),
        description: pick("og:description twitter:description description")
            .map(|d| cap(d, DESCRIPTION_MAX)),
        image_url: link(
            "og:image og:image:url og:image:secure_url twitter:image twitter:image:src",
        ),
        image_alt: pick("og:image:alt twitter:image:alt").map(|a| cap(a, ALT_MAX)),
        // article:author is meant to be a profile URL; only a plain name is useful here.
        author: pick("author").or_else(|| {
            let a = found.get("article:author")?;
            let url_like = a.contains("://") || a.starts_with('/') || a.starts_with("www.");
            (!url_like).then(|| a.clone())
        }),
        published: pick("article:published_time datepublished date"),
        canonical_url: link("og:url <canonical>"),
    }
}

/// First non-empty cleaned value per lowercased key: meta `property`/`name`/`itemprop`, plus
/// `<title>` and `<canonical>` for the title text and `<link rel="canonical">`.
fn scan(s: &str) -> HashMap<String, String> {
    let mut found = HashMap::new();
    let mut keep = |key: String, raw: &str| {
        if let Some(value) = clean(raw) {
            found.entry(key).or_insert(value);
        }
    };
    // Every index below points at an ASCII byte (or the end), hence at a char boundary.
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(at) = find_ci(s, i, "<") {
        if s[at..].starts_with("<!--") {
            // From at + 2 so that the empty comments `<!-->` and `<!--->` end where HTML ends them.
            match find_ci(s, at + 2, "-->") {
                Some(e) => i = e + 3,
                None => break,
            }
            continue;
        }
        let closing = b.get(at + 1) == Some(&b'/');
        let start = at + 1 + usize::from(closing);
        if !b.get(start).is_some_and(u8::is_ascii_alphabetic) {
            i = at + 1; // a stray `<`, `<!DOCTYPE` or `<?xml`: text to us
            continue;
        }
        let name_end = skip(b, start, |c| c.is_ascii_alphanumeric());
        let name = s[start..name_end].to_ascii_lowercase();
        // An unterminated tag means a truncated document: nothing complete follows.
        let Some((attrs, end)) = parse_attrs(s, name_end) else {
            break;
        };
        i = end;
        let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
        match (closing, name.as_str()) {
            (true, "head") | (false, "body") => break,
            (false, "meta") => {
                let content = get("content").unwrap_or_default();
                // RDFa allows several space-separated properties on one tag.
                for key in ["property", "name", "itemprop"].into_iter().filter_map(get) {
                    for key in key.split_ascii_whitespace() {
                        keep(key.to_ascii_lowercase(), content);
                    }
                }
            }
            (false, "link") => {
                let rel = get("rel").unwrap_or_default().to_ascii_lowercase();
                if rel.split_ascii_whitespace().any(|r| r == "canonical") {
                    keep("<canonical>".into(), get("href").unwrap_or_default());
                }
            }
            // Raw text up to the closing tag: a `<meta` in a script string is not a tag.
            (false, "title" | "script" | "style") => {
                let Some(e) = find_ci(s, end, &format!("</{name}")) else {
                    break;
                };
                if name == "title" {
                    keep("<title>".into(), &s[end..e]);
                }
                i = e;
            }
            _ => {}
        }
    }
    found
}

/// Attributes (lowercased names, raw values, first one wins on lookup) from just after a tag
/// name, and the index after the closing `>`; `None` if the input ends first.
fn parse_attrs(s: &str, mut p: usize) -> Option<(Vec<(String, &str)>, usize)> {
    let b = s.as_bytes();
    let mut attrs = Vec::new();
    loop {
        p = skip(b, p, |c| c.is_ascii_whitespace() || c == b'/');
        if *b.get(p)? == b'>' {
            return Some((attrs, p + 1));
        }
        // A leading `=` belongs to the name in HTML; taking it first also guarantees progress.
        let start = p;
        p = skip(b, p + 1, |c| {
            !(c.is_ascii_whitespace() || b"=>/".contains(&c))
        });
        let name = s[start..p].to_ascii_lowercase();
        let mut value = "";
        p = skip(b, p, |c| c.is_ascii_whitespace());
        if b.get(p) == Some(&b'=') {
            p = skip(b, p + 1, |c| c.is_ascii_whitespace());
            let q = *b.get(p)?;
            if q == b'"' || q == b'\'' {
                let close = skip(b, p + 1, |c| c != q);
                b.get(close)?;
                value = &s[p + 1..close];
                p = close + 1;
            } else {
                let start = p;
                p = skip(b, p, |c| !c.is_ascii_whitespace() && c != b'>');
                value = &s[start..p];
            }
        }
        attrs.push((name, value));
    }
}

/// The index of the first byte at or after `p` that fails `keep` (or the end).
fn skip(b: &[u8], p: usize, keep: impl Fn(u8) -> bool) -> usize {
    let rest = b.get(p..).unwrap_or_default();
    p + rest.iter().take_while(|&&c| keep(c)).count()
}

/// ASCII-case-insensitive search for an ASCII `needle` in `s` from byte `from`.
fn find_ci(s: &str, from: usize, needle: &str) -> Option<usize> {
    let hay = s.as_bytes().get(from..)?;
    let is_needle = |w: &[u8]| w.eq_ignore_ascii_case(needle.as_bytes());
    hay.windows(needle.len())
        .position(is_needle)
        .map(|p| from + p)
}

/// Entities decoded, whitespace and control characters collapsed to single spaces, trimmed.
fn clean(raw: &str) -> Option<String> {
    let decoded = html_escape::decode_html_entities(raw);
    let is_space = |c: char| c.is_whitespace() || c.is_control();
    let words: Vec<&str> = decoded.split(is_space).filter(|w| !w.is_empty()).collect();
    let text = words.join(" ");
    (!text.is_empty()).then_some(text)
}

/// At most `max` chars, cut on a char boundary.
fn cap(mut text: String, max: usize) -> String {
    if let Some((i, _)) = text.char_indices().nth(max) {
        text.truncate(i);
        text.truncate(text.trim_end().len());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every test page lives here; relative URLs resolve against it.
    fn meta(html: &str) -> PageMeta {
        let page = Url::parse("https://www.giornale.example.it/cronaca/citta.html?ref=home");
        extract(html, &page.unwrap())
    }

    #[track_caller]
    fn has(field: &Option<String>, want: &str) {
        assert_eq!(field.as_deref(), Some(want));
    }

    #[test]
    fn open_graph_wins_over_title() {
        // The example from https://ogp.me/, plus a <title> and a meta after the head.
        let m = meta(
            r#"<html prefix="og: https://ogp.me/ns#"><head><title>The Rock (1996)</title>
<meta property="og:title" content="The Rock" />
<meta property="og:type" content="video.movie" />
<meta property="og:url" content="https://www.imdb.com/title/tt0117500/" />
<meta property="og:image" content="https://ia.media-imdb.com/images/rock.jpg" />
</head><body><meta property="og:description" content="In the body"></body></html>"#,
        );
        has(&m.title, "The Rock");
        has(&m.canonical_url, "https://www.imdb.com/title/tt0117500/");
        has(&m.image_url, "https://ia.media-imdb.com/images/rock.jpg");
        assert_eq!((m.description, m.author, m.published), (None, None, None));
    }

    #[test]
    fn twitter_card_only() {
        let m = meta(
            r#"<head><meta name="twitter:card" content="summary_large_image">
<meta name="twitter:title" content="Launch day"><meta name="twitter:description" content="Shipped.">
<meta name="twitter:image:src" content="https://cdn.example.com/launch.png">
<meta name="twitter:image:alt" content="A rocket"></head>"#,
        );
        has(&m.title, "Launch day");
        has(&m.description, "Shipped.");
        has(&m.image_url, "https://cdn.example.com/launch.png");
        has(&m.image_alt, "A rocket");
    }

    #[test]
    fn plain_title_description_and_canonical_link() {
        let m = meta(
            "<!DOCTYPE html><head><title>\n  Minutes of the\n\tmeeting </title><meta name=\
             \"description\" content=\"What we decided.\"><link REL=\"Canonical\" href=\"m\">",
        );
        has(&m.title, "Minutes of the meeting");
        has(&m.description, "What we decided.");
        has(
            &m.canonical_url,
            "https://www.giornale.example.it/cronaca/m",
        );
    }

    const ITALIAN: &str = r#"<head><meta charset="utf-8"><title>Città più verde | Il Giornale</title>
<meta property="og:title" content="Perch&egrave; la città è più verde: «ci crediamo»">
<meta property="og:description" content="L&#8217;assessora: “Così è nata l’idea” &amp; ora?">
<meta property="og:image" content="/img/a.jpg"><meta property="og:image:alt" content="Sù, all&rsquo;alba">
<meta name="author" content="Niccolò Ferrà"><meta property="article:author" content="Altro">
<meta property="article:published_time" content="2024-05-06T08:30:00+02:00"></head>"#;

    #[test]
    fn italian_article_with_entities() {
        let m = meta(ITALIAN);
        has(&m.title, "Perchè la città è più verde: «ci crediamo»");
        has(&m.description, "L’assessora: “Così è nata l’idea” & ora?");
        has(&m.image_url, "https://www.giornale.example.it/img/a.jpg");
        has(&m.image_alt, "Sù, all’alba");
        has(&m.author, "Niccolò Ferrà");
        has(&m.published, "2024-05-06T08:30:00+02:00");
    }

    #[test]
    fn fallbacks_and_rejected_urls() {
        let js = r#"<meta property="og:image" content="javascript:alert(1)">"#;
        let fb = r#"<meta property="article:author" content="https://facebook.com/x">"#;
        let m = meta(&format!("{js}{fb}"));
        assert_eq!((m.image_url, m.author), (None, None));
        let tw = r#"<meta name="twitter:image" content="//cdn.example.com/b.jpg">"#;
        let dates = r#"<meta name=date content=1999><meta itemprop="datePublished" content=2023>"#;
        let m = meta(&format!("{js}{tw}{dates}"));
        has(&m.image_url, "https://cdn.example.com/b.jpg");
        has(&m.published, "2023");
        let m =
            meta(r#"<meta property="article:author" content="Ada"><meta name=date content=1999>"#);
        has(&m.author, "Ada");
        has(&m.published, "1999");
    }

    #[test]
    fn comments_and_scripts_are_not_tags() {
        let m = meta(
            r#"<head><!-- <meta property="og:title" content="Commented"> </head> -->
<script>var s = "<meta property='og:title' content='Scripted'></head>";</script>
<STYLE>/* <title>Styled</title> */</STYLE><!----><!-->
<meta property="og:title" content="Real"></head><title>After head</title>"#,
        );
        has(&m.title, "Real");
    }

    #[test]
    fn odd_attributes() {
        let m = meta(
            "<HEAD><META CONTENT=Rock PROPERTY='OG:TITLE'/><Meta\ncontent = \"a > b\"\n\
             name=Description><meta name=\"og:image\" data-x content='https://e.com/i.jpg'/>",
        );
        has(&m.title, "Rock");
        has(&m.description, "a > b");
        has(&m.image_url, "https://e.com/i.jpg");
    }

    #[test]
    fn truncated_documents_and_caps() {
        let long = "è".repeat(400);
        let m = meta(&format!(
            "<title>{long}</title><meta name=description content=\"cut"
        ));
        has(&m.title, &long[..TITLE_MAX * 2]);
        assert_eq!(m.description, None);
        has(&meta("<meta property=og:title content=Hi><tit").title, "Hi");
        // The 1 MiB limit falls inside the "é": the scan stops before it and the tag after.
        let late = "é<meta name=author content=Late>";
        assert_eq!(meta(&(" ".repeat(MAX_SCAN - 1) + late)).author, None);
        has(&meta(&(" ".repeat(MAX_SCAN - 100) + late)).author, "Late");
    }

    #[test]
    fn never_panics() {
        let sample = format!("<!-- ’😀 --><script>\"<meta\"</script>{ITALIAN}");
        for (i, _) in sample.char_indices() {
            meta(&sample[..i]);
        }
        let pieces: Vec<&str> = "<|>|/|=|\"|'|-|!|meta|title|é|😀| |&".split('|').collect();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2000 {
            let (mut doc, mut bytes) = (String::new(), Vec::new());
            for _ in 0..seed % 64 {
                // xorshift64: deterministic, no rand dependency
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                doc.push_str(pieces[(seed % pieces.len() as u64) as usize]);
                bytes.extend_from_slice(&seed.to_le_bytes()[..3]);
            }
            meta(&doc);
            meta(&String::from_utf8_lossy(&bytes));
        }
    }
}
