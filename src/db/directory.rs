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
    /// The search as typed (lower-cased) when it is one word: it may instead be the start of
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
                let escaped = super::escape_like(prefix);
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

/// How many of the newest subscribers (below the page's start) a search looks at first. A
/// broad search ("m") fills its page within them, where collecting every match first would
/// sort hundreds of thousands of ids; a narrow one does not, and then runs over everyone from
/// its matches, found by index, which are few.
const WINDOW: i64 = 2_000;

/// The ids of a search page, newest first (`limit` of them at most).
pub fn search(conn: &mut DbConnection, q: &Query) -> QueryResult<Vec<i64>> {
    if q.address.is_none() && q.words.is_empty() && q.list_id.is_none() && q.status.is_none() {
        return page_of_all(conn, q);
    }
    let windowed = run(conn, q, true)?;
    if windowed.len() as i64 >= q.limit {
        return Ok(windowed);
    }
    run(conn, q, false)
}

fn page_of_all(conn: &mut DbConnection, q: &Query) -> QueryResult<Vec<i64>> {
    use super::schema::subscribers;
    let mut query = subscribers::table
        .select(subscribers::id)
        .order(subscribers::id.desc())
        .limit(q.limit)
        .into_boxed();
    if let Some(before) = q.before_id {
        query = query.filter(subscribers::id.lt(before));
    }
    query.load(conn)
}

/// The id of the [`WINDOW`]-th newest subscriber below `before` (`None`: fewer than that).
fn window_floor(conn: &mut DbConnection, before: Option<i64>) -> QueryResult<Option<i64>> {
    use super::schema::subscribers;
    let mut query = subscribers::table
        .select(subscribers::id)
        .order(subscribers::id.desc())
        .offset(WINDOW - 1)
        .limit(1)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(subscribers::id.lt(before));
    }
    query.first(conn).optional()
}

/// One search, over the newest [`WINDOW`] subscribers below the page's start (`windowed`) or
/// over all of them.
///
/// Windowed, SQLite checks each subscriber of the window by primary-key lookups (a correlated
/// EXISTS, which it always runs row by row). PostgreSQL would hash every match of such an
/// EXISTS instead, so it gets the window as a range of ids pushed into each subquery, which
/// its planner then serves from the primary keys.
fn run(conn: &mut DbConnection, q: &Query, windowed: bool) -> QueryResult<Vec<i64>> {
    let backend = super::backend(conn);
    let floor = match windowed {
        true => window_floor(conn, q.before_id)?,
        false => None,
    };
    if windowed && floor.is_none() {
        // Fewer subscribers than a window: the search over all of them is as cheap.
        return Ok(Vec::new());
    }
    let per_row = windowed && backend == Backend::Sqlite;
    // Over everyone, PostgreSQL starts from the matches of the rarest word rather than from
    // the subscribers (joining back to them walked hundreds of thousands of ids).
    let driver = match (backend, windowed, q.words.len()) {
        (Backend::Postgres, false, 1) => Some(0),
        (Backend::Postgres, false, n) if n > 1 => Some(rarest(conn, q)?),
        _ => None,
    };
    let mut source = "subscribers s".to_owned();
    let mut sql = Sql {
        text: String::new(),
        binds: Vec::new(),
        backend,
    };
    // `id` within the bounds (the page's start, the window's floor).
    let bounds = |sql: &mut Sql, column: &str| {
        let mut within = Vec::new();
        if let Some(before) = q.before_id {
            within.push(format!("{column} < {}", sql.param(Bind::Int(before))));
        }
        if let Some(floor) = floor {
            within.push(format!("{column} >= {}", sql.param(Bind::Int(floor))));
        }
        within
    };
    let mut conditions = bounds(&mut sql, "s.id");
    if let Some(address) = &q.address {
        let mut c = vec![sql.starts_with("email", address)];
        c.extend(bounds(&mut sql, "id"));
        conditions.push(format!(
            "s.id IN (SELECT id FROM subscribers WHERE {})",
            c.join(" AND ")
        ));
    }
    for (i, word) in q.words.iter().enumerate() {
        let by_name = sql.starts_with("t.term", word);
        // An address has no spaces: only a one-word search may be the start of one.
        let lead = match (i, q.lead.as_ref().filter(|_| q.words.len() == 1)) {
            (0, Some(lead)) if per_row => Some(sql.starts_with("s.email", lead)),
            (0, Some(lead)) => {
                let mut c = vec![sql.starts_with("a.email", lead)];
                c.extend(bounds(&mut sql, "a.id"));
                Some(c.join(" AND "))
            }
            _ => None,
        };
        let condition = if per_row {
            let named = format!(
                "EXISTS (SELECT 1 FROM subscriber_terms t \
                 WHERE t.subscriber_id = s.id AND {by_name})"
            );
            match lead {
                Some(by_address) => format!("({by_address} OR {named})"),
                None => named,
            }
        } else {
            let mut c = vec![by_name];
            c.extend(bounds(&mut sql, "t.subscriber_id"));
            let terms = format!(
                "SELECT t.subscriber_id FROM subscriber_terms t WHERE {}",
                c.join(" AND ")
            );
            if driver == Some(i) {
                source = match lead {
                    Some(by_address) => format!(
                        "({terms} UNION SELECT a.id FROM subscribers a WHERE {by_address}) s (id)"
                    ),
                    None => format!("(SELECT DISTINCT subscriber_id FROM ({terms}) m) s (id)"),
                };
                continue;
            }
            match lead {
                Some(by_address) => format!(
                    "s.id IN (SELECT a.id FROM subscribers a WHERE {by_address} UNION ALL {terms})"
                ),
                None => format!("s.id IN ({terms})"),
            }
        };
        conditions.push(condition);
    }
    if q.list_id.is_some() || q.status.is_some() {
        // On SQLite, `+` keeps the list and status from being index constraints: the probe is
        // then always the primary key's (subscriber, list). Without statistics its planner
        // otherwise walked a list's whole index for each page (300 ms at 200,000 readers).
        let plus = if backend == Backend::Sqlite { "+" } else { "" };
        let mut on = vec!["ss.subscriber_id = s.id".to_owned()];
        if let Some(list) = q.list_id {
            on.push(format!("{plus}ss.list_id = {}", sql.param(Bind::Int(list))));
        }
        if let Some(status) = q.status {
            let p = sql.param(Bind::Text(status.as_str().to_owned()));
            on.push(format!("{plus}ss.status = {p}"));
        }
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM subscriptions ss WHERE {})",
            on.join(" AND ")
        ));
    }
    let limit = sql.param(Bind::Int(q.limit));
    sql.text = format!(
        "SELECT s.id AS id FROM {source} {} ORDER BY s.id DESC LIMIT {limit}",
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

/// Which of the search's words matches the fewest names (counted up to a cap, by index).
fn rarest(conn: &mut DbConnection, q: &Query) -> QueryResult<usize> {
    const CAP: i64 = 50_000;
    let mut counts = Vec::with_capacity(q.words.len());
    for word in &q.words {
        let mut sql = Sql {
            text: String::new(),
            binds: Vec::new(),
            backend: super::backend(conn),
        };
        let mut c = vec![sql.starts_with("term", word)];
        if let Some(before) = q.before_id {
            c.push(format!("subscriber_id < {}", sql.param(Bind::Int(before))));
        }
        let cap = sql.param(Bind::Int(CAP));
        sql.text = format!(
            "SELECT count(*) AS id FROM (SELECT 1 FROM subscriber_terms WHERE {} LIMIT {cap}) x",
            c.join(" AND ")
        );
        let n: Vec<Id> = match conn {
            DbConnection::Pg(c) => {
                bind_all(diesel::sql_query(&sql.text).into_boxed(), sql.binds).load(c)?
            }
            DbConnection::Sqlite(c) => {
                bind_all(diesel::sql_query(&sql.text).into_boxed(), sql.binds).load(c)?
            }
        };
        counts.push(n.first().map_or(0, |n| n.id));
    }
    Ok((0..counts.len()).min_by_key(|&i| counts[i]).unwrap_or(0))
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
