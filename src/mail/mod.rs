//! Outgoing mail: building standards-compliant messages, and the transports that carry them.

mod dkim;
mod file;
mod letterhead;
mod message;
mod smtp;
mod transaction;

pub use dkim::{DkimError, DkimSigner};
pub use letterhead::{header_safe, Addressee, Letterhead, Part, TransferEncoding};
pub use message::{compose, crlf_lines, new_message_id, ComposedMail, MailParts, MAX_LINE};
pub use transaction::Envelope;

use std::path::PathBuf;

use std::sync::Arc;

use crate::config::MailSettings;

/// What every composed message may carry besides its content: a DKIM signer and a mailbox for
/// `List-Unsubscribe: <mailto:...>`. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct MailOptions {
    pub dkim: Option<Arc<DkimSigner>>,
    pub unsubscribe_mailto: Option<String>,
}

impl MailOptions {
    /// From the settings; fails on an unreadable or invalid DKIM key or a bad mailto address.
    pub fn from_settings(settings: &MailSettings) -> anyhow::Result<Self> {
        let unsubscribe_mailto = settings
            .unsubscribe_mailto
            .as_ref()
            .map(|a| a.envelope().to_string());
        Ok(Self {
            dkim: DkimSigner::from_settings(&settings.dkim)?.map(Arc::new),
            unsubscribe_mailto,
        })
    }
}

/// `text` with every e-mail address in it replaced by `[address]`: relays repeat the
/// recipient in their replies, which are stored and logged.
pub fn redact_addresses(text: &str) -> String {
    let stop = |c: char| c.is_whitespace() || "<>()[]\"',;:".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let start = rest[..at].rfind(stop).map_or(0, |i| i + 1);
        let end = rest[at + 1..].find(stop).map_or(rest.len(), |i| at + 1 + i);
        out.push_str(&rest[..start]);
        if start < at && at + 1 < end {
            out.push_str("[address]");
        } else {
            out.push_str(&rest[start..end]);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// How a delivery attempt ended, when it did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: 4xx, a refused connection, a timeout.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// Retrying will not help: a 5xx answer such as an unknown mailbox.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Messages sent one after another; over SMTP each may announce the next, saving a round trip.
pub enum Session<'a> {
    // Boxed: an SMTP connection is large, and there is one session per sending worker.
    Smtp(Box<smtp::Session<'a>>),
    File(&'a file::FileTransport),
}

impl Session<'_> {
    /// Delivers `body` to `envelope`, and tells the relay about the `next` message when there
    /// is one. `name_hint` names the file when mail goes to files (formatted only then).
    /// `body` is lent as a buffer the SMTP write may append to; it comes back unchanged.
    pub async fn send(
        &mut self,
        envelope: &Envelope,
        name_hint: &(dyn std::fmt::Display + Sync),
        body: &mut String,
        next: Option<&Envelope>,
    ) -> Result<(), SendError> {
        match self {
            Session::Smtp(session) => session.send(envelope, body, next).await,
            Session::File(files) => {
                let name = name_hint.to_string();
                files.write(&name, body.as_bytes()).await
            }
        }
    }

    /// Whether `send_group` sends a group in one write (the relay takes chunks); connects if
    /// need be. Otherwise one message at a time, each announcing the next, is as fast.
    pub async fn takes_groups(&mut self) -> bool {
        match self {
            Session::Smtp(session) => session.takes_chunks().await,
            Session::File(_) => false,
        }
    }

    /// Delivers a group of messages (over SMTP, in one write when the relay takes chunks);
    /// outcomes in the group's order. Each body comes back unchanged.
    pub async fn send_group(&mut self, group: &mut [Outgoing<'_>]) -> Vec<Result<(), SendError>> {
        match self {
            Session::Smtp(session) => session.send_group(group).await,
            Session::File(files) => {
                let mut outcomes = Vec::with_capacity(group.len());
                for message in group.iter() {
                    let name = message.name.to_string();
                    outcomes.push(files.write(&name, message.body.as_bytes()).await);
                }
                outcomes
            }
        }
    }

    /// Returns the connection to the pool, or closes it.
    pub async fn finish(self) {
        if let Session::Smtp(session) = self {
            session.finish().await;
        }
    }
}

/// One message of a group: who it is from and to, the name of its file when mail goes to
/// files (formatted only then), and its content (lent as a buffer a write may append to).
pub struct Outgoing<'a> {
    pub envelope: &'a Envelope,
    pub name: &'a (dyn std::fmt::Display + Sync),
    pub body: &'a mut String,
}

/// Where mail goes: an SMTP relay, or `.eml` files in a folder (the zero-set-up default).
pub enum Transport {
    Smtp(smtp::SmtpPool),
    File(file::FileTransport),
}

impl Transport {
    /// The transport the settings ask for, with up to `connections` SMTP connections.
    pub fn from_settings(settings: &MailSettings, connections: std::num::NonZeroUsize) -> Self {
        match &settings.smtp_url {
            Some(url) => Transport::Smtp(smtp::SmtpPool::new(
                url.clone(),
                connections.get(),
                settings.send_timeout_secs.get(),
            )),
            None => Transport::File(file::FileTransport::new(settings.dir.clone())),
        }
    }

    /// Writes into `dir` (used by tests and the CLI).
    pub fn file(dir: PathBuf) -> Self {
        Transport::File(file::FileTransport::new(dir))
    }

    /// How many messages may be in flight at once.
    pub fn concurrency(&self) -> usize {
        match self {
            Transport::Smtp(pool) => pool.size(),
            Transport::File(_) => 4,
        }
    }

    /// Whether mail only lands in local files (development), in which case links are logged.
    pub fn is_local_files(&self) -> bool {
        matches!(self, Transport::File(_))
    }

    /// Delivers one message: `body` is the whole RFC 5322 message.
    pub async fn send(
        &self,
        sender: &str,
        recipient: &str,
        name_hint: &str,
        body: &str,
    ) -> Result<(), SendError> {
        let envelope = Envelope::new(sender, recipient)?;
        let mut body = body.to_owned();
        let mut session = self.session().await;
        let sent = session.send(&envelope, &name_hint, &mut body, None).await;
        session.finish().await;
        sent
    }

    /// A run of messages sent one after another (over one SMTP connection).
    pub async fn session(&self) -> Session<'_> {
        match self {
            Transport::Smtp(pool) => Session::Smtp(Box::new(pool.session().await)),
            Transport::File(files) => Session::File(files),
        }
    }

    /// Closes idle connections politely.
    pub async fn shutdown(&self) {
        if let Transport::Smtp(pool) = self {
            pool.close_idle().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_relay_replies_are_redacted() {
        assert_eq!(
            redact_addresses("550 5.1.1 <mario.rossi+x@example.org>: Recipient address rejected"),
            "550 5.1.1 <[address]>: Recipient address rejected"
        );
        assert_eq!(
            redact_addresses("user quota exceeded for a@b.it, try b@c.it later"),
            "user quota exceeded for [address], try [address] later"
        );
        assert_eq!(
            redact_addresses("451 4.3.0 @ no address"),
            "451 4.3.0 @ no address"
        );
        assert_eq!(redact_addresses("no at sign"), "no at sign");
        assert_eq!(
            redact_addresses("用户@例子.广告 rejected"),
            "[address] rejected"
        );
    }
}
