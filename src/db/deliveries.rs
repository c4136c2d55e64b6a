//! One row per recipient of a digest, leased and recorded like the outbox.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};

use super::schema::{deliveries, subscribers, subscriptions};
use super::DbConnection;

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
    const PG: &str = "WITH expired AS (SELECT id FROM deliveries \
            WHERE status = 'sending' AND lease_until < $3 \
              AND digest_id IN (SELECT id FROM digests WHERE status = 'sending') \
            LIMIT $4 FOR UPDATE SKIP LOCKED), \
        due AS (SELECT id FROM deliveries \
            WHERE status = 'queued' AND retry_at <= $3 \
              AND digest_id IN (SELECT id FROM digests WHERE status = 'sending') \
            LIMIT $4 FOR UPDATE SKIP LOCKED) \
        UPDATE deliveries SET status = 'sending', lease_until = $1, lease_owner = $2, \
        attempts = attempts + 1, retry_at = NULL, \
        message_id = COALESCE(message_id, '<' || CAST(id AS TEXT) || '.' || CAST(digest_id AS TEXT) || $5) \
        WHERE id IN (SELECT id FROM (SELECT id FROM expired UNION ALL SELECT id FROM due) AS d LIMIT $4) \
        RETURNING id, digest_id, subscriber_id, attempts, message_id";
    const SQLITE: &str = "UPDATE deliveries SET status = 'sending', lease_until = ?1, lease_owner = ?2, \
        attempts = attempts + 1, retry_at = NULL, \
        message_id = COALESCE(message_id, '<' || CAST(id AS TEXT) || '.' || CAST(digest_id AS TEXT) || ?5) \
        WHERE id IN (SELECT id FROM ( \
            SELECT * FROM (SELECT id FROM deliveries INDEXED BY deliveries_leased \
               WHERE status = 'sending' AND lease_until < ?3 \
               AND digest_id IN (SELECT id FROM digests WHERE status = 'sending') LIMIT ?4) \
            UNION ALL \
            SELECT * FROM (SELECT id FROM deliveries INDEXED BY deliveries_retrying \
               WHERE status = 'queued' AND retry_at <= ?3 \
               AND digest_id IN (SELECT id FROM digests WHERE status = 'sending') LIMIT ?4)) LIMIT ?4) \
        RETURNING id, digest_id, subscriber_id, attempts, message_id";
    let sql = match conn {
        DbConnection::Pg(_) => PG,
        DbConnection::Sqlite(_) => SQLITE,
    };
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
    subscriptions::table
        .inner_join(subscribers::table)
        .filter(subscriptions::subscriber_id.eq_any(subscriber_ids))
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

/// Records deliveries not made because the reader left (or was blocked) after the start.
pub fn mark_skipped(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<usize> {
    diesel::update(deliveries::table.filter(deliveries::id.eq_any(ids)))
        .set((
            deliveries::status.eq("skipped"),
            deliveries::lease_until.eq(None::<NaiveDateTime>),
            deliveries::lease_owner.eq(None::<String>),
        ))
        .execute(conn)
}

/// Records delivered messages.
pub fn mark_sent(conn: &mut DbConnection, ids: &[i64], now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(deliveries::table.filter(deliveries::id.eq_any(ids)))
        .set((
            deliveries::status.eq("sent"),
            deliveries::sent_at.eq(Some(now)),
            deliveries::lease_until.eq(None::<NaiveDateTime>),
            deliveries::lease_owner.eq(None::<String>),
            deliveries::last_error.eq(None::<String>),
        ))
        .execute(conn)
}

lease_bookkeeping!(deliveries, retry_at);

/// One delivery as stored, for inspection.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub subscriber_id: i64,
    pub status: String,
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
