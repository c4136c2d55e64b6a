//! One message at a time with DATA, pipelined (RFC 2920) when the relay offers it: MAIL, RCPT
//! and DATA in one write, and the next message's announced with this one's content.

use std::fmt::{self, Display, Formatter, Write};

use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::response::Response;

use super::{classify, is_reply, Connection, Envelope, KEPT_WIRE};
use crate::mail::SendError;

impl Connection {
    /// Sends `content` (a formatted message, CRLF line ends) to `this` envelope, and announces
    /// `next` in the same write when the relay pipelines. The next call must then send `next`;
    /// any error leaves the connection fit only for `close`. `content` comes back as it was
    /// given: when no line needs escaping, the final dot and the next group are written after
    /// it in its own buffer for the write, then cut off again, which saves copying it.
    pub async fn send(
        &mut self,
        this: &Envelope,
        content: &mut String,
        next: Option<&Envelope>,
    ) -> Result<(), SendError> {
        if !self.eight_bit && !content.is_ascii() {
            return Err(SendError::Permanent(
                "the relay does not accept 8-bit messages (no 8BITMIME)".into(),
            ));
        }
        match self.announced.take() {
            Some(announced) if announced == *this => {
                let mail = self.smtp.read_response().await;
                self.rest_of_group(mail).await?;
            }
            Some(_) => {
                return Err(SendError::Temporary(
                    "the relay was expecting another message".into(),
                ))
            }
            None => self.open(this).await?,
        }
        let next = next.filter(|n| self.pipelining && self.eight_bit && n.is_ascii());
        let group = match next {
            Some(next) => Some(Group(
                self.mail(next)?,
                Rcpt::new(next.recipient.clone(), vec![]),
            )),
            None => None,
        };
        let wrote = if needs_stuffing(content) {
            written(&mut self.wire, content, group);
            let wrote = self.smtp.command(self.wire.as_str()).await;
            if self.wire.capacity() > KEPT_WIRE {
                self.wire = String::new();
            }
            wrote
        } else {
            // Cut back on every way out, a timeout that drops this future included.
            let content = Restore::new(content);
            ended(content.0, group);
            self.smtp.command(content.0.as_str()).await
        };
        wrote.map_err(classify)?;
        match next {
            Some(next) => self.announced = Some(next.clone()),
            None => self.settled = true,
        }
        Ok(())
    }

    /// Writes MAIL, RCPT and DATA for `this` (together when the relay pipelines) and reads
    /// the replies; Ok when the relay waits for the content.
    async fn open(&mut self, this: &Envelope) -> Result<(), SendError> {
        // Refused before a byte is written (no SMTPUTF8): the conversation is still settled.
        let mail = self.mail(this)?;
        self.settled = false;
        let rcpt = Rcpt::new(this.recipient.clone(), vec![]);
        if self.pipelining {
            let first = self.smtp.command(Group(mail, rcpt)).await;
            return self.rest_of_group(first).await;
        }
        let lock_step = async {
            self.smtp.command(mail).await?;
            self.smtp.command(rcpt).await?;
            self.smtp.command(Data).await
        };
        let outcome = lock_step.await.map(drop);
        // A refusal (a reply, not a broken connection) leaves the relay between transactions.
        self.settled = outcome.as_ref().is_err_and(is_reply);
        outcome.map_err(classify)
    }

    /// Given the reply to MAIL, reads those to RCPT and DATA. Every reply is read even after
    /// a refusal, and if the relay accepted DATA although it refused MAIL or RCPT, a lone dot
    /// ends that empty message (RFC 2920, 3.1).
    async fn rest_of_group(
        &mut self,
        mail: Result<Response, lettre::transport::smtp::Error>,
    ) -> Result<(), SendError> {
        self.settled = false;
        let mut refused = mail.err();
        if let Err(e) = self.smtp.read_response().await {
            refused.get_or_insert(e);
        }
        let data = self.smtp.read_response().await;
        let Some(first) = refused else {
            return data.map(drop).map_err(classify);
        };
        let mut settled = is_reply(&first) && data.as_ref().err().map_or(true, is_reply);
        if data.is_ok() {
            // The relay's answer to an empty message to nobody says nothing about this one.
            let dot = self.smtp.command(".\r\n").await;
            settled &= dot.as_ref().err().map_or(true, is_reply);
        }
        self.settled = settled;
        Err(classify(first))
    }
}

/// Whether a line of `content` starts with a dot, which dot-stuffing (RFC 5321, 4.5.2) must
/// escape.
fn needs_stuffing(content: &str) -> bool {
    content.starts_with('.') || memchr::memmem::find(content.as_bytes(), b"\r\n.").is_some()
}

/// The content dot-stuffed and ended with its final dot, then the next group if any, in `out`
/// (cleared first): one write.
pub(super) fn written(out: &mut String, content: &str, next: Option<Group>) {
    out.clear();
    out.reserve(content.len() + content.len() / 64 + 256);
    if content.starts_with('.') {
        out.push('.');
    }
    let mut from = 0;
    for at in memchr::memmem::find_iter(content.as_bytes(), b"\r\n.") {
        // Up to and including the dot that starts a line, then the dot that escapes it.
        out.push_str(&content[from..at + 3]);
        out.push('.');
        from = at + 3;
    }
    out.push_str(&content[from..]);
    ended(out, next);
}

/// Ends the content in `out` (a line end if it lacks one, the final dot), then the next group.
fn ended(out: &mut String, next: Option<Group>) {
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    if let Some(group) = next {
        let _ = write!(out, "{group}");
    }
}

/// A message buffer cut back to its length when dropped.
struct Restore<'a>(&'a mut String, usize);

impl<'a> Restore<'a> {
    fn new(content: &'a mut String) -> Self {
        let len = content.len();
        Self(content, len)
    }
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.0.truncate(self.1);
    }
}

/// MAIL and RCPT followed by DATA, written as one.
pub(super) struct Group(pub(super) Mail, pub(super) Rcpt);

impl Display for Group {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.0, self.1, Data)
    }
}
