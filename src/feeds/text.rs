//! Feed text to one line of plain text: digests show titles and summaries as text, and feeds
//! carry HTML (escaped in RSS descriptions, `type="html"` in Atom) full of entities.

/// Elements whose boundaries separate words; other tags (`<b>`, `<a>`...) sit inside text.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// Plain text from HTML: tags stripped (script and style with their content), entities
/// decoded, whitespace collapsed to single spaces, control characters dropped.
pub fn from_html(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        text.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(comment) = after.strip_prefix("!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        // A `<` that starts no tag ("a < b") is text.
        if !after.starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?')) {
            text.push('<');
            rest = after;
            continue;
        }
        let end = tag_end(after);
        let name: String = after
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        rest = &after[end..];
        if (name == "script" || name == "style") && !after.starts_with('/') {
            rest = skip_past_closing(rest, &name);
        }
        if BLOCKS.contains(&name.as_str()) {
            text.push(' ');
        }
    }
    text.push_str(rest);
    plain(&text)
}

/// Plain text that may still hold entities (RSS titles often do): decoded and collapsed.
pub fn plain(s: &str) -> String {
    html_escape::decode_html_entities(s)
        .split_whitespace()
        .map(|word| word.replace(char::is_control, ""))
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// At most `max` characters: a longer text is cut at a word boundary near the limit when there
/// is one, and ends with an ellipsis.
pub fn truncate(s: String, max: usize) -> String {
    let Some((cut, _)) = s.char_indices().nth(max.saturating_sub(1)) else {
        return s;
    };
    if s[cut..].chars().count() <= 1 {
        return s; // exactly `max` characters
    }
    let head = &s[..cut];
    // Prefer the last space near the end (a word cut in half reads worse).
    let head = match head.rfind(' ') {
        Some(space) if head[space..].chars().count() <= (max / 10).max(10) => &head[..space],
        _ => head,
    };
    format!("{}…", head.trim_end())
}

/// Index just past the `>` that closes a tag, skipping quoted attribute values.
fn tag_end(tag: &str) -> usize {
    let mut quote = None;
    for (i, c) in tag.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return i + 1,
            _ => {}
        }
    }
    tag.len()
}

fn skip_past_closing<'a>(s: &'a str, name: &str) -> &'a str {
    let lower = s.to_ascii_lowercase();
    match lower.find(&format!("</{name}")) {
        Some(i) => &s[i + tag_end(&s[i..])..],
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_one_line_of_text_with_entities_decoded() {
        let html = "<p>L&rsquo;Italia &laquo;rallenta&raquo;:\n<b>perch&eacute;</b> &#8220;ora&#8221;?</p>\
            <script>alert('x > y')</script><!-- note --><p>a < b &amp;&nbsp;c<br/>fine</p>\
            <a href=\"x?a=1&gt;\" title='1 > 0'>link</a>";
        assert_eq!(
            from_html(html),
            "L’Italia «rallenta»: perché “ora”? a < b & c fine link"
        );
        assert_eq!(from_html("<p>un</p><p>due</p>"), "un due");
        assert_eq!(from_html("per<em>ché</em>"), "perché");
    }

    #[test]
    fn plain_text_keeps_angle_brackets_and_drops_control_characters() {
        assert_eq!(plain("  AT&amp;T <b>\u{7}\n  e  più "), "AT&T <b> e più");
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary_with_an_ellipsis() {
        let s = "è".repeat(20);
        assert_eq!(truncate(s.clone(), 20), s);
        assert_eq!(truncate(s.clone(), 10), format!("{}…", "è".repeat(9)));
        let words = "parola ".repeat(10);
        let cut = truncate(words.trim().to_owned(), 40);
        assert!(cut.chars().count() <= 40, "{cut}");
        assert!(cut.ends_with("parola…"), "{cut}");
    }
}
