//! Building one message: headers, multipart/alternative, Message-ID.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;
use rand::RngCore;

use crate::domain::Sender;

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
}

/// A message ready for the outbox.
#[derive(Debug, Clone)]
pub struct ComposedMail {
    /// `<random@sender-domain>`, recorded so a bounce or complaint can be traced back.
    pub message_id: String,
    pub bytes: Vec<u8>,
}

/// Why a message could not be built (an address that is not one; never user-facing input,
/// which is validated before it gets here).
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("invalid recipient address")]
    Recipient,
    #[error("could not build the message: {0}")]
    Build(#[from] lettre::error::Error),
}

/// Builds a multipart/alternative message with a fresh Message-ID and the current Date.
pub fn compose(parts: &MailParts<'_>) -> Result<ComposedMail, ComposeError> {
    let mut id = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut id);
    let message_id = format!("<{}@{}>", hex::encode(id), parts.from.domain());
    let to: Mailbox = Mailbox::new(None, parts.to.parse().map_err(|_| ComposeError::Recipient)?);
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
    let message = builder.multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(parts.text.to_owned()),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(parts.html.to_owned()),
            ),
    )?;
    Ok(ComposedMail {
        message_id,
        bytes: message.formatted(),
    })
}
