//! Articles that digests carry, added by hand or pulled from feeds.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::articles;
use super::{escape_like, is_unique_violation, DbConnection};

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
    /// The feed that brought it; None when added by hand (or its feed was deleted).
    pub feed_id: Option<i64>,
    pub image_alt: String,
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
    pub feed_id: Option<i64>,
    pub image_alt: &'a str,
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

/// Where the articles a page lists came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Added by hand (the pages, the CLI, the API).
    Manual,
    /// Brought by any feed.
    Feeds,
    /// Brought by this feed.
    Feed(i64),
}

/// What the articles page filters on.
#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    /// Words of the title, matched anywhere, case-insensitively (ASCII case on SQLite).
    pub title: Option<String>,
    /// Articles a list's digests may carry: its own and those offered to every list.
    pub list_id: Option<i64>,
    pub source: Option<Source>,
}

/// One page of articles, newest first, and whether there are more after it.
pub fn page(
    conn: &mut DbConnection,
    filter: &ArticleFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<Article>, bool)> {
    let mut query = articles::table
        .order((articles::published_at.desc(), articles::id.desc()))
        .select(Article::as_select())
        .offset(offset)
        .limit(limit + 1)
        .into_boxed();
    if let Some(words) = &filter.title {
        for word in words.split_whitespace() {
            let pattern = format!("%{}%", escape_like(&word.to_lowercase()));
            query = query.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("LOWER(articles.title) LIKE ")
                    .bind::<diesel::sql_types::Text, _>(pattern)
                    .sql(" ESCAPE '\\'"),
            );
        }
    }
    if let Some(list_id) = filter.list_id {
        query = query.filter(
            articles::list_id
                .eq(list_id)
                .or(articles::list_id.is_null()),
        );
    }
    query = match filter.source {
        None => query,
        Some(Source::Manual) => query.filter(articles::feed_id.is_null()),
        Some(Source::Feeds) => query.filter(articles::feed_id.is_not_null()),
        Some(Source::Feed(id)) => query.filter(articles::feed_id.eq(id)),
    };
    let mut rows = query.load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

/// The article with this id.
pub fn by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Article>> {
    articles::table
        .find(id)
        .select(Article::as_select())
        .first(conn)
        .optional()
}

/// The articles with these ids, in no particular order.
pub fn by_ids(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<Article>> {
    articles::table
        .filter(articles::id.eq_any(ids))
        .select(Article::as_select())
        .load(conn)
}

/// What an edit may change (the GUID stays: it is how feeds recognise the article).
#[derive(Debug, AsChangeset)]
#[diesel(table_name = articles, treat_none_as_null = true)]
pub struct ArticleChanges<'a> {
    pub list_id: Option<i64>,
    pub title: &'a str,
    pub url: &'a str,
    pub author: Option<&'a str>,
    pub summary: &'a str,
    pub language: &'a str,
    pub image_url: Option<&'a str>,
    pub image_alt: &'a str,
    pub published_at: NaiveDateTime,
}

/// Changes an article; false when there is no such article.
pub fn update(conn: &mut DbConnection, id: i64, changes: &ArticleChanges<'_>) -> QueryResult<bool> {
    Ok(diesel::update(articles::table.find(id))
        .set(changes)
        .execute(conn)?
        == 1)
}

/// Deletes an article and takes it out of the drafts that carry it. Returns false, and changes
/// nothing, when a digest that went out (or is going out) carries it: the archive shows it.
pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    use super::schema::{digest_articles, digests};
    use crate::domain::DigestStatus;
    let sent: i64 = digest_articles::table
        .inner_join(digests::table)
        .filter(digest_articles::article_id.eq(id))
        .filter(digests::status.ne(DigestStatus::Draft))
        .count()
        .get_result(conn)?;
    if sent > 0 {
        return Ok(false);
    }
    diesel::delete(digest_articles::table.filter(digest_articles::article_id.eq(id)))
        .execute(conn)?;
    Ok(diesel::delete(articles::table.find(id)).execute(conn)? == 1)
}
