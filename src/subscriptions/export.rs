//! Exporting a list as CSV, page by page, so memory stays flat however long the list is.

use std::io::Write;

use chrono::NaiveDateTime;

use super::import::TransferError;
use crate::db::{self, export, lists, Pool};
use crate::domain::{ListSlug, SubscriptionStatus};

/// Rows fetched per query.
pub const DEFAULT_PAGE_ROWS: i64 = 5_000;

/// The header of an export; `email` and `name` are what an import reads back.
pub const EXPORT_HEADER: [&str; 8] = [
    "email",
    "name",
    "language",
    "status",
    "source",
    "subscribed_at",
    "confirmed_at",
    "unsubscribed_at",
];

/// Writes the list's subscriptions (only those with `status`, if given) to `out` as CSV, in
/// subscriber id order; returns how many rows it wrote. Each page is its own query, so rows
/// added during a long export may or may not appear, but none appears twice.
pub async fn export<W: Write + Send + 'static>(
    pool: &Pool,
    list: ListSlug,
    status: Option<SubscriptionStatus>,
    out: W,
    page_rows: i64,
) -> Result<u64, TransferError> {
    db::run(pool, move |conn| {
        let list = lists::by_slug(conn, list.as_str())?
            .ok_or_else(|| TransferError::UnknownList(list.as_str().to_owned()))?;
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(EXPORT_HEADER)?;
        let (mut after, mut written) = (0, 0);
        loop {
            let page = export::export_page(conn, list.id, status, after, page_rows.max(1))?;
            let Some(last) = page.last() else { break };
            after = last.subscriber_id;
            for row in &page {
                csv.write_record([
                    row.email.as_str(),
                    row.name.as_deref().unwrap_or_default(),
                    &row.language,
                    &row.status,
                    &row.source,
                    &timestamp(Some(row.subscribed_at)),
                    &timestamp(row.confirmed_at),
                    &timestamp(row.unsubscribed_at),
                ])?;
            }
            written += page.len() as u64;
        }
        csv.flush()?;
        Ok(written)
    })
    .await
}

/// UTC in RFC 3339, which spreadsheets and other tools read; empty when unset.
fn timestamp(t: Option<NaiveDateTime>) -> String {
    t.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}
