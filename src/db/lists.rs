//! Mailing lists.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::lists;
use super::DbConnection;

/// A list as stored.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = lists)]
pub struct List {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub public: bool,
    pub double_opt_in: bool,
    pub language: String,
    pub from_name: String,
    pub from_address: String,
    pub reply_to: Option<String>,
    pub archived: bool,
    pub created_at: NaiveDateTime,
    /// Its digests are published at /archive/<slug>, with an RSS feed.
    pub public_archive: bool,
}

/// A list to create; the fields come from validated domain types.
#[derive(Debug, Insertable)]
#[diesel(table_name = lists)]
pub struct NewList<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub public: bool,
    pub double_opt_in: bool,
    pub language: &'a str,
    pub from_name: &'a str,
    pub from_address: &'a str,
    pub reply_to: Option<&'a str>,
    pub archived: bool,
    pub created_at: NaiveDateTime,
    pub public_archive: bool,
}

/// Inserts a list and returns it; a taken slug is a unique violation.
pub fn insert(conn: &mut DbConnection, new: &NewList<'_>) -> QueryResult<List> {
    diesel::insert_into(lists::table)
        .values(new)
        .execute(conn)?;
    by_slug(conn, new.slug)?.ok_or(diesel::result::Error::NotFound)
}

/// Every list, archived ones included, by name.
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<List>> {
    lists::table
        .order(lists::name.asc())
        .select(List::as_select())
        .load(conn)
}

/// The lists a reader may pick on the public form.
pub fn public_active(conn: &mut DbConnection) -> QueryResult<Vec<List>> {
    lists::table
        .filter(lists::public.eq(true))
        .filter(lists::archived.eq(false))
        .order(lists::name.asc())
        .select(List::as_select())
        .load(conn)
}

/// The list with this slug, if any.
pub fn by_slug(conn: &mut DbConnection, slug: &str) -> QueryResult<Option<List>> {
    lists::table
        .filter(lists::slug.eq(slug))
        .select(List::as_select())
        .first(conn)
        .optional()
}

/// The lists with these ids.
pub fn by_ids(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<List>> {
    lists::table
        .filter(lists::id.eq_any(ids))
        .order(lists::name.asc())
        .select(List::as_select())
        .load(conn)
}

/// How many lists exist.
pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    lists::table.count().get_result(conn)
}

/// What an admin may change of a list (not its slug: forms and links name it).
#[derive(Debug, AsChangeset)]
#[diesel(table_name = lists, treat_none_as_null = true)]
pub struct ListChanges<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub public: bool,
    pub double_opt_in: bool,
    pub language: &'a str,
    pub from_name: &'a str,
    pub from_address: &'a str,
    pub reply_to: Option<&'a str>,
    pub public_archive: bool,
}

/// Changes a list; false when there is no such list.
pub fn update(conn: &mut DbConnection, id: i64, changes: &ListChanges<'_>) -> QueryResult<bool> {
    Ok(diesel::update(lists::table.find(id))
        .set(changes)
        .execute(conn)?
        == 1)
}

/// Archives a list (hidden from the form and from new digests, its subscribers kept) or
/// brings it back.
pub fn set_archived(conn: &mut DbConnection, id: i64, archived: bool) -> QueryResult<bool> {
    Ok(diesel::update(lists::table.find(id))
        .set(lists::archived.eq(archived))
        .execute(conn)?
        == 1)
}
