//! One SMTP mail transaction (MAIL, RCPT, DATA, content) on a lettre connection, pipelined
//! (RFC 2920) when the relay offers it.
//!
//! lettre's own `send` speaks one command at a time and dot-stuffs the content byte by byte:
//! four round trips per message, and on loopback every write also runs the receiver's TCP
//! processing. Relays worth sending a digest through advertise PIPELINING, so MAIL, RCPT and
//! DATA go out in one write and their replies come back together. When the caller already
//! knows the next message's envelope, its MAIL, RCPT and DATA follow this message's content in
//! the same write (RFC 2920 allows content first in a group): one round trip per message. A
//! message only counts as sent on its own reply to the final dot. Only the transaction is ours:
//! the connection, the commands, the reply parser and the errors are lettre's.

use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Ehlo, Mail};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::Address;

mod chunked;
mod pipelined;
#[cfg(test)]
mod tests;

use super::SendError;
use crate::domain::envelope_form;

/// Who a message is from and to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub sender: Address,
    pub recipient: Address,
}

impl Envelope {
    /// The envelope of one message (domains in A-labels), or a permanent error naming the
    /// address that is not one.
    pub fn new(sender: &str, recipient: &str) -> Result<Self, SendError> {
        let address = |a: &str, what: &str| {
            envelope_form(a)
                .parse::<Address>()
                .map_err(|_| SendError::Permanent(format!("invalid {what} address")))
        };
        Ok(Self {
            sender: address(sender, "sender")?,
            recipient: address(recipient, "recipient")?,
        })
    }

    fn is_ascii(&self) -> bool {
        AsRef::<str>::as_ref(&self.sender).is_ascii()
            && AsRef::<str>::as_ref(&self.recipient).is_ascii()
    }
}

/// The largest write buffer a connection keeps between messages; a rare huge message does
/// not pin its size for the connection's life.
pub(super) const KEPT_WIRE: usize = 1 << 20;

/// A relay connection and where it stands in the conversation.
pub struct Connection {
    pub smtp: AsyncSmtpConnection,
    pub(super) pipelining: bool,
    /// CHUNKING (RFC 3030): content sent with `BDAT <size>`, which needs no reply before it.
    chunking: bool,
    eight_bit: bool,
    /// A message whose MAIL, RCPT and DATA went out with the previous content; their replies
    /// are read when its turn comes, so a slow answer to them never delays (or, through a
    /// timeout, fails) the message before it, which the relay has already accepted.
    announced: Option<Envelope>,
    /// Every reply has been read and the relay waits for no content: QUIT may be sent, and
    /// the connection may be reused.
    settled: bool,
    /// What the next write carries, kept between messages: a message's worth of buffer is
    /// not allocated and freed for every one (large blocks go through the allocator's shared
    /// arenas, whose locks the sending threads then contend for).
    wire: String,
}

impl Connection {
    /// Asks the relay for its extensions once more: lettre keeps only those it knows, and
    /// PIPELINING is not one of them. Call it after STARTTLS, whose EHLO may differ.
    pub async fn new(
        mut smtp: AsyncSmtpConnection,
        hello: &ClientId,
    ) -> Result<Self, lettre::transport::smtp::Error> {
        let ehlo = smtp.command(Ehlo::new(hello.clone())).await?;
        let offers = |extension: &str| {
            ehlo.message().any(|line| {
                line.split_whitespace()
                    .next()
                    .is_some_and(|keyword| keyword.eq_ignore_ascii_case(extension))
            })
        };
        let (pipelining, chunking) = (offers("PIPELINING"), offers("CHUNKING"));
        let eight_bit = smtp.server_info().supports_feature(Extension::EightBitMime);
        Ok(Self {
            smtp,
            pipelining,
            chunking,
            eight_bit,
            announced: None,
            settled: true,
            wire: String::new(),
        })
    }

    /// Whether the connection is between transactions with nothing announced: reusable.
    pub fn is_idle(&self) -> bool {
        self.settled && self.announced.is_none()
    }

    /// Whether `send_chunked` may be used: the relay offers CHUNKING and PIPELINING (so
    /// commands need not wait for replies) and takes 8-bit content, and nothing is pending.
    pub fn takes_chunks(&self) -> bool {
        self.chunking && self.pipelining && self.eight_bit && self.is_idle()
    }

    /// MAIL FROM with BODY=8BITMIME whenever the relay has it (it is a declaration that the
    /// content may hold 8-bit text, true of any message), and SMTPUTF8 for non-ASCII addresses.
    fn mail(&self, envelope: &Envelope) -> Result<Mail, SendError> {
        let mut parameters = Vec::new();
        if !envelope.is_ascii() {
            if !self
                .smtp
                .server_info()
                .supports_feature(Extension::SmtpUtfEight)
            {
                return Err(SendError::Permanent(
                    "the relay does not accept non-ASCII addresses (no SMTPUTF8)".into(),
                ));
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if self.eight_bit {
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        Ok(Mail::new(Some(envelope.sender.clone()), parameters))
    }

    /// Ends the conversation: QUIT when the relay waits for nothing, otherwise the socket is
    /// simply closed (a relay discards a message whose content never ended).
    pub async fn close(mut self) {
        if self.settled {
            let _ = self.smtp.quit().await;
        }
    }
}

/// Whether `e` is the relay's answer (4xx or 5xx), as opposed to a broken or garbled exchange.
fn is_reply(e: &lettre::transport::smtp::Error) -> bool {
    e.is_transient() || e.is_permanent()
}

/// 5xx answers are permanent; everything else (4xx, I/O, TLS, timeouts) is worth a retry.
/// The reply's text is stored and logged with any address in it redacted.
pub fn classify(e: lettre::transport::smtp::Error) -> SendError {
    let reason = super::redact_addresses(&e.to_string());
    if e.is_permanent() {
        SendError::Permanent(reason)
    } else {
        SendError::Temporary(reason)
    }
}
