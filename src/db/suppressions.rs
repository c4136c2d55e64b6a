//! Hashed addresses that must never be mailed again by an import (erased readers).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::suppressions;
use super::DbConnection;

/// Adds an entry; an address already suppressed keeps its first entry.
pub fn add(
    conn: &mut DbConnection,
    email_hash: &str,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    if contains(conn, email_hash)? {
        return Ok(());
    }
    diesel::insert_into(suppressions::table)
        .values((
            suppressions::email_hash.eq(email_hash),
            suppressions::reason.eq(reason),
            suppressions::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Whether this address hash is suppressed.
pub fn contains(conn: &mut DbConnection, email_hash: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        suppressions::table.filter(suppressions::email_hash.eq(email_hash)),
    ))
    .get_result(conn)
}

/// Lifts the suppression: the reader has just proven again that they want mail.
pub fn remove(conn: &mut DbConnection, email_hash: &str) -> QueryResult<usize> {
    diesel::delete(suppressions::table.filter(suppressions::email_hash.eq(email_hash)))
        .execute(conn)
}
