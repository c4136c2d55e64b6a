//! What the dashboard counts.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::schema::subscriptions;
use super::DbConnection;

/// Subscriptions per (list, status).
pub fn by_list_and_status(conn: &mut DbConnection) -> QueryResult<Vec<(i64, String, i64)>> {
    subscriptions::table
        .group_by((subscriptions::list_id, subscriptions::status))
        .select((subscriptions::list_id, subscriptions::status, count_star()))
        .load(conn)
}

#[derive(QueryableByName)]
struct Day {
    #[diesel(sql_type = Text)]
    day: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Per day (`YYYY-MM-DD`, UTC) since `since`: the subscriptions created (`column` =
/// `created_at`) or ended (`unsubscribed_at`).
fn per_day(
    conn: &mut DbConnection,
    column: &str,
    since: NaiveDateTime,
) -> QueryResult<Vec<(String, i64)>> {
    let days: Vec<Day> = match conn {
        DbConnection::Pg(c) => diesel::sql_query(format!(
            "SELECT to_char({column}, 'YYYY-MM-DD') AS day, count(*) AS n FROM subscriptions \
             WHERE {column} >= $1 GROUP BY 1"
        ))
        .bind::<Timestamp, _>(since)
        .load(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(format!(
            "SELECT strftime('%Y-%m-%d', {column}) AS day, count(*) AS n FROM subscriptions \
             WHERE {column} >= ?1 GROUP BY 1"
        ))
        .bind::<Timestamp, _>(since)
        .load(c)?,
    };
    Ok(days.into_iter().map(|d| (d.day, d.n)).collect())
}

/// Signups per day since `since`.
pub fn signups_per_day(
    conn: &mut DbConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<(String, i64)>> {
    per_day(conn, "created_at", since)
}

/// Unsubscribes per day since `since`.
pub fn unsubscribes_per_day(
    conn: &mut DbConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<(String, i64)>> {
    per_day(conn, "unsubscribed_at", since)
}
