//! Domain types that can only be built valid. Input is parsed into these at the edge (HTTP,
//! CLI); code further in never re-checks a string.

mod article;
mod cadence;
mod email;
mod feed;
mod lang;
mod mailbox;
mod name;
mod slug;
mod status;
mod token;

pub use article::{ArticleDraft, ArticleFields};
pub use cadence::{parse_time_zone, Cadence};
pub use email::{envelope_form, mask as mask_email, SubscriberEmail};
pub use feed::{FeedInterval, FeedUrl};
pub use lang::Lang;
pub use mailbox::Sender;
pub use name::SubscriberName;
pub use slug::ListSlug;
pub use status::{DeliveryStatus, DigestStatus, OutboxStatus, SubscriptionStatus};
pub use token::Token;

/// Why an input was refused. Each variant has a message key so public pages can say it in the
/// reader's language; `Display` is the English text for logs and the CLI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("the e-mail address is not valid")]
    InvalidEmail,
    #[error("the name is too long (at most {max} characters)", max = name::MAX_CHARS)]
    NameTooLong,
    #[error(
        "the name contains characters that are not allowed (line breaks or control characters)"
    )]
    NameInvalid,
    #[error("a list slug is 1 to 64 lower-case letters, digits and dashes, starting with a letter or digit")]
    InvalidSlug,
    #[error("the language must be one of: it, en")]
    UnknownLanguage,
    #[error("the sender must look like \"Name <address@example.org>\"")]
    InvalidSender,
    #[error("the link is malformed")]
    InvalidToken,
    #[error("the status must be one of: pending, confirmed, unsubscribed")]
    UnknownStatus,
    #[error("{0}")]
    InvalidArticle(&'static str),
    #[error("{0}")]
    InvalidCadence(&'static str),
    #[error("{0}")]
    InvalidFeed(&'static str),
}

impl DomainError {
    /// The message key in the page catalogues (`templates/i18n/*.toml`).
    pub fn key(&self) -> &'static str {
        match self {
            DomainError::InvalidEmail => "error_invalid_email",
            DomainError::NameTooLong => "error_name_too_long",
            DomainError::NameInvalid => "error_name_invalid",
            DomainError::InvalidSlug => "error_unknown_list",
            DomainError::UnknownLanguage => "error_unknown_language",
            DomainError::InvalidSender => "error_bad_request",
            DomainError::InvalidToken => "error_invalid_link",
            DomainError::UnknownStatus => "error_bad_request",
            DomainError::InvalidArticle(_)
            | DomainError::InvalidCadence(_)
            | DomainError::InvalidFeed(_) => "error_bad_request",
        }
    }
}

/// True if `s` holds a character that could split a mail header or a log line.
pub(crate) fn has_control_chars(s: &str) -> bool {
    s.chars().any(char::is_control)
}
