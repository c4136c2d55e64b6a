//! Articles that digests carry, added by hand or pulled from feeds.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::articles;
use super::{is_unique_violation, DbConnection};

/// An article as stored.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = articles)]
pub struct Article {
    pub id: i64,
    pub list_id: Option<i64>,
    pub guid: String,
    pub title: String,
    pub url: String,
    pub author: Option<String>,
    pub summary: String,
    pub language: String,
    pub image_url: Option<String>,
    pub published_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// An article to add.
#[derive(Debug, Insertable)]
#[diesel(table_name = articles)]
pub struct NewArticle<'a> {
    pub list_id: Option<i64>,
    pub guid: &'a str,
    pub title: &'a str,
    pub url: &'a str,
    pub author: Option<&'a str>,
    pub summary: &'a str,
    pub language: &'a str,
    pub image_url: Option<&'a str>,
    pub published_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// Adds an article unless a list would then see its GUID twice; returns whether it was new.
pub fn insert_if_new(conn: &mut DbConnection, new: &NewArticle<'_>) -> QueryResult<bool> {
    let exists = !known_guids(conn, new.list_id, &[new.guid])?.is_empty();
    if exists {
        return Ok(false);
    }
    match diesel::insert_into(articles::table)
        .values(new)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Which of `guids` a new article for `list_id` would repeat. The same GUID may be stored once
/// per list (one feed bound to two lists fills both), but an article offered to every list (no
/// list) takes its GUID from each list, and an article of any list keeps it from being offered
/// to every list.
pub fn known_guids(
    conn: &mut DbConnection,
    list_id: Option<i64>,
    guids: &[&str],
) -> QueryResult<Vec<String>> {
    let same = articles::table
        .filter(articles::guid.eq_any(guids))
        .select(articles::guid);
    match list_id {
        Some(list_id) => same
            .filter(
                articles::list_id
                    .eq(list_id)
                    .or(articles::list_id.is_null()),
            )
            .load(conn),
        None => same.load(conn),
    }
}

/// Articles for a list's next digest: the list's own and the unbound ones, published after
/// `since` (all when None), newest first.
pub fn for_digest(
    conn: &mut DbConnection,
    list_id: i64,
    since: Option<NaiveDateTime>,
    limit: i64,
) -> QueryResult<Vec<Article>> {
    let mut query = articles::table
        .filter(
            articles::list_id
                .eq(list_id)
                .or(articles::list_id.is_null()),
        )
        .order((articles::published_at.desc(), articles::id.desc()))
        .limit(limit)
        .select(Article::as_select())
        .into_boxed();
    if let Some(since) = since {
        query = query.filter(articles::published_at.gt(since));
    }
    query.load(conn)
}

/// The latest articles, for `article ls`.
pub fn latest(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<Article>> {
    articles::table
        .order((articles::published_at.desc(), articles::id.desc()))
        .limit(limit)
        .select(Article::as_select())
        .load(conn)
}
