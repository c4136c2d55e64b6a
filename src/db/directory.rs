//! The admin's subscriber directory: search pages, and what one subscriber's page shows.
//!
//! A search page is keyset-paged on the subscriber id, newest first, so page 1,000 costs what
//! page 1 does. A search term matches the start of the address or of any word of the name
//! (`subscriber_terms`); the candidates of each are found by index and only then sorted.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::schema::{deliveries, digests, lists, subscriptions};
use super::subscribers::{Subscriber, Subscription};
use super::{Backend, DbConnection};
use crate::domain::SubscriptionStatus;

/// What a search page asks for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Folded words (see `domain::search_words`), each the start of a word of the name.
    pub words: Vec<String>,
    /// The first word as typed (lower-cased): the first word may instead be the start of
    /// the address.
    pub lead: Option<String>,
    /// The start of an address (when the search has an `@`, the words are not used).
    pub address: Option<String>,
    pub list_id: Option<i64>,
    pub status: Option<SubscriptionStatus>,
    /// Subscribers older than this one (the next page).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Builds the search's SQL for one backend: each fragment adds its own placeholders.
struct Sql {
    text: String,
    binds: Vec<Bind>,
    backend: Backend,
}

enum Bind {
    Text(String),
    Int(i64),
}

impl Sql {
    fn param(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        match self.backend {
            Backend::Postgres => format!("${}", self.binds.len()),
            Backend::Sqlite => format!("?{}", self.binds.len()),
        }
    }

    /// `column` starts with `prefix`: LIKE on PostgreSQL (its `text_pattern_ops` index serves
    /// it whatever the database's collation), a range of bytes on SQLite (its plain index
    /// does; its LIKE ignores ASCII case and so cannot use one).
    fn starts_with(&mut self, column: &str, prefix: &str) -> String {
        match self.backend {
            Backend::Postgres => {
                let escaped = prefix
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                let p = self.param(Bind::Text(format!("{escaped}%")));
                format!("{column} LIKE {p}")
            }
            Backend::Sqlite => {
                let low = self.param(Bind::Text(prefix.to_owned()));
                let high = self.param(Bind::Text(format!("{prefix}\u{10FFFF}")));
                format!("{column} >= {low} AND {column} < {high}")
            }
        }
    }
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// The ids of a search page, newest first (`limit` of them at most).
pub fn search(conn: &mut DbConnection, q: &Query) -> QueryResult<Vec<i64>> {
    let mut sql = Sql {
        text: String::new(),
        binds: Vec::new(),
        backend: super::backend(conn),
    };
    let mut conditions: Vec<String> = Vec::new();
    if let Some(before) = q.before_id {
        let p = sql.param(Bind::Int(before));
        conditions.push(format!("s.id < {p}"));
    }
    if let Some(address) = &q.address {
        let c = sql.starts_with("email", address);
        conditions.push(format!("s.id IN (SELECT id FROM subscribers WHERE {c})"));
    }
    for (i, word) in q.words.iter().enumerate() {
        let by_name = sql.starts_with("term", word);
        let terms = format!("SELECT subscriber_id FROM subscriber_terms WHERE {by_name}");
        if let (0, Some(lead)) = (i, &q.lead) {
            let by_address = sql.starts_with("email", lead);
            conditions.push(format!(
                "s.id IN (SELECT id FROM subscribers WHERE {by_address} UNION {terms})"
            ));
        } else {
            conditions.push(format!("s.id IN ({terms})"));
        }
    }
    if q.list_id.is_some() || q.status.is_some() {
        let mut on = vec!["ss.subscriber_id = s.id".to_owned()];
        if let Some(list) = q.list_id {
            on.push(format!("ss.list_id = {}", sql.param(Bind::Int(list))));
        }
        if let Some(status) = q.status {
            let p = sql.param(Bind::Text(status.as_str().to_owned()));
            on.push(format!("ss.status = {p}"));
        }
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM subscriptions ss WHERE {})",
            on.join(" AND ")
        ));
    }
    let limit = sql.param(Bind::Int(q.limit));
    sql.text = format!(
        "SELECT s.id AS id FROM subscribers s {} ORDER BY s.id DESC LIMIT {limit}",
        match conditions.is_empty() {
            true => String::new(),
            false => format!("WHERE {}", conditions.join(" AND ")),
        }
    );
    let ids: Vec<Id> = match conn {
        DbConnection::Pg(c) => {
            bind_all(diesel::sql_query(&sql.text).into_boxed(), sql.binds).load(c)?
        }
        DbConnection::Sqlite(c) => {
            bind_all(diesel::sql_query(&sql.text).into_boxed(), sql.binds).load(c)?
        }
    };
    Ok(ids.into_iter().map(|i| i.id).collect())
}

fn bind_all<'a, DB>(
    mut query: diesel::query_builder::BoxedSqlQuery<'a, DB, diesel::query_builder::SqlQuery>,
    binds: Vec<Bind>,
) -> diesel::query_builder::BoxedSqlQuery<'a, DB, diesel::query_builder::SqlQuery>
where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<Text>
        + diesel::sql_types::HasSqlType<BigInt>,
    String: diesel::serialize::ToSql<Text, DB>,
    i64: diesel::serialize::ToSql<BigInt, DB>,
{
    for bind in binds {
        query = match bind {
            Bind::Text(t) => query.bind::<Text, _>(t),
            Bind::Int(i) => query.bind::<BigInt, _>(i),
        };
    }
    query
}

/// These subscribers, newest first.
pub fn subscribers(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<Subscriber>> {
    use super::schema::subscribers;
    subscribers::table
        .filter(super::ids::in_ids(subscribers::id, ids))
        .order(subscribers::id.desc())
        .select(Subscriber::as_select())
        .load(conn)
}

/// The subscriptions of these subscribers, each with its list's slug and name.
pub fn subscriptions_of(
    conn: &mut DbConnection,
    ids: &[i64],
) -> QueryResult<Vec<(Subscription, String, String)>> {
    subscriptions::table
        .inner_join(lists::table)
        .filter(super::ids::in_ids(subscriptions::subscriber_id, ids))
        .order(lists::name.asc())
        .select((Subscription::as_select(), lists::slug, lists::name))
        .load(conn)
}

/// A digest a subscriber was sent (or was to be sent).
#[derive(Debug, Clone, Queryable)]
pub struct Received {
    pub digest_id: i64,
    pub subject: String,
    pub list_name: String,
    pub status: String,
    pub sent_at: Option<NaiveDateTime>,
    pub started_at: Option<NaiveDateTime>,
}

/// The digests a subscriber was sent or is queued for, newest first, at most `limit`. The
/// deliveries are found one digest at a time by their (digest, subscriber) index.
pub fn received(
    conn: &mut DbConnection,
    subscriber_id: i64,
    limit: i64,
) -> QueryResult<Vec<Received>> {
    let started: Vec<i64> = digests::table
        .filter(digests::started_at.is_not_null())
        .select(digests::id)
        .load(conn)?;
    deliveries::table
        .inner_join(digests::table.inner_join(lists::table))
        .filter(super::ids::in_ids(deliveries::digest_id, &started))
        .filter(deliveries::subscriber_id.eq(subscriber_id))
        .order(deliveries::digest_id.desc())
        .limit(limit)
        .select((
            deliveries::digest_id,
            digests::subject,
            lists::name,
            deliveries::status,
            deliveries::sent_at,
            digests::started_at,
        ))
        .load(conn)
}
