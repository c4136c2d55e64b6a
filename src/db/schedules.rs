//! Lists' automatic digest schedules.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{digest_schedules, lists};
use super::DbConnection;

/// A schedule as stored.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = digest_schedules)]
pub struct Schedule {
    pub list_id: i64,
    pub cadence: String,
    pub time_zone: String,
    pub next_run_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// Sets (or replaces) a list's schedule.
pub fn set(
    conn: &mut DbConnection,
    list_id: i64,
    cadence: &str,
    time_zone: &str,
    next_run_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<()> {
    // Delete then insert: MultiConnection has no ON CONFLICT, and this runs in one transaction.
    remove(conn, list_id)?;
    diesel::insert_into(digest_schedules::table)
        .values((
            digest_schedules::list_id.eq(list_id),
            digest_schedules::cadence.eq(cadence),
            digest_schedules::time_zone.eq(time_zone),
            digest_schedules::next_run_at.eq(next_run_at),
            digest_schedules::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Removes a list's schedule; returns whether there was one.
pub fn remove(conn: &mut DbConnection, list_id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(digest_schedules::table.find(list_id)).execute(conn)? > 0)
}

/// Every schedule with its list's slug.
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<(String, Schedule)>> {
    digest_schedules::table
        .inner_join(lists::table)
        .order(lists::slug.asc())
        .select((lists::slug, Schedule::as_select()))
        .load(conn)
}

/// Schedules whose run time has come, on lists that are not archived.
pub fn due(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<Vec<Schedule>> {
    digest_schedules::table
        .inner_join(lists::table)
        .filter(digest_schedules::next_run_at.le(now))
        .filter(lists::archived.eq(false))
        .select(Schedule::as_select())
        .load(conn)
}

/// Moves a schedule from `seen` to `next` unless another instance already did: true for the
/// one instance that wins the run.
pub fn advance(
    conn: &mut DbConnection,
    list_id: i64,
    seen: NaiveDateTime,
    next: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        digest_schedules::table
            .find(list_id)
            .filter(digest_schedules::next_run_at.eq(seen)),
    )
    .set(digest_schedules::next_run_at.eq(next))
    .execute(conn)?;
    Ok(changed == 1)
}
