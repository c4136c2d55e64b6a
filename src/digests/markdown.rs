//! A digest's introduction: Markdown written by an editor, rendered for mail and the archive.
//! Raw HTML is shown as the text it is, links keep only web and mail addresses, and images are
//! left out (an introduction is words; articles carry the images), so nothing an editor pastes
//! can run script or break the mail's layout.

use pulldown_cmark::{html, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

/// The most an introduction may hold.
pub const MAX_INTRO_CHARS: usize = 10_000;

/// Renders Markdown to HTML that is safe to put in a page or a mail as it is.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_STRIKETHROUGH;
    let mut in_image = 0usize;
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
        // Raw HTML becomes text, escaped by the writer.
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Some(Event::Start(Tag::Link {
            dest_url: match link_type {
                // `<redazione@example.org>`: the address alone, written as mailto: by the writer.
                LinkType::Email => dest_url,
                _ => safe_url(dest_url),
            },
            link_type,
            title,
            id,
        })),
        // An image is replaced by its description.
        Event::Start(Tag::Image { .. }) => {
            in_image += 1;
            None
        }
        Event::End(TagEnd::Image) => {
            in_image = in_image.saturating_sub(1);
            None
        }
        other => Some(other),
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// The address itself when it is http(s), mailto or relative to nothing dangerous; else "#".
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let allowed = ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme));
    if allowed {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_common_markdown_an_editor_writes() {
        let html = to_html("Buongiorno! Ecco **le notizie** di *oggi*:\n\n- una\n- due\n\n[Il sito](https://example.org/a?b=1&c=2)");
        assert!(html.contains("<strong>le notizie</strong>"), "{html}");
        assert!(html.contains("<em>oggi</em>"), "{html}");
        assert!(html.contains("<li>una</li>"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.org/a?b=1&amp;c=2">Il sito</a>"#),
            "{html}"
        );
    }

    #[test]
    fn raw_html_is_shown_as_text_and_never_runs() {
        let html = to_html(
            "<script>alert(1)</script>\n\nciao <img src=x onerror=alert(1)> <b>grassetto</b>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn only_web_and_mail_links_are_kept() {
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
        ] {
            let html = to_html(&format!("[clic]({bad})"));
            assert!(html.contains(r##"<a href="#">clic</a>"##), "{bad}: {html}");
        }
        let html = to_html("[scrivici](mailto:redazione@example.org)");
        assert!(html.contains("mailto:redazione@example.org"), "{html}");
        let html = to_html("Scrivici: <redazione@example.org>");
        assert!(
            html.contains(r#"href="mailto:redazione@example.org""#),
            "{html}"
        );
    }

    #[test]
    fn images_become_their_description() {
        let html = to_html("![un gatto](https://example.org/gatto.jpg)");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("un gatto"), "{html}");
    }

    #[test]
    fn accents_and_quotes_pass_through() {
        let html = to_html("Perché « così » e “così” — l’Italia");
        assert!(
            html.contains("Perché « così » e “così” — l’Italia"),
            "{html}"
        );
    }
}
