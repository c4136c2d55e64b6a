//! Leases on ranges of never-tried deliveries.
//!
//! A digest hands out its deliveries in id order, a batch at a time: one `delivery_ranges` row
//! leases the untried deliveries (status `queued`, no attempt yet) with ids in
//! `first_id..=last_id`, and `digests.claimed_through` moves past them. The deliveries
//! themselves are not written at claim time, only when their outcome is recorded: one write
//! per delivery instead of two, which on PostgreSQL halves the row versions and index entries
//! a send leaves behind. A delivery that must be tried again (a temporary failure, a
//! `retry-failed`) leaves the range scheme and is claimed on its own, as before.
//!
//! When the owner of a range dies, the range's lease runs out and another instance takes it
//! over: it sends the deliveries of the range that are still untried. Those the dead instance
//! had sent without recording go out twice, as with any lease; nothing is lost.

use chrono::NaiveDateTime;
use diesel::dsl::{exists, max, not, sql};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use super::deliveries::ClaimedDelivery;
use super::ids::in_ids;
use super::lease;
use super::schema::{deliveries, delivery_ranges, digests};
use super::DbConnection;
use crate::domain::{DeliveryStatus, DigestStatus};

/// Leased untried deliveries.
#[derive(Debug)]
pub struct RangeClaim {
    pub range_id: i64,
    pub deliveries: Vec<ClaimedDelivery>,
}

/// Takes over a range whose lease ran out, or else leases the next untried deliveries of a
/// sending digest (up to `limit`); None when there are none to hand out.
pub fn claim(
    conn: &mut DbConnection,
    owner: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
    suffix: &str,
) -> QueryResult<Option<RangeClaim>> {
    if let Some(claim) = take_over(conn, owner, now, lease_until, suffix)? {
        return Ok(Some(claim));
    }
    // Each turn moves a digest's cursor forward (or finds no digest left), so this ends.
    while let Some((digest_id, after, through)) = next_digest(conn)? {
        // A window of ids, not "the next `limit` untried rows": a bounded range scan of the
        // primary key, whatever plan the database picks.
        let last = through.min(after.saturating_add(limit.max(1)));
        diesel::update(digests::table.find(digest_id))
            .set(digests::claimed_through.eq(last))
            .execute(conn)?;
        let rows = untried(conn, digest_id, after + 1, last, suffix)?;
        if rows.is_empty() {
            continue;
        }
        let values = (
            delivery_ranges::digest_id.eq(digest_id),
            delivery_ranges::first_id.eq(after + 1),
            delivery_ranges::last_id.eq(last),
            delivery_ranges::lease_owner.eq(owner),
            delivery_ranges::lease_until.eq(lease_until),
        );
        // MultiConnection has no RETURNING; both concrete connections do.
        let range_id = match conn {
            DbConnection::Pg(c) => diesel::insert_into(delivery_ranges::table)
                .values(values)
                .returning(delivery_ranges::id)
                .get_result(c)?,
            DbConnection::Sqlite(c) => diesel::insert_into(delivery_ranges::table)
                .values(values)
                .returning(delivery_ranges::id)
                .get_result(c)?,
        };
        return Ok(Some(RangeClaim {
            range_id,
            deliveries: rows,
        }));
    }
    Ok(None)
}

/// The first sending digest with deliveries not yet handed out: (id, claimed_through,
/// deliveries_through). On PostgreSQL its row stays locked to the end of the transaction, so
/// two instances never cut the same range.
fn next_digest(conn: &mut DbConnection) -> QueryResult<Option<(i64, i64, i64)>> {
    let query = digests::table
        .filter(digests::status.eq(DigestStatus::Sending))
        .filter(digests::claimed_through.lt(digests::deliveries_through))
        .order(digests::id.asc())
        .select((
            digests::id,
            digests::claimed_through,
            digests::deliveries_through,
        ));
    match conn {
        DbConnection::Pg(c) => query.for_update().first(c).optional(),
        // SQLite has one writer at a time: the write transaction is the lock.
        DbConnection::Sqlite(c) => query.first(c).optional(),
    }
}

/// Leases to `owner` a range of a sending digest whose lease ran out, with its deliveries that
/// are still untried; a range with none left is deleted on the way.
fn take_over(
    conn: &mut DbConnection,
    owner: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    suffix: &str,
) -> QueryResult<Option<RangeClaim>> {
    loop {
        let sending = digests::table
            .filter(digests::status.eq(DigestStatus::Sending))
            .select(digests::id);
        let query = delivery_ranges::table
            .filter(delivery_ranges::lease_until.lt(now))
            .filter(delivery_ranges::digest_id.eq_any(sending))
            .order(delivery_ranges::id.asc())
            .select((
                delivery_ranges::id,
                delivery_ranges::digest_id,
                delivery_ranges::first_id,
                delivery_ranges::last_id,
            ));
        let expired: Option<(i64, i64, i64, i64)> = match conn {
            DbConnection::Pg(c) => query.for_update().skip_locked().first(c).optional()?,
            DbConnection::Sqlite(c) => query.first(c).optional()?,
        };
        let Some((range_id, digest_id, first, last)) = expired else {
            return Ok(None);
        };
        let rows = untried(conn, digest_id, first, last, suffix)?;
        if rows.is_empty() {
            diesel::delete(delivery_ranges::table.find(range_id)).execute(conn)?;
            continue;
        }
        diesel::update(delivery_ranges::table.find(range_id))
            .set((
                delivery_ranges::lease_owner.eq(owner),
                delivery_ranges::lease_until.eq(lease_until),
            ))
            .execute(conn)?;
        tracing::info!(
            range_id,
            digest_id,
            deliveries = rows.len(),
            "took over the deliveries of an expired lease"
        );
        return Ok(Some(RangeClaim {
            range_id,
            deliveries: rows,
        }));
    }
}

/// The untried deliveries of digest `$digest` with ids in `$first..=$last`.
macro_rules! in_range {
    ($digest:expr, $first:expr, $last:expr) => {
        deliveries::table
            .filter(deliveries::id.ge($first))
            .filter(deliveries::id.le($last))
            // `+ 0`: the range is found through the primary key, never through the (digest,
            // subscriber) index, which would visit every delivery of the digest.
            .filter((deliveries::digest_id + 0i64).eq($digest))
            .filter(deliveries::status.eq(DeliveryStatus::Queued))
            .filter(deliveries::attempts.eq(0))
    };
}

/// The untried deliveries of a digest with ids in `first..=last`, in id order, as this attempt
/// sees them (attempt counted, Message-ID given).
fn untried(
    conn: &mut DbConnection,
    digest_id: i64,
    first: i64,
    last: i64,
    suffix: &str,
) -> QueryResult<Vec<ClaimedDelivery>> {
    let rows: Vec<(i64, i64, i64, i32, Option<String>)> = in_range!(digest_id, first, last)
        .order(deliveries::id.asc())
        .select((
            deliveries::id,
            deliveries::digest_id,
            deliveries::subscriber_id,
            deliveries::attempts,
            deliveries::message_id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, digest_id, subscriber_id, attempts, message_id)| ClaimedDelivery {
                id,
                digest_id,
                subscriber_id,
                attempts: attempts + 1,
                message_id: Some(
                    message_id.unwrap_or_else(|| lease::message_id(id, digest_id, suffix)),
                ),
            },
        )
        .collect())
}

/// How many untried deliveries of a digest are inside ranges whose lease runs at `now`.
pub fn in_flight(conn: &mut DbConnection, digest_id: i64, now: NaiveDateTime) -> QueryResult<i64> {
    let live: Vec<(i64, i64)> = delivery_ranges::table
        .filter(delivery_ranges::digest_id.eq(digest_id))
        .filter(delivery_ranges::lease_until.gt(now))
        .select((delivery_ranges::first_id, delivery_ranges::last_id))
        .load(conn)?;
    let mut n = 0;
    for (first, last) in live {
        n += in_range!(digest_id, first, last)
            .count()
            .get_result::<i64>(conn)?;
    }
    Ok(n)
}

/// Records delivered messages of a range of `digest_id`: their attempt and Message-ID, written
/// now for the first time, and adds them to the digest's counts. Returns how many were still
/// untried (another instance may have recorded some after taking over the range when its
/// lease ran out; those count once).
pub fn mark_sent(
    conn: &mut DbConnection,
    digest_id: i64,
    ids: &[i64],
    now: NaiveDateTime,
    suffix: &str,
) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    // The same Message-ID as the claim gives, built from the row.
    let message_id = sql::<Nullable<Text>>(lease::MESSAGE_ID_SQL)
        .bind::<Text, _>(suffix)
        .sql(")");
    let untried = deliveries::table
        .filter(in_ids(deliveries::id, ids))
        .filter((deliveries::digest_id + 0i64).eq(digest_id))
        .filter(deliveries::status.eq(DeliveryStatus::Queued))
        .filter(deliveries::attempts.eq(0));
    let n = diesel::update(untried)
        .set((
            deliveries::status.eq(DeliveryStatus::Sent),
            deliveries::sent_at.eq(Some(now)),
            deliveries::attempts.eq(deliveries::attempts + 1),
            deliveries::message_id.eq(message_id),
            deliveries::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    let sent = super::counts::Counted {
        sent: n as i64,
        ..Default::default()
    };
    super::counts::add_counts(conn, digest_id, sent)?;
    Ok(n)
}

/// Once a range's outcomes are recorded: forgets the range when none of its deliveries is
/// left untried. Otherwise some were not sent (shutdown came, or a worker failed) and the range
/// stays for another instance to take over: at once when `hand_back`, else when its lease
/// runs out. A range another instance has taken over is left to it.
pub fn close(
    conn: &mut DbConnection,
    range_id: i64,
    owner: &str,
    now: NaiveDateTime,
    hand_back: bool,
) -> QueryResult<()> {
    let mine = delivery_ranges::table
        .find(range_id)
        .filter(delivery_ranges::lease_owner.eq(owner));
    let left = in_range!(
        delivery_ranges::digest_id,
        delivery_ranges::first_id,
        delivery_ranges::last_id
    );
    let forgotten = diesel::delete(mine.filter(not(exists(left)))).execute(conn)?;
    if forgotten == 0 && hand_back {
        // Nobody's: the heartbeat renews only its owner's leases.
        diesel::update(mine)
            .set((
                delivery_ranges::lease_until.eq(now),
                delivery_ranges::lease_owner.eq(""),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The highest delivery id so far: taken before a digest's deliveries are created, every id
/// they get is above it (ids only grow), and taken after, none is above it.
pub fn highest_id(conn: &mut DbConnection) -> QueryResult<i64> {
    let id: Option<i64> = deliveries::table.select(max(deliveries::id)).first(conn)?;
    Ok(id.unwrap_or(0))
}

/// Sets where a digest just started hands out its deliveries: the ids after `after` up to
/// `through` (some may belong to a digest another instance started at the same time).
pub fn open(conn: &mut DbConnection, digest_id: i64, after: i64, through: i64) -> QueryResult<()> {
    diesel::update(digests::table.find(digest_id))
        .set((
            digests::claimed_through.eq(after),
            digests::deliveries_through.eq(through),
        ))
        .execute(conn)?;
    Ok(())
}
