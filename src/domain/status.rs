//! The states of subscriptions, digests, deliveries and outbox messages: enums with one
//! spelling each, used as such in queries and read back as such (a stored spelling that is not
//! one of them is an error, which the tables' CHECK constraints rule out).

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

use super::DomainError;

/// Defines a status enum with its stored spelling and its database mapping.
macro_rules! status {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every state, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the stored spelling (also used for command-line flags).
            pub fn parse(input: &str) -> Result<Self, DomainError> {
                match input {
                    $($text => Ok($name::$variant),)+
                    _ => Err(DomainError::UnknownStatus),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, DomainError> {
                Self::parse(s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<DB: Backend> ToSql<Text, DB> for $name
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB: Backend> FromSql<Text, DB> for $name
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                Self::parse(&text)
                    .map_err(|_| format!("unknown {} {text:?}", stringify!($name)).into())
            }
        }
    };
}

status!(
    /// Where a subscriber stands with one list.
    SubscriptionStatus {
        /// Signed up, waiting for the confirmation click (double opt-in).
        Pending = "pending",
        /// Receives the list's mail.
        Confirmed = "confirmed",
        /// Left the list; never mailed again unless they sign up again.
        Unsubscribed = "unsubscribed",
    }
);

status!(
    /// Where a digest stands.
    DigestStatus {
        /// Being put together: articles chosen, not sent.
        Draft = "draft",
        /// Starts by itself at its time.
        Scheduled = "scheduled",
        /// Its deliveries are going out.
        Sending = "sending",
        /// Its deliveries wait until it is resumed.
        Paused = "paused",
        /// Stopped for good; what was not sent never will be.
        Cancelled = "cancelled",
        /// Every delivery has an outcome.
        Sent = "sent",
    }
);

status!(
    /// Where one reader's copy of a digest stands.
    DeliveryStatus {
        /// Not tried yet, or waiting for another attempt.
        Queued = "queued",
        /// Leased on its own by an instance.
        Sending = "sending",
        Sent = "sent",
        /// A permanent failure, or out of attempts; kept with its reason.
        Failed = "failed",
        /// Not sent: the reader left after the digest started.
        Skipped = "skipped",
    }
);

status!(
    /// Where a message in the outbox stands.
    OutboxStatus {
        Queued = "queued",
        /// Leased by an instance that is sending it.
        Sending = "sending",
        Sent = "sent",
        /// A permanent failure, or out of attempts; kept with its reason.
        Failed = "failed",
        /// Never to be sent (its reader erased their data first).
        Cancelled = "cancelled",
    }
);

status!(
    /// What a staff account may do.
    Role {
        /// Everything an editor does, and lists, subscribers, imports and exports, staff
        /// accounts and the audit trail.
        Admin = "admin",
        /// Articles, feeds and digests.
        Editor = "editor",
    }
);

status!(
    /// What the audit trail records. The trail names readers by id only, so an erasure
    /// leaves nothing of their address behind.
    AuditAction {
        Setup = "setup",
        Login = "login",
        LoginFailed = "login_failed",
        Logout = "logout",
        PasswordChanged = "password_changed",
        PasswordReset = "password_reset",
        UserCreated = "user_created",
        UserDisabled = "user_disabled",
        UserEnabled = "user_enabled",
        RoleChanged = "role_changed",
        ListCreated = "list_created",
        ListUpdated = "list_updated",
        ListArchived = "list_archived",
        ListRestored = "list_restored",
        SubscriberAdded = "subscriber_added",
        SubscriberUpdated = "subscriber_updated",
        SubscriberBlocked = "subscriber_blocked",
        SubscriberUnblocked = "subscriber_unblocked",
        SubscriberErased = "subscriber_erased",
        Import = "import",
        Export = "export",
        DigestSent = "digest_sent",
        DigestCreated = "digest_created",
        DigestUpdated = "digest_updated",
        DigestTestSent = "digest_test_sent",
        DigestScheduled = "digest_scheduled",
        DigestPaused = "digest_paused",
        DigestResumed = "digest_resumed",
        DigestCancelled = "digest_cancelled",
        DigestRetried = "digest_retried",
        DeliveryLogExported = "delivery_log_exported",
        CadenceChanged = "cadence_changed",
        ArticleAdded = "article_added",
        ArticleUpdated = "article_updated",
        ArticleDeleted = "article_deleted",
        FeedAdded = "feed_added",
        FeedUpdated = "feed_updated",
        FeedPaused = "feed_paused",
        FeedResumed = "feed_resumed",
        FeedDeleted = "feed_deleted",
        FeedFetched = "feed_fetched",
    }
);

impl Role {
    /// Parses `admin` or `editor`, with an error that says so.
    pub fn parse_input(input: &str) -> Result<Self, DomainError> {
        Self::parse(input.trim()).map_err(|_| DomainError::UnknownRole)
    }
}

impl DigestStatus {
    /// Whether the digest may still go out (and may be cancelled).
    pub fn is_open(self) -> bool {
        !matches!(self, DigestStatus::Cancelled | DigestStatus::Sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_parses_back_from_its_spelling() {
        for s in SubscriptionStatus::ALL {
            assert_eq!(SubscriptionStatus::parse(s.as_str()), Ok(*s));
        }
        for s in DigestStatus::ALL {
            assert_eq!(s.as_str().parse::<DigestStatus>(), Ok(*s));
        }
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(&s.to_string()), Ok(*s));
        }
        for s in OutboxStatus::ALL {
            assert_eq!(OutboxStatus::parse(s.as_str()), Ok(*s));
        }
        assert!(DigestStatus::parse("Sending").is_err());
    }
}
