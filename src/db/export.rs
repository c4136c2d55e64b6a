//! A list's subscriptions, page by page, for export.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};

use super::DbConnection;
use crate::domain::SubscriptionStatus;

/// One subscription of a list with its subscriber, as exported.
#[derive(Debug, Clone, QueryableByName)]
pub struct ExportRow {
    #[diesel(sql_type = BigInt)]
    pub subscriber_id: i64,
    #[diesel(sql_type = Text)]
    pub email: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub name: Option<String>,
    #[diesel(sql_type = Text)]
    pub language: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub source: String,
    #[diesel(sql_type = Timestamp)]
    pub subscribed_at: NaiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub confirmed_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub unsubscribed_at: Option<NaiveDateTime>,
}

/// Up to `limit` subscriptions of a list after subscriber `after_id`, in subscriber id order.
/// Keyset paging: each page reads the subscribers from `after_id` on, however deep into the
/// list it is.
pub fn export_page(
    conn: &mut DbConnection,
    list_id: i64,
    status: Option<SubscriptionStatus>,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<ExportRow>> {
    // On SQLite, CROSS JOIN keeps subscribers the outer loop, read in id order; left to choose,
    // SQLite reads the whole list through the status index and sorts it, on every page.
    let (join, p) = match conn {
        DbConnection::Pg(_) => ("JOIN", '$'),
        DbConnection::Sqlite(_) => ("CROSS JOIN", '?'),
    };
    let query = diesel::sql_query(format!(
        "SELECT s.id AS subscriber_id, s.email, s.name, s.language, sub.status, sub.source, \
         sub.created_at AS subscribed_at, sub.confirmed_at, sub.unsubscribed_at \
         FROM subscribers s {join} subscriptions sub \
         ON sub.subscriber_id = s.id AND sub.list_id = {p}1 \
         WHERE s.id > {p}2 AND ({p}3 IS NULL OR sub.status = {p}3) \
         ORDER BY s.id LIMIT {p}4"
    ))
    .bind::<BigInt, _>(list_id)
    .bind::<BigInt, _>(after_id)
    .bind::<Nullable<Text>, _>(status.map(SubscriptionStatus::as_str))
    .bind::<BigInt, _>(limit);
    query.load(conn)
}
