//! Imports started from the browser: progress for the page that watches them, and their bad
//! rows for the report.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{import_errors, import_jobs};
use super::DbConnection;

/// The most bad rows kept per import (the count goes on).
pub const MAX_ERRORS: i64 = 10_000;

/// An import as stored.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = import_jobs)]
pub struct Job {
    pub id: i64,
    pub user_id: i64,
    pub list_id: i64,
    pub file_name: String,
    pub status: String,
    pub read_rows: i64,
    pub imported: i64,
    pub rejected: i64,
    pub summary: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

pub fn create(
    conn: &mut DbConnection,
    user_id: i64,
    list_id: i64,
    file_name: &str,
    now: NaiveDateTime,
) -> QueryResult<Job> {
    let values = (
        import_jobs::user_id.eq(user_id),
        import_jobs::list_id.eq(list_id),
        import_jobs::file_name.eq(file_name),
        import_jobs::status.eq("running"),
        import_jobs::created_at.eq(now),
        import_jobs::updated_at.eq(now),
    );
    let id: i64 = match conn {
        DbConnection::Pg(c) => diesel::insert_into(import_jobs::table)
            .values(values)
            .returning(import_jobs::id)
            .get_result(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(import_jobs::table)
            .values(values)
            .returning(import_jobs::id)
            .get_result(c)?,
    };
    get(conn, id)?.ok_or(diesel::result::Error::NotFound)
}

pub fn get(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Job>> {
    import_jobs::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .optional()
}

/// Records progress, and the bad rows seen since the last call (up to the cap).
pub fn progress(
    conn: &mut DbConnection,
    id: i64,
    read: i64,
    imported: i64,
    rejected: &[(u64, String)],
    now: NaiveDateTime,
) -> QueryResult<()> {
    let kept: i64 = import_errors::table
        .filter(import_errors::job_id.eq(id))
        .count()
        .get_result(conn)?;
    let room = usize::try_from(MAX_ERRORS - kept).unwrap_or(0);
    for (line, reason) in rejected.iter().take(room) {
        diesel::insert_into(import_errors::table)
            .values((
                import_errors::job_id.eq(id),
                import_errors::line.eq(*line as i64),
                import_errors::reason.eq(reason),
            ))
            .execute(conn)?;
    }
    diesel::update(import_jobs::table.find(id))
        .set((
            import_jobs::read_rows.eq(read),
            import_jobs::imported.eq(imported),
            import_jobs::rejected.eq(import_jobs::rejected + rejected.len() as i64),
            import_jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn finish(
    conn: &mut DbConnection,
    id: i64,
    ok: bool,
    summary: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(import_jobs::table.find(id))
        .set((
            import_jobs::status.eq(if ok { "done" } else { "failed" }),
            import_jobs::summary.eq(summary),
            import_jobs::finished_at.eq(Some(now)),
            import_jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A job's kept bad rows, by line.
pub fn errors(conn: &mut DbConnection, id: i64, limit: i64) -> QueryResult<Vec<(i64, String)>> {
    import_errors::table
        .filter(import_errors::job_id.eq(id))
        .order(import_errors::line.asc())
        .limit(limit)
        .select((import_errors::line, import_errors::reason))
        .load(conn)
}
