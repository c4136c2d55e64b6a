//! One row per recipient of a digest, leased and recorded like the outbox.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};

use super::counts::{add_counts, Counted};
use super::ids::in_ids;
use super::lease::claim_sql;
use super::schema::{deliveries, subscribers, subscriptions};
use super::DbConnection;
use crate::domain::DeliveryStatus;

/// A leased delivery.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedDelivery {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub digest_id: i64,
    #[diesel(sql_type = BigInt)]
    pub subscriber_id: i64,
    /// Attempts so far, this one included.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub message_id: Option<String>,
}

/// Leases up to `limit` due deliveries of digests that are sending (a paused or cancelled
/// digest's rows stay put), and gives each a Message-ID on its first claim:
/// `<delivery.digest.{id_suffix}`, so a retry carries the same Message-ID and receivers can
/// discard a duplicate.
pub fn claim(
    conn: &mut DbConnection,
    owner: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
    id_suffix: &str,
) -> QueryResult<Vec<ClaimedDelivery>> {
    // Expired leases first, then queued rows, each branch stopping at the limit: no sort over
    // the whole queue, which for a large send would make every claim scan it. SQLite is told
    // which (partial) index to use: without statistics it would rather walk the digest's rows.
    const CLAIM: &str = "WITH expired AS (SELECT id FROM deliveries {indexed_by deliveries_leased} \
            WHERE status = 'sending' AND lease_until < $3 \
              AND digest_id IN (SELECT id FROM digests WHERE status = 'sending') \
            LIMIT $4 {skip_locked}), \
        due AS (SELECT id FROM deliveries {indexed_by deliveries_retrying} \
            WHERE status = 'queued' AND retry_at <= $3 \
              AND digest_id IN (SELECT id FROM digests WHERE status = 'sending') \
            LIMIT $4 {skip_locked}) \
        UPDATE deliveries SET status = 'sending', lease_until = $1, lease_owner = $2, \
        attempts = attempts + 1, retry_at = NULL, message_id = {message_id $5} \
        WHERE id IN (SELECT id FROM (SELECT id FROM expired UNION ALL SELECT id FROM due) AS d LIMIT $4) \
        RETURNING id, digest_id, subscriber_id, attempts, message_id";
    if !claimable(conn, now)? {
        return Ok(Vec::new());
    }
    let sql = claim_sql(super::backend(conn), CLAIM);
    let mut rows: Vec<ClaimedDelivery> = diesel::sql_query(sql)
        .bind::<Timestamp, _>(lease_until)
        .bind::<Text, _>(owner)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .bind::<Text, _>(id_suffix)
        .load(conn)?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Whether a retry is due or a single lease ran out, in any digest: the claim's first
/// question, answered from the two partial indexes. The claim itself is raw SQL, prepared
/// afresh on every call; these statements stay prepared, and while a send has no retries
/// (nearly always) the claim does not run at all. Each asks for the earliest due row in the
/// index's order, which no planner answers by reading the table: as an `EXISTS`, PostgreSQL's
/// generic plan for a just-filled table (no statistics yet) was a scan of every delivery.
fn claimable(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<bool> {
    let due: Option<Option<NaiveDateTime>> = deliveries::table
        .filter(deliveries::retry_at.le(now))
        .order(deliveries::retry_at.asc())
        .select(deliveries::retry_at)
        .first(conn)
        .optional()?;
    if due.is_some() {
        return Ok(true);
    }
    let expired: Option<Option<NaiveDateTime>> = deliveries::table
        .filter(deliveries::lease_until.lt(now))
        .order(deliveries::lease_until.asc())
        .select(deliveries::lease_until)
        .first(conn)
        .optional()?;
    Ok(expired.is_some())
}

/// A recipient still confirmed on the list, as needed to render their copy.
#[derive(Debug, Clone, Queryable)]
pub struct Recipient {
    pub subscriber_id: i64,
    pub list_id: i64,
    pub email: String,
    pub name: Option<String>,
}

/// The recipients among these subscriber ids that are still confirmed and unblocked on some
/// list; the caller matches them to each delivery's list.
pub fn recipients(conn: &mut DbConnection, subscriber_ids: &[i64]) -> QueryResult<Vec<Recipient>> {
    // The ids on both sides of the join: each table is then read through its primary key.
    // Given them on one side only, PostgreSQL hashed the batch's subscriptions against a scan
    // of every subscriber (13 ms for 500 readers of 100,000; under 1 ms this way).
    let subscriptions_of = in_ids(subscriptions::subscriber_id, subscriber_ids);
    let subscribers_of = in_ids(subscribers::id, subscriber_ids);
    subscriptions::table
        .inner_join(subscribers::table)
        .filter(subscriptions_of)
        .filter(subscribers_of)
        .filter(subscriptions::status.eq("confirmed"))
        .filter(subscribers::blocked.eq(false))
        .select((
            subscribers::id,
            subscriptions::list_id,
            subscribers::email,
            subscribers::name,
        ))
        .load(conn)
}

// Every outcome below is added to its digest's counts (`digests::add_counts`), which progress
// is read from. Only rows still waiting for an outcome change and count: an outcome recorded
// twice (by an instance that stalled past its lease, and by the one that took over) counts once.
// The rows are found by primary key: `digest_id + 0` keeps the database from preferring the
// (digest, subscriber) index, which would visit every delivery of the digest per batch.

/// Records deliveries of `digest_id` not made because the reader left (or was blocked) after
/// the start; returns how many were still waiting for an outcome.
pub fn mark_skipped(conn: &mut DbConnection, digest_id: i64, ids: &[i64]) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let open = deliveries::table
        .filter(in_ids(deliveries::id, ids))
        .filter((deliveries::digest_id + 0i64).eq(digest_id))
        .filter(deliveries::status.eq_any([DeliveryStatus::Queued, DeliveryStatus::Sending]));
    let n = diesel::update(open)
        .set((
            deliveries::status.eq(DeliveryStatus::Skipped),
            deliveries::lease_until.eq(None::<NaiveDateTime>),
            deliveries::lease_owner.eq(None::<String>),
        ))
        .execute(conn)?;
    let skipped = n as i64;
    add_counts(
        conn,
        digest_id,
        Counted {
            skipped,
            ..Counted::default()
        },
    )?;
    Ok(n)
}

/// Records delivered messages of `digest_id` leased one by one; returns how many were still
/// leased.
pub fn mark_sent(
    conn: &mut DbConnection,
    digest_id: i64,
    ids: &[i64],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let leased = deliveries::table
        .filter(in_ids(deliveries::id, ids))
        .filter((deliveries::digest_id + 0i64).eq(digest_id))
        .filter(deliveries::status.eq(DeliveryStatus::Sending));
    let n = diesel::update(leased)
        .set((
            deliveries::status.eq(DeliveryStatus::Sent),
            deliveries::sent_at.eq(Some(now)),
            deliveries::lease_until.eq(None::<NaiveDateTime>),
            deliveries::lease_owner.eq(None::<String>),
            deliveries::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    add_counts(
        conn,
        digest_id,
        Counted {
            sent: n as i64,
            ..Counted::default()
        },
    )?;
    Ok(n)
}

/// Records a permanent failure of a delivery of `digest_id` at its `attempts`th attempt, with
/// its reason.
pub fn mark_failed(
    conn: &mut DbConnection,
    digest_id: i64,
    id: i64,
    attempts: i32,
    error: &str,
) -> QueryResult<()> {
    if mark_failed_row(conn, id, attempts, error)? {
        add_counts(
            conn,
            digest_id,
            Counted {
                failed: 1,
                ..Counted::default()
            },
        )?;
    }
    Ok(())
}

lease_bookkeeping!(deliveries, retry_at, DeliveryStatus);

/// One delivery as stored, for inspection.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub subscriber_id: i64,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub message_id: Option<String>,
    pub last_error: Option<String>,
}

/// Every delivery of a digest, by id.
pub fn of_digest(conn: &mut DbConnection, digest_id: i64) -> QueryResult<Vec<DeliveryRow>> {
    deliveries::table
        .filter(deliveries::digest_id.eq(digest_id))
        .order(deliveries::id.asc())
        .select(DeliveryRow::as_select())
        .load(conn)
}
