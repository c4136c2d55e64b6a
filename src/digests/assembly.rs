//! The fast way to each reader's copy of a digest: the headers and bodies formatted once
//! (`Letterhead`, and body stencils cut at the reader's values), kept only when two sample
//! readers' copies match what the templates give them, then each copy appended piece by piece.

use super::render::{PreparedDigest, RecipientView};
use super::stencil::{Personal, Stencil, MARKERS};
use crate::links::Links;
use crate::mail::{
    crlf_lines, header_safe, new_message_id, Addressee, ComposedMail, Letterhead, Part,
    TransferEncoding,
};
use crate::templates::Templates;

/// A digest's headers and bodies formatted once: text and HTML stencils for readers without a
/// name and with one (the greeting differs).
pub(super) struct Bulk {
    pub(super) letterhead: Letterhead,
    anonymous: (Stencil, Stencil),
    named: (Stencil, Stencil),
}

impl PreparedDigest {
    /// Formats the shared parts once, and keeps them only if two sample readers (one without a
    /// name, one whose name needs escaping) get exactly what the templates give them.
    pub(super) fn bulk(&self, templates: &Templates) -> Result<Bulk, &'static str> {
        const ALTERED: &str = "a template alters a reader's value";
        let stencils = |name| {
            let markers = Personal { name, ..MARKERS };
            let (text, html) = self
                .render_bodies(templates, &markers)
                .map_err(|_| "the templates failed")?;
            let text = Stencil::parse(&text, false).ok_or(ALTERED)?;
            Ok::<_, &str>((text, Stencil::parse(&html, true).ok_or(ALTERED)?))
        };
        let bulk = Bulk {
            letterhead: Letterhead::new(
                &self.sender,
                self.reply_to.as_ref(),
                &self.subject,
                &self.shared_headers(),
            ),
            anonymous: stencils(None)?,
            named: stencils(MARKERS.name)?,
        };
        for name in [None, Some("Zoë <O'Brien> & \"co\"/ =")] {
            let sample = Personal {
                name,
                unsubscribe_url: "https://example.org/unsubscribe/1.2.x?a=b&c=d",
                preferences_url: "https://example.org/preferences/1.x",
            };
            let (text, html) = self
                .render_bodies(templates, &sample)
                .map_err(|_| "the templates failed")?;
            let (text_stencil, html_stencil) = bulk.stencils(name);
            for (stencil, expected) in [(text_stencil, text), (html_stencil, html)] {
                let mut out = String::new();
                stencil.write(&mut out, &sample);
                let decoded = match stencil.encoding() {
                    TransferEncoding::EightBit => Some(out),
                    TransferEncoding::QuotedPrintable => {
                        quoted_printable::decode(&out, quoted_printable::ParseMode::Strict)
                            .ok()
                            .and_then(|d| String::from_utf8(d).ok())
                    }
                };
                if decoded != Some(crlf_lines(&expected).0) {
                    return Err("a sample reader's copy differs from the templates'");
                }
            }
        }
        Ok(bulk)
    }

    /// The copy from the parts formatted once; None when this reader's copy needs the general
    /// composer (no bulk parts, an address or link that is not printable ASCII, a name with a
    /// line break or the boundary in it, an 8bit line that would grow past 998 octets).
    pub(super) fn compose_bulk(
        &self,
        links: &Links,
        to: &RecipientView<'_>,
        unsubscribe_url: &str,
        list_unsubscribe: &str,
        buf: String,
    ) -> Option<ComposedMail> {
        let bulk = self.bulk.as_ref()?;
        let name = to.name();
        let headers_safe = [to.email, unsubscribe_url, list_unsubscribe]
            .iter()
            .chain(to.message_id.as_ref())
            .all(|v| header_safe(v));
        if !headers_safe || !name.map_or(true, |n| bulk.letterhead.admits(n)) {
            return None;
        }
        let preferences_url = links.preferences(to.subscriber_id);
        let reader = Personal {
            name,
            unsubscribe_url,
            preferences_url: &preferences_url,
        };
        let message_id = match to.message_id {
            Some(id) => id.to_owned(),
            None => new_message_id(self.sender.domain()),
        };
        let addressee = Addressee {
            to: to.email,
            message_id: &message_id,
            list_unsubscribe,
        };
        let (text, html) = bulk.stencils(name);
        let (mut text_fits, mut html_fits) = (false, false);
        let content = bulk.letterhead.write(
            buf,
            &addressee,
            Part {
                encoding: text.encoding(),
                write: |out: &mut String| text_fits = text.write(out, &reader),
            },
            Part {
                encoding: html.encoding(),
                write: |out: &mut String| html_fits = html.write(out, &reader),
            },
            text.fixed_len() + html.fixed_len() + 1024,
        );
        (text_fits && html_fits)
            .then(|| ComposedMail::new(message_id, content, self.options.dkim.as_deref()))
    }
}

impl Bulk {
    fn stencils(&self, name: Option<&str>) -> (&Stencil, &Stencil) {
        let (text, html) = match name {
            Some(_) => &self.named,
            None => &self.anonymous,
        };
        (text, html)
    }
}
