//! A digest body rendered once for all its readers. The template runs with a marker in place of
//! each of the reader's own values (name, unsubscribe and preferences links); each reader's copy
//! is then the text between the markers with the values put back, escaped as the template
//! would have escaped them. Running minijinja per reader was a fifth of the service's CPU in a
//! send. `PreparedDigest` checks the result against full renderings before using it.
//!
//! A body with a line longer than SMTP allows goes as quoted-printable: each piece is encoded
//! once and ends with a soft line break, each value is encoded on its own, so the pieces join
//! back into exactly the rendered text.

use std::fmt::Write as _;

use minijinja::HtmlEscape;

use crate::mail::{crlf_lines, TransferEncoding, MAX_LINE};

/// A reader's own values in a digest body.
pub struct Personal<'a> {
    pub name: Option<&'a str>,
    pub unsubscribe_url: &'a str,
    pub preferences_url: &'a str,
}

/// What the template is given in place of the reader's values. Private-use characters: not
/// touched by HTML escaping, and a template that alters them (a filter) is detected.
pub const MARKERS: Personal<'static> = Personal {
    name: Some("\u{E000}name\u{E001}"),
    unsubscribe_url: "\u{E000}unsubscribe\u{E001}",
    preferences_url: "\u{E000}preferences\u{E001}",
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    Name,
    Unsubscribe,
    Preferences,
}

#[derive(Debug)]
enum Piece {
    Fixed(String),
    Slot(Slot),
}

/// One body (text or HTML) with the reader's values left out.
#[derive(Debug)]
pub struct Stencil {
    pieces: Vec<Piece>,
    /// HTML-escape the values (an `.html` template).
    escape: bool,
    encoding: TransferEncoding,
    /// The longest line, markers included: with what a reader adds, a bound on their lines.
    longest_line: usize,
    fixed_len: usize,
}

impl Stencil {
    /// Splits a body rendered with [`MARKERS`]; None when a marker came out altered, so the
    /// values could not be put back faithfully.
    pub fn parse(rendered: &str, escape: bool) -> Option<Self> {
        let (body, longest_line) = crlf_lines(rendered);
        let encoding = if longest_line > MAX_LINE {
            TransferEncoding::QuotedPrintable
        } else {
            TransferEncoding::EightBit
        };
        let slots = [
            (Slot::Name, MARKERS.name.unwrap_or_default()),
            (Slot::Unsubscribe, MARKERS.unsubscribe_url),
            (Slot::Preferences, MARKERS.preferences_url),
        ];
        let mut pieces = Vec::new();
        let mut rest = body.as_str();
        loop {
            let (fixed, tail) = rest.split_at(rest.find('\u{E000}').unwrap_or(rest.len()));
            if fixed.contains('\u{E001}') {
                return None;
            }
            if !fixed.is_empty() {
                pieces.push(Piece::Fixed(match encoding {
                    TransferEncoding::EightBit => fixed.to_owned(),
                    TransferEncoding::QuotedPrintable => quoted_printable(fixed),
                }));
            }
            if tail.is_empty() {
                break;
            }
            let (slot, marker) = slots.iter().find(|(_, m)| tail.starts_with(m))?;
            pieces.push(Piece::Slot(*slot));
            rest = &tail[marker.len()..];
        }
        let fixed_len = pieces
            .iter()
            .map(|p| match p {
                Piece::Fixed(s) => s.len(),
                Piece::Slot(_) => 0,
            })
            .sum();
        Some(Self {
            pieces,
            escape,
            encoding,
            longest_line,
            fixed_len,
        })
    }

    /// How the body goes on the wire: 8bit, or quoted-printable when a line is too long.
    pub fn encoding(&self) -> TransferEncoding {
        self.encoding
    }

    /// Appends the body for one reader, transfer-encoded; false when a line of an 8bit body
    /// may have grown past SMTP's limit and really did (the copy must be built another way).
    pub fn write(&self, out: &mut String, reader: &Personal<'_>) -> bool {
        let start = out.len();
        let mut escaped = String::new();
        for piece in &self.pieces {
            let value = match piece {
                Piece::Fixed(s) => {
                    out.push_str(s);
                    continue;
                }
                Piece::Slot(slot) => reader.value(*slot),
            };
            match (self.encoding, self.escape) {
                (TransferEncoding::EightBit, true) => {
                    let _ = write!(out, "{}", HtmlEscape(value));
                }
                (TransferEncoding::EightBit, false) => out.push_str(value),
                (TransferEncoding::QuotedPrintable, escape) => {
                    escaped.clear();
                    let _ = match escape {
                        true => write!(escaped, "{}", HtmlEscape(value)),
                        false => escaped.write_str(value),
                    };
                    out.push_str(&quoted_printable(&escaped));
                }
            }
        }
        if self.encoding == TransferEncoding::QuotedPrintable {
            return true;
        }
        let inserted = out.len() - start - self.fixed_len;
        self.longest_line + inserted <= MAX_LINE
            || out[start..]
                .split('\n')
                .all(|line| line.len() <= MAX_LINE + 1)
    }

    /// The body's size without the reader's values.
    pub fn fixed_len(&self) -> usize {
        self.fixed_len
    }
}

impl Personal<'_> {
    fn value(&self, slot: Slot) -> &str {
        match slot {
            Slot::Name => self.name.unwrap_or_default(),
            Slot::Unsubscribe => self.unsubscribe_url,
            Slot::Preferences => self.preferences_url,
        }
    }
}

/// `s` (CRLF line ends) quoted-printable, ending on a line of its own: a soft line break after
/// a last line that has no line end, so the next piece can follow.
fn quoted_printable(s: &str) -> String {
    let mut encoded = ::quoted_printable::encode_to_str(s);
    if !s.is_empty() && !s.ends_with("\r\n") {
        encoded.push_str("=\r\n");
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(name: Option<&str>) -> Personal<'_> {
        Personal {
            name,
            unsubscribe_url: "https://x.example/u/1.2.tag",
            preferences_url: "https://x.example/p/1.tag",
        }
    }

    fn written(stencil: &Stencil, reader: &Personal<'_>) -> (String, bool) {
        let mut out = String::new();
        let fits = stencil.write(&mut out, reader);
        (out, fits)
    }

    #[test]
    fn values_go_back_where_the_markers_were_escaped_in_html() {
        let rendered = format!(
            "Ciao {},\n<a href=\"{}\">x</a> {}\n",
            HtmlEscape(MARKERS.name.unwrap()),
            HtmlEscape(MARKERS.unsubscribe_url),
            MARKERS.preferences_url
        );
        let stencil = Stencil::parse(&rendered, true).unwrap();
        let (body, fits) = written(&stencil, &reader(Some("Zoë <b>&")));
        assert!(fits);
        assert_eq!(
            body,
            "Ciao Zoë &lt;b&gt;&amp;,\r\n<a href=\"https:&#x2f;&#x2f;x.example&#x2f;u&#x2f;1.2.tag\">x</a> https:&#x2f;&#x2f;x.example&#x2f;p&#x2f;1.tag\r\n"
        );
        let text = Stencil::parse(&rendered, false).unwrap();
        assert!(written(&text, &reader(Some("<b>")))
            .0
            .starts_with("Ciao <b>,\r\n"));
    }

    #[test]
    fn an_altered_marker_is_refused() {
        let upper = MARKERS.name.unwrap().to_uppercase();
        assert!(Stencil::parse(&format!("Ciao {upper}"), false).is_none());
        assert!(Stencil::parse("half \u{E000}nam", false).is_none());
        assert!(Stencil::parse("stray \u{E001}", false).is_none());
        assert!(Stencil::parse(&format!("ok {}", MARKERS.unsubscribe_url), false).is_some());
    }

    #[test]
    fn a_line_pushed_past_998_octets_is_reported() {
        let line = format!("{} {}", "x".repeat(900), MARKERS.name.unwrap());
        let stencil = Stencil::parse(&line, false).unwrap();
        assert!(written(&stencil, &reader(Some("Ada"))).1);
        assert!(!written(&stencil, &reader(Some(&"y".repeat(100)))).1);
    }

    #[test]
    fn a_body_with_a_line_over_998_octets_goes_quoted_printable_and_decodes_exactly() {
        let long = format!("{} città “fine”", "parola ".repeat(200));
        let rendered = format!(
            "Ciao {},\n{long}\n<a href=\"{}\">x</a>",
            MARKERS.name.unwrap(),
            HtmlEscape(MARKERS.unsubscribe_url)
        );
        let stencil = Stencil::parse(&rendered, true).unwrap();
        assert_eq!(stencil.encoding(), TransferEncoding::QuotedPrintable);
        let (body, fits) = written(&stencil, &reader(Some("Zoë <b> = ok")));
        assert!(fits);
        assert!(body.split("\r\n").all(|line| line.len() <= 76), "{body}");
        let decoded = ::quoted_printable::decode(&body, ::quoted_printable::ParseMode::Strict);
        let expected = format!(
            "Ciao Zoë &lt;b&gt; = ok,\r\n{long}\r\n<a href=\"https:&#x2f;&#x2f;x.example&#x2f;u&#x2f;1.2.tag\">x</a>\r\n"
        );
        assert_eq!(String::from_utf8(decoded.unwrap()).unwrap(), expected);
        let short = Stencil::parse("short", false).unwrap();
        assert_eq!(short.encoding(), TransferEncoding::EightBit);
    }
}
