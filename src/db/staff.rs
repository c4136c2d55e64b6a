//! Staff accounts, their sessions, one-time staff links and failed logins.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{login_failures, staff_sessions, staff_tokens, staff_users};
use super::DbConnection;
use crate::domain::Role;

/// A staff account as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = staff_users)]
pub struct StaffUser {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub password_hash: String,
    pub language: String,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub password_changed_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
}

/// Creates an account; an address already used is a unique violation.
pub fn insert_user(
    conn: &mut DbConnection,
    email: &str,
    role: Role,
    password_hash: &str,
    language: &str,
    now: NaiveDateTime,
) -> QueryResult<StaffUser> {
    diesel::insert_into(staff_users::table)
        .values((
            staff_users::email.eq(email),
            staff_users::role.eq(role),
            staff_users::password_hash.eq(password_hash),
            staff_users::language.eq(language),
            staff_users::disabled.eq(false),
            staff_users::created_at.eq(now),
            staff_users::password_changed_at.eq(now),
        ))
        .execute(conn)?;
    user_by_email(conn, email)?.ok_or(diesel::result::Error::NotFound)
}

pub fn user_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<StaffUser>> {
    staff_users::table
        .filter(staff_users::email.eq(email))
        .select(StaffUser::as_select())
        .first(conn)
        .optional()
}

pub fn user_by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<StaffUser>> {
    staff_users::table
        .find(id)
        .select(StaffUser::as_select())
        .first(conn)
        .optional()
}

/// Every account, by address.
pub fn users(conn: &mut DbConnection) -> QueryResult<Vec<StaffUser>> {
    staff_users::table
        .order(staff_users::email.asc())
        .select(StaffUser::as_select())
        .load(conn)
}

/// How many enabled admins there are.
pub fn enabled_admins(conn: &mut DbConnection) -> QueryResult<i64> {
    staff_users::table
        .filter(staff_users::role.eq(Role::Admin))
        .filter(staff_users::disabled.eq(false))
        .count()
        .get_result(conn)
}

pub fn set_password(
    conn: &mut DbConnection,
    id: i64,
    password_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(staff_users::table.find(id))
        .set((
            staff_users::password_hash.eq(password_hash),
            staff_users::password_changed_at.eq(now),
        ))
        .execute(conn)
}

pub fn set_disabled(conn: &mut DbConnection, id: i64, disabled: bool) -> QueryResult<usize> {
    diesel::update(staff_users::table.find(id))
        .set(staff_users::disabled.eq(disabled))
        .execute(conn)
}

pub fn set_role(conn: &mut DbConnection, id: i64, role: Role) -> QueryResult<usize> {
    diesel::update(staff_users::table.find(id))
        .set(staff_users::role.eq(role))
        .execute(conn)
}

pub fn set_language(conn: &mut DbConnection, id: i64, language: &str) -> QueryResult<usize> {
    diesel::update(staff_users::table.find(id))
        .set(staff_users::language.eq(language))
        .execute(conn)
}

pub fn logged_in(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(staff_users::table.find(id))
        .set(staff_users::last_login_at.eq(Some(now)))
        .execute(conn)
}

/// A session as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = staff_sessions)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert_session(
    conn: &mut DbConnection,
    id_hash: &str,
    user_id: i64,
    csrf_token: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(staff_sessions::table)
        .values((
            staff_sessions::id_hash.eq(id_hash),
            staff_sessions::user_id.eq(user_id),
            staff_sessions::csrf_token.eq(csrf_token),
            staff_sessions::created_at.eq(now),
            staff_sessions::last_seen_at.eq(now),
            staff_sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A session and its account.
pub fn session(
    conn: &mut DbConnection,
    id_hash: &str,
) -> QueryResult<Option<(SessionRow, StaffUser)>> {
    staff_sessions::table
        .inner_join(staff_users::table)
        .filter(staff_sessions::id_hash.eq(id_hash))
        .select((SessionRow::as_select(), StaffUser::as_select()))
        .first(conn)
        .optional()
}

pub fn touch_session(
    conn: &mut DbConnection,
    id_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(staff_sessions::table.find(id_hash))
        .set(staff_sessions::last_seen_at.eq(now))
        .execute(conn)?;
    Ok(())
}

pub fn delete_session(conn: &mut DbConnection, id_hash: &str) -> QueryResult<usize> {
    diesel::delete(staff_sessions::table.find(id_hash)).execute(conn)
}

/// Ends every session of an account but `keep` (after a password change, a disable).
pub fn delete_sessions_of(
    conn: &mut DbConnection,
    user_id: i64,
    keep: Option<&str>,
) -> QueryResult<usize> {
    let theirs = staff_sessions::table.filter(staff_sessions::user_id.eq(user_id));
    match keep {
        Some(keep) => diesel::delete(theirs.filter(staff_sessions::id_hash.ne(keep))).execute(conn),
        None => diesel::delete(theirs).execute(conn),
    }
}

/// Forgets sessions past their end, or unused since `idle_since`.
pub fn delete_ended_sessions(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    idle_since: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::delete(
        staff_sessions::table.filter(
            staff_sessions::expires_at
                .le(now)
                .or(staff_sessions::last_seen_at.le(idle_since)),
        ),
    )
    .execute(conn)
}

pub fn insert_token(
    conn: &mut DbConnection,
    hash: &str,
    purpose: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(staff_tokens::table)
        .values((
            staff_tokens::hash.eq(hash),
            staff_tokens::purpose.eq(purpose),
            staff_tokens::created_at.eq(now),
            staff_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Uses a token: true when it existed for `purpose`, unused and unexpired (it is now used).
pub fn use_token(
    conn: &mut DbConnection,
    hash: &str,
    purpose: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        staff_tokens::table
            .filter(staff_tokens::hash.eq(hash))
            .filter(staff_tokens::purpose.eq(purpose))
            .filter(staff_tokens::used_at.is_null())
            .filter(staff_tokens::expires_at.gt(now)),
    )
    .set(staff_tokens::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(n == 1)
}

/// The purpose of a token that is still usable (unused, unexpired), without using it.
pub fn usable_token(
    conn: &mut DbConnection,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    staff_tokens::table
        .filter(staff_tokens::hash.eq(hash))
        .filter(staff_tokens::used_at.is_null())
        .filter(staff_tokens::expires_at.gt(now))
        .select(staff_tokens::purpose)
        .first(conn)
        .optional()
}

/// Forgets tokens past their end, and the used ones.
pub fn delete_spent_tokens(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        staff_tokens::table.filter(
            staff_tokens::expires_at
                .le(now)
                .or(staff_tokens::used_at.is_not_null()),
        ),
    )
    .execute(conn)
}

/// Makes every unused token for `purpose` unusable (a new password link replaces the old).
pub fn revoke_tokens(
    conn: &mut DbConnection,
    purpose: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        staff_tokens::table
            .filter(staff_tokens::purpose.eq(purpose))
            .filter(staff_tokens::used_at.is_null()),
    )
    .set(staff_tokens::used_at.eq(Some(now)))
    .execute(conn)
}

pub fn record_failure(conn: &mut DbConnection, key: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(login_failures::table)
        .values((login_failures::key.eq(key), login_failures::at.eq(now)))
        .execute(conn)?;
    Ok(())
}

pub fn failures_since(
    conn: &mut DbConnection,
    key: &str,
    since: NaiveDateTime,
) -> QueryResult<i64> {
    login_failures::table
        .filter(login_failures::key.eq(key))
        .filter(login_failures::at.ge(since))
        .count()
        .get_result(conn)
}

/// Forgets failures older than `before` (and, after a good login, an account's own).
pub fn forget_failures(
    conn: &mut DbConnection,
    key: Option<&str>,
    before: NaiveDateTime,
) -> QueryResult<usize> {
    match key {
        Some(key) => {
            diesel::delete(login_failures::table.filter(login_failures::key.eq(key))).execute(conn)
        }
        None => diesel::delete(login_failures::table.filter(login_failures::at.lt(before)))
            .execute(conn),
    }
}
