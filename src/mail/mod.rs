//! Outgoing mail: building standards-compliant messages, and the transports that carry them.

mod file;
mod message;
mod smtp;

pub use message::{compose, ComposedMail, MailParts};

use std::path::PathBuf;
use std::time::Duration;

use crate::config::MailSettings;

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

/// Where mail goes: an SMTP relay, or `.eml` files in a folder (the zero-set-up default).
pub enum Transport {
    Smtp(smtp::SmtpPool),
    File(file::FileTransport),
}

impl Transport {
    /// The transport the settings ask for, with up to `connections` SMTP connections.
    pub fn from_settings(settings: &MailSettings, connections: usize) -> Self {
        match &settings.smtp_url {
            Some(url) => Transport::Smtp(smtp::SmtpPool::new(
                url.clone(),
                connections.max(1),
                Duration::from_secs(settings.send_timeout_secs.max(1)),
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
        body: &[u8],
    ) -> Result<(), SendError> {
        match self {
            Transport::Smtp(pool) => pool.send(sender, recipient, body).await,
            Transport::File(files) => files.write(name_hint, body).await,
        }
    }

    /// Closes idle connections politely.
    pub async fn shutdown(&self) {
        if let Transport::Smtp(pool) = self {
            pool.close_idle().await;
        }
    }
}
