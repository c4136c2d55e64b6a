//! One message layout for many recipients. A digest goes to every reader with the same sender,
//! subject, list headers and MIME structure; only the recipient, Message-ID, Date, unsubscribe
//! link and the bodies differ. Those shared parts are formatted (and encoded, folded) once by
//! lettre, and each reader's copy is assembled by appending bytes: building a lettre `Message`
//! per reader was a quarter of the service's CPU in a send.

use std::cell::RefCell;
use std::fmt::Write as _;

use chrono::Utc;
use lettre::message::header::{self, ContentType, HeaderName, HeaderValue, Headers};
use lettre::message::Mailboxes;
use rand::distributions::{Alphanumeric, DistString};

use crate::domain::Sender;

/// What every copy of a multipart/alternative message shares, already formatted.
pub struct Letterhead {
    /// From, Subject, Reply-To, the extra headers, MIME-Version and the multipart Content-Type,
    /// written after the recipient's own headers.
    shared: String,
    /// The boundary line and headers that open the text part, indexed by transfer encoding.
    text_open: [String; 2],
    /// The boundary between the parts and the headers of the HTML part, per encoding.
    html_open: [String; 2],
    /// The closing boundary.
    close: String,
    boundary: String,
}

/// How a body part goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    /// UTF-8 as is (RFC 6152), lines of at most 998 octets.
    EightBit = 0,
    /// For a body with a longer line.
    QuotedPrintable = 1,
}

/// One recipient's headers: printable ASCII only (see [`header_safe`]).
pub struct Addressee<'a> {
    pub to: &'a str,
    pub message_id: &'a str,
    /// The `List-Unsubscribe` value.
    pub list_unsubscribe: &'a str,
}

/// Whether `value` can be written in a header as is: printable ASCII, no line break, so
/// nothing a reader's record holds can add a header or need encoding.
pub fn header_safe(value: &str) -> bool {
    value.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// A body part: its transfer encoding, and what appends it to the message.
pub struct Part<F: FnOnce(&mut String)> {
    pub encoding: TransferEncoding,
    pub write: F,
}

impl Letterhead {
    /// `headers` are extra headers with values already validated (List-Id...).
    pub fn new(
        from: &Sender,
        reply_to: Option<&Sender>,
        subject: &str,
        headers: &[(&'static str, String)],
    ) -> Self {
        // Random per digest, like lettre's, so no body holds it by chance; `=_` can never start
        // a quoted-printable line, and a reader's value that contains it is refused (`admits`).
        let boundary = format!(
            "=_{}",
            Alphanumeric.sample_string(&mut rand::thread_rng(), 38)
        );
        let mut shared = Headers::new();
        shared.set(header::From::from(Mailboxes::from(from.mailbox().clone())));
        shared.set(header::Subject::from(subject.to_owned()));
        if let Some(reply_to) = reply_to {
            shared.set(header::ReplyTo::from(Mailboxes::from(
                reply_to.mailbox().clone(),
            )));
        }
        for (name, value) in headers {
            shared.insert_raw(HeaderValue::new(
                HeaderName::new_from_ascii_str(name),
                value.clone(),
            ));
        }
        shared.set(header::MIME_VERSION_1_0);
        shared.set(
            ContentType::parse(&format!("multipart/alternative; boundary=\"{boundary}\""))
                .expect("a valid multipart content type"),
        );
        let part = |content_type: ContentType, encoding| {
            let mut h = Headers::new();
            h.set(content_type);
            h.set(match encoding {
                TransferEncoding::EightBit => header::ContentTransferEncoding::EightBit,
                TransferEncoding::QuotedPrintable => {
                    header::ContentTransferEncoding::QuotedPrintable
                }
            });
            format!("--{boundary}\r\n{h}\r\n")
        };
        let both = |content_type: &ContentType| {
            [
                TransferEncoding::EightBit,
                TransferEncoding::QuotedPrintable,
            ]
            .map(|encoding| part(content_type.clone(), encoding))
        };
        Self {
            shared: shared.to_string(),
            text_open: both(&ContentType::TEXT_PLAIN),
            html_open: both(&ContentType::TEXT_HTML).map(|open| format!("\r\n{open}")),
            close: format!("\r\n--{boundary}--\r\n"),
            boundary,
        }
    }

    /// The multipart boundary.
    #[cfg(test)]
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// Whether a reader's `value` can go into a body as is: no line break (which would slip
    /// past dot-stuffing's CRLF-dot) and not the boundary.
    pub fn admits(&self, value: &str) -> bool {
        !value.contains(['\r', '\n']) && !value.contains(&self.boundary)
    }

    /// One copy, in `out` (cleared first; a buffer kept from an earlier copy saves allocating
    /// one per reader). `text` and `html` append their body in their transfer encoding, CRLF
    /// line endings, every line ended (an 8bit body's lines within 998 octets: the caller
    /// checks).
    pub fn write(
        &self,
        mut out: String,
        to: &Addressee<'_>,
        text: Part<impl FnOnce(&mut String)>,
        html: Part<impl FnOnce(&mut String)>,
        size_hint: usize,
    ) -> String {
        out.clear();
        out.reserve(size_hint + self.shared.len() + 512);
        for (name, value) in [("To: ", to.to), ("Message-ID: ", to.message_id)] {
            out.push_str(name);
            out.push_str(value);
            out.push_str("\r\n");
        }
        with_date(|date| {
            out.push_str("Date: ");
            out.push_str(date);
            out.push_str("\r\n");
        });
        out.push_str("List-Unsubscribe: ");
        // Folded after the comma when the two links make a long line (RFC 5322 2.1.1 asks for
        // 78 characters where it can be done).
        match to.list_unsubscribe.split_once(", ") {
            Some((https, mailto))
                if "List-Unsubscribe: ".len() + to.list_unsubscribe.len() > 78 =>
            {
                out.push_str(https);
                out.push_str(",\r\n ");
                out.push_str(mailto);
            }
            _ => out.push_str(to.list_unsubscribe),
        }
        out.push_str("\r\n");
        out.push_str(&self.shared);
        out.push_str("\r\n");
        out.push_str(&self.text_open[text.encoding as usize]);
        (text.write)(&mut out);
        out.push_str(&self.html_open[html.encoding as usize]);
        (html.write)(&mut out);
        out.push_str(&self.close);
        out
    }
}

/// The current time as an RFC 5322 date, formatted once a second per thread.
fn with_date(f: impl FnOnce(&str)) {
    thread_local! {
        static DATE: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        let now = Utc::now();
        if cached.0 != now.timestamp() {
            cached.1.clear();
            let _ = write!(cached.1, "{}", now.format("%a, %d %b %Y %H:%M:%S +0000"));
            cached.0 = now.timestamp();
        }
        f(&cached.1);
    });
}
