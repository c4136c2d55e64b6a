//! A digest's delivery log: each reader's outcome, page by page, for the editor's page and its
//! CSV download.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::escape_like;
use super::schema::{deliveries, subscribers};
use super::DbConnection;
use crate::domain::DeliveryStatus;

/// One reader's delivery of a digest.
#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct LogRow {
    pub subscriber_id: i64,
    pub email: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub sent_at: Option<NaiveDateTime>,
    /// The relay's reply to a failed attempt (addresses already redacted).
    pub last_error: Option<String>,
}

/// What the log page filters on.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// The start of the address.
    pub address: Option<String>,
    pub outcome: Option<DeliveryStatus>,
}

/// Up to `limit` deliveries of a digest after reader `after` (by reader id), and whether there
/// are more. The address prefix is looked up in an index of the addresses first, then each
/// match's delivery by (digest, reader), so a search need not read every delivery.
pub fn page(
    conn: &mut DbConnection,
    digest_id: i64,
    filter: &LogFilter,
    after: i64,
    limit: i64,
) -> QueryResult<(Vec<LogRow>, bool)> {
    let mut query = deliveries::table
        .inner_join(subscribers::table)
        .filter(deliveries::digest_id.eq(digest_id))
        .filter(deliveries::subscriber_id.gt(after))
        .order(deliveries::subscriber_id.asc())
        .limit(limit + 1)
        .select((
            deliveries::subscriber_id,
            subscribers::email,
            deliveries::status,
            deliveries::attempts,
            deliveries::sent_at,
            deliveries::last_error,
        ))
        .into_boxed();
    if let Some(prefix) = filter.address.as_deref().filter(|p| !p.is_empty()) {
        let pattern = format!("{}%", escape_like(prefix));
        query = query.filter(subscribers::email.like(pattern).escape('\\'));
        // SQLite's LIKE ignores case and so its index: a range of bytes on the addresses'
        // unique index finds them. PostgreSQL's LIKE uses its text_pattern_ops index.
        if matches!(conn, DbConnection::Sqlite(_)) {
            query = query
                .filter(subscribers::email.ge(prefix.to_owned()))
                .filter(subscribers::email.lt(format!("{prefix}\u{10FFFF}")));
        }
    }
    if let Some(outcome) = filter.outcome {
        query = query.filter(deliveries::status.eq(outcome));
    }
    let mut rows: Vec<LogRow> = query.load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}
