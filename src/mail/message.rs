//! Building one message: headers, multipart/alternative, Message-ID.

use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use rand::RngCore;

use super::DkimSigner;
use crate::domain::{envelope_form, Sender};

/// What a message says, already rendered.
pub struct MailParts<'a> {
    pub from: &'a Sender,
    pub reply_to: Option<&'a Sender>,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    /// Extra headers (List-Id, List-Unsubscribe...), values already validated.
    pub headers: Vec<(&'static str, String)>,
    /// A Message-ID chosen by the caller (a digest delivery keeps its own across retries);
    /// a fresh one is minted when None.
    pub message_id: Option<&'a str>,
    /// Send the bodies as 8bit UTF-8 (RFC 6152) instead of quoted-printable: no encoding pass
    /// per message, for bulk mail to relays that announce 8BITMIME (virtually all do). A body
    /// with a line over 998 octets falls back to quoted-printable.
    pub eight_bit: bool,
    /// Sign with DKIM when a key is configured.
    pub dkim: Option<&'a DkimSigner>,
}

/// A message ready for the outbox.
#[derive(Debug, Clone)]
pub struct ComposedMail {
    /// `<random@sender-domain>`, recorded so a bounce or complaint can be traced back.
    pub message_id: String,
    /// The whole RFC 5322 message, CRLF line endings.
    pub content: String,
}

impl ComposedMail {
    /// The finished message, with a DKIM signature in front when a key is configured.
    pub fn new(message_id: String, content: String, dkim: Option<&DkimSigner>) -> Self {
        let content = match dkim {
            Some(signer) => signer.sign(&content),
            None => content,
        };
        Self {
            message_id,
            content,
        }
    }
}

/// Why a message could not be built (an address that is not one; never user-facing input,
/// which is validated before it gets here).
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("invalid recipient address")]
    Recipient,
    #[error("could not build the message: {0}")]
    Build(lettre::error::Error),
    #[error("the message is not UTF-8")]
    Encoding,
}

impl From<lettre::error::Error> for ComposeError {
    fn from(e: lettre::error::Error) -> Self {
        ComposeError::Build(e)
    }
}

/// The longest line SMTP carries (RFC 5321 4.5.3.1.6), without its CRLF.
pub const MAX_LINE: usize = 998;

/// `s` with CRLF line endings, every line ended (as a MIME body), and its longest line's length.
pub fn crlf_lines(s: &str) -> (String, usize) {
    let mut buf = String::with_capacity(s.len() + s.len() / 16);
    let mut longest = 0;
    for line in s.lines() {
        longest = longest.max(line.len());
        buf.push_str(line);
        buf.push_str("\r\n");
    }
    (buf, longest)
}

/// `s` as an 8bit body, or None when a line is longer than SMTP allows. (lettre's own chooser
/// only picks 8bit for lines under 76 characters, the quoted-printable limit, which no real
/// HTML meets.)
fn eight_bit_body(s: &str) -> Option<Body> {
    let (buf, longest) = crlf_lines(s);
    (longest <= MAX_LINE)
        .then(|| Body::dangerous_pre_encoded(buf.into_bytes(), ContentTransferEncoding::EightBit))
}

/// A fresh `<random@domain>` Message-ID.
pub fn new_message_id(domain: &str) -> String {
    let mut id = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut id);
    format!("<{}@{domain}>", hex::encode(id))
}

/// Builds a multipart/alternative message with a fresh Message-ID and the current Date.
pub fn compose(parts: &MailParts<'_>) -> Result<ComposedMail, ComposeError> {
    let message_id = match parts.message_id {
        Some(id) => id.to_owned(),
        None => new_message_id(parts.from.domain()),
    };
    let to = envelope_form(parts.to)
        .parse()
        .map_err(|_| ComposeError::Recipient)?;
    let to: Mailbox = Mailbox::new(None, to);
    let mut builder = Message::builder()
        .from(parts.from.mailbox().clone())
        .to(to)
        .subject(parts.subject)
        .message_id(Some(message_id.clone()))
        .date_now();
    if let Some(reply_to) = parts.reply_to {
        builder = builder.reply_to(reply_to.mailbox().clone());
    }
    for (name, value) in &parts.headers {
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(name),
            value.clone(),
        ));
    }
    let body = |s: &str| {
        parts
            .eight_bit
            .then(|| eight_bit_body(s))
            .flatten()
            .unwrap_or_else(|| Body::new(s.to_owned()))
    };
    let message = builder.multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(body(parts.text)),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(body(parts.html)),
            ),
    )?;
    let content = String::from_utf8(message.formatted()).map_err(|_| ComposeError::Encoding)?;
    Ok(ComposedMail::new(message_id, content, parts.dkim))
}
