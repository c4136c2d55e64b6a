//! The durable outbox: every outgoing message is a row here before anything touches the network.
//!
//! Life of a row: `queued` → (claimed with a lease) `sending` → `sent` | `queued` again with a
//! later `next_attempt_at` (temporary failure) | `failed` (permanent failure or out of attempts).
//! Rows are never deleted; the body is dropped once sent. A lease that expires (the process died
//! mid-send) makes the row claimable again, so a crash re-sends at most what was in flight.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Integer, Nullable, Text, Timestamp};

use super::lease::claim_sql;
use super::schema::outbox;
use super::DbConnection;
use crate::domain::{mailbox_key, OutboxStatus};

/// A message to record.
#[derive(Debug, Insertable)]
#[diesel(table_name = outbox)]
pub struct NewOutboxMail<'a> {
    pub kind: &'a str,
    pub priority: i32,
    pub subscriber_id: Option<i64>,
    pub sender: &'a str,
    pub recipient: &'a str,
    pub message_id: &'a str,
    pub body: Option<&'a [u8]>,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub mailbox_key: Option<&'a str>,
    pub recipient_domain: Option<&'a str>,
}

/// A row leased by a worker, with everything needed to send it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub sender: String,
    #[diesel(sql_type = Text)]
    pub recipient: String,
    #[diesel(sql_type = Text)]
    pub message_id: String,
    #[diesel(sql_type = Nullable<Binary>)]
    pub body: Option<Vec<u8>>,
    /// Attempts so far, this one included.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

/// A composed message to queue as transactional mail.
#[derive(Debug)]
pub struct Transactional<'a> {
    /// What it is (`confirm`, `digest-test`...); also the key of rate limits.
    pub kind: &'a str,
    pub subscriber_id: Option<i64>,
    pub sender: &'a str,
    pub recipient: &'a str,
    pub message_id: &'a str,
    /// The whole RFC 5322 message.
    pub body: &'a str,
}

/// Transactional mail goes before digests.
pub const PRIORITY_TRANSACTIONAL: i32 = 0;

/// Puts a composed message in the outbox, due now, ahead of any digest; counted against its
/// recipient's mailbox and domain (`count_recent_to`).
pub fn queue_transactional(conn: &mut DbConnection, mail: &Transactional<'_>) -> QueryResult<()> {
    let now = chrono::Utc::now().naive_utc();
    let (mailbox, domain) = mailbox_key(mail.recipient);
    insert(
        conn,
        &NewOutboxMail {
            kind: mail.kind,
            priority: PRIORITY_TRANSACTIONAL,
            subscriber_id: mail.subscriber_id,
            sender: mail.sender,
            recipient: mail.recipient,
            message_id: mail.message_id,
            body: Some(mail.body.as_bytes()),
            status: OutboxStatus::Queued,
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
            mailbox_key: Some(&mailbox),
            recipient_domain: Some(&domain),
        },
    )
}

/// Transactional messages recorded since `since` for the mailbox `mailbox_key` (any `+tag`
/// of it), or for the domain.
pub fn count_recent_to(
    conn: &mut DbConnection,
    to: Recent<'_>,
    since: NaiveDateTime,
) -> QueryResult<i64> {
    let recent = outbox::table.filter(outbox::created_at.ge(since));
    match to {
        Recent::Mailbox(key) => recent
            .filter(outbox::mailbox_key.eq(key))
            .count()
            .get_result(conn),
        Recent::Domain(domain) => recent
            .filter(outbox::recipient_domain.eq(domain))
            .count()
            .get_result(conn),
    }
}

/// What `count_recent_to` counts for.
#[derive(Debug, Clone, Copy)]
pub enum Recent<'a> {
    Mailbox(&'a str),
    Domain(&'a str),
}

/// Serialises, to the end of the transaction, the signups that would mail one mailbox, so
/// their count of recent mail is exact (SQLite: its one writer already does).
pub fn lock_mailbox(conn: &mut DbConnection, mailbox_key: &str) -> QueryResult<()> {
    if let DbConnection::Pg(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind::<Text, _>(mailbox_key)
            .execute(c)?;
    }
    Ok(())
}

/// Records a message to send.
pub fn insert(conn: &mut DbConnection, mail: &NewOutboxMail<'_>) -> QueryResult<()> {
    diesel::insert_into(outbox::table)
        .values(mail)
        .execute(conn)?;
    Ok(())
}

/// How many messages of `kind` were recorded for a subscriber since `since`.
pub fn count_recent(
    conn: &mut DbConnection,
    subscriber_id: i64,
    kind: &str,
    since: NaiveDateTime,
) -> QueryResult<i64> {
    outbox::table
        .filter(outbox::subscriber_id.eq(subscriber_id))
        .filter(outbox::kind.eq(kind))
        .filter(outbox::created_at.ge(since))
        .count()
        .get_result(conn)
}

/// Leases up to `limit` due rows (queued and due, or with an expired lease), most urgent
/// first, and returns them. One statement: the lease is committed before any SMTP traffic.
/// PostgreSQL skips rows other instances are claiming; SQLite has one writer at a time.
pub fn claim(
    conn: &mut DbConnection,
    owner: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Claimed>> {
    const CLAIM: &str =
        "UPDATE outbox SET status = 'sending', lease_until = $1, lease_owner = $2, \
        attempts = attempts + 1 \
        WHERE id IN (SELECT id FROM outbox \
            WHERE (status = 'queued' AND next_attempt_at <= $3) \
               OR (status = 'sending' AND lease_until < $3) \
            ORDER BY priority, id LIMIT $4 {skip_locked}) \
        RETURNING id, sender, recipient, message_id, body, attempts";
    let sql = claim_sql(super::backend(conn), CLAIM);
    let mut rows: Vec<Claimed> = diesel::sql_query(sql)
        .bind::<Timestamp, _>(lease_until)
        .bind::<Text, _>(owner)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(conn)?;
    // RETURNING gives no order guarantee; send in claim order.
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Records a delivered message and drops its body.
pub fn mark_sent(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(OutboxStatus::Sent),
            outbox::sent_at.eq(Some(now)),
            outbox::body.eq(None::<Vec<u8>>),
            outbox::lease_until.eq(None::<NaiveDateTime>),
            outbox::lease_owner.eq(None::<String>),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

lease_bookkeeping!(outbox, next_attempt_at, OutboxStatus);

/// Records a permanent failure at the `attempts`th attempt, with its reason.
pub fn mark_failed(
    conn: &mut DbConnection,
    id: i64,
    attempts: i32,
    error: &str,
) -> QueryResult<()> {
    mark_failed_row(conn, id, attempts, error).map(drop)
}

/// Cancels a subscriber's mail not sent yet (they were blocked).
pub fn cancel_queued(conn: &mut DbConnection, subscriber_id: i64) -> QueryResult<usize> {
    diesel::update(
        outbox::table
            .filter(outbox::subscriber_id.eq(subscriber_id))
            .filter(outbox::status.eq(OutboxStatus::Queued)),
    )
    .set(outbox::status.eq(OutboxStatus::Cancelled))
    .execute(conn)
}

/// Removes a subscriber's personal data from the outbox: unsent mail is cancelled, the address,
/// its mailbox and domain, the bodies and the relay's replies are blanked. The rows stay as a
/// record that something was (or was not) sent.
pub fn forget_subscriber(conn: &mut DbConnection, subscriber_id: i64) -> QueryResult<()> {
    cancel_queued(conn, subscriber_id)?;
    diesel::update(outbox::table.filter(outbox::subscriber_id.eq(subscriber_id)))
        .set((
            outbox::recipient.eq(""),
            outbox::body.eq(None::<Vec<u8>>),
            outbox::subscriber_id.eq(None::<i64>),
            outbox::mailbox_key.eq(None::<String>),
            outbox::recipient_domain.eq(None::<String>),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// One transactional mail of a subscriber: kind, status, when it was recorded, when sent.
pub type MailRecord = (String, OutboxStatus, NaiveDateTime, Option<NaiveDateTime>);

/// A subscriber's transactional mail (confirmations, links), newest first.
pub fn mails_of(
    conn: &mut DbConnection,
    subscriber_id: i64,
    limit: i64,
) -> QueryResult<Vec<MailRecord>> {
    outbox::table
        .filter(outbox::subscriber_id.eq(subscriber_id))
        .order(outbox::id.desc())
        .limit(limit)
        .select((
            outbox::kind,
            outbox::status,
            outbox::created_at,
            outbox::sent_at,
        ))
        .load(conn)
}

/// Row counts per status, for health and tests.
pub fn count_by_status(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    outbox::table
        .group_by(outbox::status)
        .select((outbox::status, diesel::dsl::count_star()))
        .load(conn)
}

/// One row as stored, for inspection.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub status: OutboxStatus,
    pub recipient: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
}

/// Every row, oldest first (for tests and the CLI).
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<OutboxRow>> {
    outbox::table
        .order(outbox::id.asc())
        .select(OutboxRow::as_select())
        .load(conn)
}
