//! The audit trail: who did what and when.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::audit_log;
use super::DbConnection;

/// One entry as stored.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = audit_log)]
pub struct Entry {
    pub id: i64,
    pub at: NaiveDateTime,
    pub user_id: Option<i64>,
    pub user_email: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// Records an action: `user_id` of a staff member, `name` what the trail calls whoever acted.
pub fn record(
    conn: &mut DbConnection,
    at: NaiveDateTime,
    user_id: Option<i64>,
    name: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(at),
            audit_log::user_id.eq(user_id),
            audit_log::user_email.eq(name),
            audit_log::action.eq(action),
            audit_log::target.eq(target),
            audit_log::detail.eq(detail),
        ))
        .execute(conn)?;
    Ok(())
}

/// What to show of the trail.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user_email: Option<String>,
    pub action: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Entries older than this id (keyset paging, newest first).
    pub before_id: Option<i64>,
}

/// A page of entries, newest first.
pub fn page(conn: &mut DbConnection, f: &Filter, limit: i64) -> QueryResult<Vec<Entry>> {
    let mut q = audit_log::table
        .order(audit_log::id.desc())
        .limit(limit)
        .select(Entry::as_select())
        .into_boxed();
    if let Some(email) = &f.user_email {
        q = q.filter(audit_log::user_email.eq(email.clone()));
    }
    if let Some(action) = &f.action {
        q = q.filter(audit_log::action.eq(action.clone()));
    }
    if let Some(from) = f.from {
        q = q.filter(audit_log::at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(audit_log::at.lt(to));
    }
    if let Some(before) = f.before_id {
        q = q.filter(audit_log::id.lt(before));
    }
    q.load(conn)
}

/// The people who appear in the trail.
pub fn people(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    audit_log::table
        .select(audit_log::user_email)
        .distinct()
        .order(audit_log::user_email.asc())
        .load(conn)
}
