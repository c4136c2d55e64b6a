//! Instance-wide values that every service instance must share (e.g. the link-signing key).

use diesel::prelude::*;

use super::schema::settings;
use super::{is_unique_violation, DbConnection};

/// The value stored under `key`, storing `make()` first if there is none. Two instances racing
/// at first start both end up with the value that won the insert.
pub fn get_or_init(
    conn: &mut DbConnection,
    key: &str,
    make: impl FnOnce() -> String,
) -> QueryResult<String> {
    if let Some(value) = get(conn, key)? {
        return Ok(value);
    }
    match diesel::insert_into(settings::table)
        .values((settings::key.eq(key), settings::value.eq(make())))
        .execute(conn)
    {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e),
    }
    get(conn, key)?.ok_or(diesel::result::Error::NotFound)
}

pub fn get(conn: &mut DbConnection, key: &str) -> QueryResult<Option<String>> {
    settings::table
        .find(key)
        .select(settings::value)
        .first(conn)
        .optional()
}
