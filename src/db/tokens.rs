//! Single-purpose, expiring tokens; only their SHA-256 is stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{token_lists, tokens};
use super::DbConnection;

/// A stored token.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tokens)]
pub struct TokenRow {
    pub hash: String,
    pub subscriber_id: i64,
    pub purpose: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

/// Stores the hash of a new token, bound to the lists it acts on.
pub fn insert(
    conn: &mut DbConnection,
    hash: &str,
    subscriber_id: i64,
    purpose: &str,
    lists: &[i64],
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(tokens::table)
        .values((
            tokens::hash.eq(hash),
            tokens::subscriber_id.eq(subscriber_id),
            tokens::purpose.eq(purpose),
            tokens::created_at.eq(now),
            tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    for list_id in lists {
        diesel::insert_into(token_lists::table)
            .values((
                token_lists::token_hash.eq(hash),
                token_lists::list_id.eq(list_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The lists a token acts on (none for a token issued before tokens were bound to lists).
pub fn lists_of(conn: &mut DbConnection, hash: &str) -> QueryResult<Vec<i64>> {
    token_lists::table
        .filter(token_lists::token_hash.eq(hash))
        .select(token_lists::list_id)
        .load(conn)
}

/// The token with this hash and purpose, whether used or expired or not.
pub fn find(conn: &mut DbConnection, hash: &str, purpose: &str) -> QueryResult<Option<TokenRow>> {
    tokens::table
        .filter(tokens::hash.eq(hash))
        .filter(tokens::purpose.eq(purpose))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()
}

/// Records the first use of a token (later uses keep the first time).
pub fn mark_used(conn: &mut DbConnection, hash: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(
        tokens::table
            .filter(tokens::hash.eq(hash))
            .filter(tokens::used_at.is_null()),
    )
    .set(tokens::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}
