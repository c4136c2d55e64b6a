//! Running instances and the heartbeat that keeps their leases. An instance renews every lease
//! it holds (outbox rows, deliveries leased one by one, ranges of deliveries) a few times per
//! lease, so leases can be short: when an instance dies, its work goes to another instance (or
//! to it, restarted) within one lease, however long its batch would have taken.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{deliveries, delivery_ranges, instances, outbox};
use super::DbConnection;
use crate::domain::OutboxStatus;

/// Leases renewed by one heartbeat.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Renewed {
    pub outbox: usize,
    pub deliveries: usize,
    pub ranges: usize,
}

/// Records that `owner` is alive at `now` (and whether it runs the digest engine), and moves
/// the end of each of its leases to `outbox_until` (outbox rows) or `deliveries_until`
/// (deliveries and ranges). Rows of instances not seen for a day are forgotten.
pub fn beat(
    conn: &mut DbConnection,
    owner: &str,
    engine: bool,
    now: NaiveDateTime,
    outbox_until: NaiveDateTime,
    deliveries_until: NaiveDateTime,
) -> QueryResult<Renewed> {
    let seen = diesel::update(instances::table.find(owner))
        .set((instances::seen_at.eq(now), instances::engine.eq(engine)))
        .execute(conn)?;
    if seen == 0 {
        diesel::insert_into(instances::table)
            .values((
                instances::id.eq(owner),
                instances::engine.eq(engine),
                instances::started_at.eq(now),
                instances::seen_at.eq(now),
            ))
            .execute(conn)?;
        diesel::delete(instances::table.filter(instances::seen_at.lt(now - chrono::Days::new(1))))
            .execute(conn)?;
    }
    let outbox = diesel::update(
        outbox::table
            .filter(outbox::status.eq(OutboxStatus::Sending))
            .filter(outbox::lease_owner.eq(owner)),
    )
    .set(outbox::lease_until.eq(outbox_until))
    .execute(conn)?;
    // `lease_until` is set only while a delivery is leased on its own: the partial index finds
    // those few rows.
    let deliveries = diesel::update(
        deliveries::table
            .filter(deliveries::lease_until.is_not_null())
            .filter(deliveries::lease_owner.eq(owner)),
    )
    .set(deliveries::lease_until.eq(deliveries_until))
    .execute(conn)?;
    let ranges =
        diesel::update(delivery_ranges::table.filter(delivery_ranges::lease_owner.eq(owner)))
            .set(delivery_ranges::lease_until.eq(deliveries_until))
            .execute(conn)?;
    Ok(Renewed {
        outbox,
        deliveries,
        ranges,
    })
}

/// Forgets an instance that stops cleanly (its leases were released).
pub fn leave(conn: &mut DbConnection, owner: &str) -> QueryResult<()> {
    diesel::delete(instances::table.find(owner)).execute(conn)?;
    Ok(())
}

/// Whether an instance other than `me` that runs the digest engine was seen since `since`.
pub fn engine_alive(conn: &mut DbConnection, me: &str, since: NaiveDateTime) -> QueryResult<bool> {
    use diesel::dsl::{exists, select};
    select(exists(
        instances::table
            .filter(instances::engine.eq(true))
            .filter(instances::seen_at.ge(since))
            .filter(instances::id.ne(me)),
    ))
    .get_result(conn)
}
