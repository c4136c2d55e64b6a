//! Keyed hashes of erased readers' addresses: they come back only by confirming from their own
//! mailbox (`domain::SuppressionKey`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{settings, suppressions};
use super::DbConnection;
use crate::domain::SuppressionKey;

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

/// The suppression key, made and stored once (shared by every instance); entries made before
/// there was a key (unkeyed SHA-256) are converted in place the first time.
pub fn key(conn: &mut DbConnection) -> QueryResult<SuppressionKey> {
    let stored = super::settings::get_or_init(conn, "suppression_key", || {
        hex::encode(rand::random::<[u8; 32]>())
    })?;
    let key = SuppressionKey::new(&hex::decode(stored).map_err(|e| {
        diesel::result::Error::DeserializationError(format!("suppression key: {e}").into())
    })?);
    if super::settings::get(conn, KEYED)?.is_some() {
        return Ok(key);
    }
    // Whoever stores the mark converts, exactly once: an instance racing this one waits on the
    // mark's row, then finds it there (under a savepoint, so the clash spoils nothing).
    let marked = conn.transaction(|c| {
        diesel::insert_into(settings::table)
            .values((settings::key.eq(KEYED), settings::value.eq("1")))
            .execute(c)
    });
    match marked {
        Ok(_) => {}
        Err(e) if super::is_unique_violation(&e) => return Ok(key),
        Err(e) => return Err(e),
    }
    let unkeyed: Vec<String> = suppressions::table
        .select(suppressions::email_hash)
        .load(conn)?;
    for digest in &unkeyed {
        diesel::update(suppressions::table.find(digest))
            .set(suppressions::email_hash.eq(key.entry_of_digest(digest)))
            .execute(conn)?;
    }
    if !unkeyed.is_empty() {
        tracing::info!(entries = unkeyed.len(), "suppression entries now keyed");
    }
    Ok(key)
}

/// The settings row that says the entries are keyed.
const KEYED: &str = "suppressions_keyed";

/// Lifts the suppression: the reader has just proven again that they want mail.
pub fn remove(conn: &mut DbConnection, email_hash: &str) -> QueryResult<usize> {
    diesel::delete(suppressions::table.filter(suppressions::email_hash.eq(email_hash)))
        .execute(conn)
}
