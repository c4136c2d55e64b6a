//! Feeds bound to lists, and the bookkeeping of their polls.
//!
//! A poller claims due feeds by moving their `next_poll_at` a lease ahead, and commits that
//! before any HTTP traffic; it fetches with no transaction open, then records the outcome in
//! one write transaction together with the new articles. A poller that dies mid-fetch leaves
//! the lease to expire, and the feed is due again.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp};

use super::articles::NewArticle;
use super::schema::{articles, feeds, lists};
use super::{is_unique_violation, DbConnection};

/// A feed as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = feeds)]
pub struct Feed {
    pub id: i64,
    pub list_id: i64,
    pub url: String,
    pub interval_secs: i64,
    pub next_poll_at: NaiveDateTime,
    pub last_polled_at: Option<NaiveDateTime>,
    pub last_ok_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub consecutive_failures: i32,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub created_at: NaiveDateTime,
    /// Not polled until resumed.
    pub paused: bool,
}

/// A feed to add.
#[derive(Debug, Insertable)]
#[diesel(table_name = feeds)]
pub struct NewFeed<'a> {
    pub list_id: i64,
    pub url: &'a str,
    pub interval_secs: i64,
    pub next_poll_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// A feed with what the poller and `feed ls` need of its list.
#[derive(Debug, Clone)]
pub struct ListFeed {
    pub feed: Feed,
    pub list_slug: String,
    pub list_language: String,
}

/// The validators of a full (200) response, kept for the next conditional GET.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Adds a feed; a second feed with the same URL on the same list is a unique violation.
pub fn insert(conn: &mut DbConnection, new: &NewFeed<'_>) -> QueryResult<Feed> {
    diesel::insert_into(feeds::table)
        .values(new)
        .execute(conn)?;
    feeds::table
        .filter(feeds::list_id.eq(new.list_id))
        .filter(feeds::url.eq(new.url))
        .select(Feed::as_select())
        .first(conn)
}

/// Every feed with its list, by id.
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<ListFeed>> {
    with_lists(conn, None)
}

/// Removes a feed (its articles stay, as if added by hand); returns whether it existed.
pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    diesel::update(articles::table.filter(articles::feed_id.eq(id)))
        .set(articles::feed_id.eq(None::<i64>))
        .execute(conn)?;
    Ok(diesel::delete(feeds::table.find(id)).execute(conn)? > 0)
}

/// The feed with this id, with its list.
pub fn by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<ListFeed>> {
    Ok(with_lists(conn, Some(&[id]))?.pop())
}

/// How many articles each feed brought (that are still there), by feed id.
pub fn articles_gained(conn: &mut DbConnection) -> QueryResult<Vec<(i64, i64)>> {
    articles::table
        .filter(articles::feed_id.is_not_null())
        .group_by(articles::feed_id)
        .select((
            articles::feed_id.assume_not_null(),
            diesel::dsl::count_star(),
        ))
        .load(conn)
}

/// Changes a feed's address and interval; a changed address loses the old validators and is
/// due at once. False when there is no such feed.
pub fn update(
    conn: &mut DbConnection,
    id: i64,
    url: &str,
    interval_secs: i64,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let moved = diesel::update(feeds::table.find(id).filter(feeds::url.ne(url)))
        .set((
            feeds::url.eq(url),
            feeds::etag.eq(None::<String>),
            feeds::last_modified.eq(None::<String>),
            feeds::next_poll_at.eq(now),
        ))
        .execute(conn)?;
    let changed = diesel::update(feeds::table.find(id))
        .set(feeds::interval_secs.eq(interval_secs))
        .execute(conn)?;
    Ok(moved + changed > 0)
}

/// Pauses or resumes a feed; a resumed feed is due at once. False when there is no such feed.
pub fn set_paused(
    conn: &mut DbConnection,
    id: i64,
    paused: bool,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = match paused {
        true => diesel::update(feeds::table.find(id))
            .set(feeds::paused.eq(true))
            .execute(conn)?,
        false => diesel::update(feeds::table.find(id))
            .set((feeds::paused.eq(false), feeds::next_poll_at.eq(now)))
            .execute(conn)?,
    };
    Ok(changed == 1)
}

/// Claims up to `limit` feeds due at `now` by moving their next poll to `lease_until`; returns
/// them. PostgreSQL skips the rows another instance is claiming; SQLite has one writer.
pub fn claim_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<ListFeed>> {
    const PG: &str = "UPDATE feeds SET next_poll_at = $1 WHERE id IN (SELECT id FROM feeds \
        WHERE next_poll_at <= $2 AND NOT paused ORDER BY next_poll_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
        RETURNING id";
    const SQLITE: &str = "UPDATE feeds SET next_poll_at = ?1 WHERE id IN (SELECT id FROM feeds \
        WHERE next_poll_at <= ?2 AND NOT paused ORDER BY next_poll_at, id LIMIT ?3) RETURNING id";
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let sql = match conn {
        DbConnection::Pg(_) => PG,
        DbConnection::Sqlite(_) => SQLITE,
    };
    let ids: Vec<i64> = diesel::sql_query(sql)
        .bind::<Timestamp, _>(lease_until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load::<Id>(conn)?
        .into_iter()
        .map(|r| r.id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    with_lists(conn, Some(&ids))
}

/// Claims one feed whether due or not (`feed poll <id>`); None if there is no such feed.
pub fn claim_one(
    conn: &mut DbConnection,
    id: i64,
    lease_until: NaiveDateTime,
) -> QueryResult<Option<ListFeed>> {
    let updated = diesel::update(feeds::table.find(id))
        .set(feeds::next_poll_at.eq(lease_until))
        .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    Ok(with_lists(conn, Some(&[id]))?.pop())
}

/// Records a good poll: stores the articles whose GUID is new and sets the next poll one
/// interval on. `validators` is None after a 304 (the stored ones still hold). Returns how many
/// articles were new.
pub fn record_success(
    conn: &mut DbConnection,
    id: i64,
    now: NaiveDateTime,
    next_poll_at: NaiveDateTime,
    validators: Option<&Validators>,
    new_articles: &[NewArticle<'_>],
) -> QueryResult<usize> {
    let mut stored = 0;
    for chunk in new_articles.chunks(500) {
        let guids: Vec<&str> = chunk.iter().map(|a| a.guid).collect();
        // One feed's articles all belong to its list.
        let known = super::articles::known_guids(conn, chunk[0].list_id, &guids)?;
        for article in chunk.iter().filter(|a| !known.iter().any(|k| k == a.guid)) {
            stored += usize::from(insert_article(conn, article)?);
        }
    }
    diesel::update(feeds::table.find(id))
        .set((
            feeds::next_poll_at.eq(next_poll_at),
            feeds::last_polled_at.eq(Some(now)),
            feeds::last_ok_at.eq(Some(now)),
            feeds::last_error.eq(None::<String>),
            feeds::consecutive_failures.eq(0),
        ))
        .execute(conn)?;
    if let Some(v) = validators {
        diesel::update(feeds::table.find(id))
            .set((
                feeds::etag.eq(v.etag.as_deref()),
                feeds::last_modified.eq(v.last_modified.as_deref()),
            ))
            .execute(conn)?;
    }
    Ok(stored)
}

/// Records a failed poll: the reason, one more failure in a row, and when to try again.
pub fn record_failure(
    conn: &mut DbConnection,
    id: i64,
    now: NaiveDateTime,
    next_poll_at: NaiveDateTime,
    error: &str,
) -> QueryResult<()> {
    diesel::update(feeds::table.find(id))
        .set((
            feeds::next_poll_at.eq(next_poll_at),
            feeds::last_polled_at.eq(Some(now)),
            feeds::last_error.eq(Some(error)),
            feeds::consecutive_failures.eq(feeds::consecutive_failures + 1),
        ))
        .execute(conn)?;
    Ok(())
}

/// Inserts one article under a savepoint: another poller may store the same GUID between our
/// check and this insert, and on PostgreSQL a failed statement would otherwise abort the whole
/// transaction with the other articles in it.
fn insert_article(conn: &mut DbConnection, article: &NewArticle<'_>) -> QueryResult<bool> {
    let inserted = conn.transaction(|c| {
        diesel::insert_into(articles::table)
            .values(article)
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

fn with_lists(conn: &mut DbConnection, ids: Option<&[i64]>) -> QueryResult<Vec<ListFeed>> {
    let mut query = feeds::table
        .inner_join(lists::table)
        .select((Feed::as_select(), lists::slug, lists::language))
        .order(feeds::id)
        .into_boxed();
    if let Some(ids) = ids {
        query = query.filter(feeds::id.eq_any(ids));
    }
    Ok(query
        .load::<(Feed, String, String)>(conn)?
        .into_iter()
        .map(|(feed, list_slug, list_language)| ListFeed {
            feed,
            list_slug,
            list_language,
        })
        .collect())
}
