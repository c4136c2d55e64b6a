//! A digest's counts of outcomes (beside its frozen audience), from which its progress is read
//! without visiting its deliveries. The functions that record outcomes keep them.

use diesel::prelude::*;

use super::schema::digests;
use super::DbConnection;

/// Outcomes recorded for one digest's deliveries, added to its counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub sent: i64,
    pub failed: i64,
    pub skipped: i64,
}

/// Adds recorded outcomes to a digest's counts, which its progress is read from.
pub fn add_counts(conn: &mut DbConnection, digest_id: i64, c: Counted) -> QueryResult<()> {
    if c == Counted::default() {
        return Ok(());
    }
    diesel::update(digests::table.find(digest_id))
        .set((
            digests::sent_count.eq(digests::sent_count + c.sent),
            digests::failed_count.eq(digests::failed_count + c.failed),
            digests::skipped_count.eq(digests::skipped_count + c.skipped),
        ))
        .execute(conn)?;
    Ok(())
}
