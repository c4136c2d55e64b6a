//! How much mail a reader's mailbox and its domain may be sent on an anonymous request (a
//! signup, a request for a fresh preferences link): enough for a person, not enough to bomb a
//! mailbox with +tag variants or a small domain with many addresses.

use chrono::{Duration, NaiveDateTime};

use crate::config::SignupSettings;
use crate::db::{outbox, DbConnection};
use crate::domain::mailbox_key;

/// How much confirmation mail one mailbox, and one domain, may be sent.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub per_mailbox_per_hour: i64,
    /// 0: no limit.
    pub per_domain_per_minute: i64,
}

impl Limits {
    pub(super) fn of(settings: &SignupSettings) -> Self {
        Self {
            per_mailbox_per_hour: i64::from(settings.resend_per_hour),
            per_domain_per_minute: i64::from(settings.per_domain_per_minute),
        }
    }
}

/// Whether the address's mailbox (any `+tag` of it) had its hour's quota of mail, or its
/// domain its minute's: one client rotating tags or addresses cannot bomb a mailbox or a
/// small domain through the form.
pub(super) fn over_limit(
    conn: &mut DbConnection,
    email: &str,
    limits: &Limits,
    now: NaiveDateTime,
) -> diesel::QueryResult<bool> {
    let (mailbox, domain) = mailbox_key(email);
    outbox::lock_mailbox(conn, &mailbox)?;
    let hour = now - Duration::hours(1);
    if outbox::count_recent_to(conn, outbox::Recent::Mailbox(&mailbox), hour)?
        >= limits.per_mailbox_per_hour
    {
        return Ok(true);
    }
    if limits.per_domain_per_minute == 0 {
        return Ok(false);
    }
    let minute = now - Duration::minutes(1);
    Ok(
        outbox::count_recent_to(conn, outbox::Recent::Domain(&domain), minute)?
            >= limits.per_domain_per_minute,
    )
}
