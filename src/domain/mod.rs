//! Domain types that can only be built valid. Input is parsed into these at the edge (HTTP,
//! CLI); code further in never re-checks a string.

mod article;
mod cadence;
mod dns;
mod email;
mod feed;
mod lang;
mod mailbox;
mod name;
mod password;
mod slug;
mod status;
mod token;

pub use article::{ArticleDraft, ArticleFields};
pub use cadence::{parse_time_zone, Cadence};
pub use dns::DnsName;
pub use email::{envelope_form, mailbox_key, mask as mask_email, SubscriberEmail, SuppressionKey};
pub use feed::{FeedInterval, FeedUrl};
pub use lang::Lang;
pub use mailbox::Sender;
pub use name::{search_terms, search_words, SubscriberName};
pub use password::Password;
pub use slug::ListSlug;
pub use status::{
    AuditAction, DeliveryStatus, DigestStatus, OutboxStatus, Role, SubscriptionStatus,
};
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
    #[error("a DNS name is dot-separated labels of letters, digits, hyphens and underscores")]
    InvalidDnsName,
    #[error("the password must have at least 12 characters")]
    PasswordTooShort,
    #[error("the password must have at most 256 characters and no control characters")]
    PasswordInvalid,
    #[error("the role must be admin or editor")]
    UnknownRole,
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
            DomainError::PasswordTooShort => "error_password_short",
            DomainError::PasswordInvalid => "error_password_invalid",
            DomainError::InvalidDnsName
            | DomainError::UnknownRole
            | DomainError::InvalidArticle(_)
            | DomainError::InvalidCadence(_)
            | DomainError::InvalidFeed(_) => "error_bad_request",
        }
    }
}

/// Settings name these types: they are read from TOML or the environment by the same parser as
/// everywhere else, so a bad value stops the start with the type's own message.
macro_rules! deserialize_with {
    ($type:ty, $from:ty, $parse:expr) => {
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <$from as serde::Deserialize>::deserialize(d)?;
                $parse(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

deserialize_with!(Sender, String, |s: String| Sender::parse(&s));
deserialize_with!(SubscriberEmail, String, |s: String| SubscriberEmail::parse(
    &s
));
deserialize_with!(DnsName, String, |s: String| DnsName::parse(&s));
deserialize_with!(FeedInterval, i64, FeedInterval::from_secs);

/// `"...".parse()` for the types settings hold.
macro_rules! from_str_with {
    ($type:ty, $parse:path) => {
        impl std::str::FromStr for $type {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, DomainError> {
                $parse(s)
            }
        }
    };
}

from_str_with!(Sender, Sender::parse);
from_str_with!(SubscriberEmail, SubscriberEmail::parse);
from_str_with!(DnsName, DnsName::parse);

/// True if `s` holds a character that could split a mail header or a log line.
pub(crate) fn has_control_chars(s: &str) -> bool {
    s.chars().any(char::is_control)
}
