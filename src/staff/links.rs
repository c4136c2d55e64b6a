//! One-time staff links: the first start's set-up link (which creates the first admin) and the
//! links that let a new account, or one an admin reset, choose its password. Only a hash of
//! each is stored, and each works once, until it expires.

use chrono::{Duration, NaiveDateTime, Utc};

use super::accounts::{link_hours, password_purpose};
use super::audit::{record_in, Actor};
use super::{password, Member, StaffError};
use crate::app::AppContext;
use crate::db::{self, staff, DbConnection};
use crate::domain::{AuditAction, Lang, Password, Role, SubscriberEmail, Token};
use crate::links::Links;

const SETUP: &str = "setup";

/// What a usable link is for.
#[derive(Debug, Clone)]
pub enum StaffLink {
    /// Creating the first admin.
    Setup,
    /// Choosing this account's password.
    Password(Member),
}

/// Stores a new link for `purpose` and returns its URL.
pub(super) fn issue_in(
    conn: &mut DbConnection,
    links: &Links,
    purpose: &str,
    hours: i64,
) -> Result<String, StaffError> {
    let token = Token::generate();
    let now = Utc::now().naive_utc();
    staff::delete_spent_tokens(conn, now)?;
    staff::insert_token(
        conn,
        &token.hash(),
        purpose,
        now,
        now + Duration::hours(hours),
    )?;
    Ok(links.page(&format!("/admin/link/{}", token.expose())))
}

/// With no enabled admin, a new set-up link and when it expires (`serve` logs it at start).
pub async fn setup_link(ctx: &AppContext) -> Result<Option<(String, NaiveDateTime)>, StaffError> {
    let (links, hours) = (ctx.links.clone(), link_hours(ctx));
    db::write(&ctx.pool, move |conn| {
        if staff::enabled_admins(conn)? > 0 {
            return Ok(None);
        }
        let url = issue_in(conn, &links, SETUP, hours)?;
        Ok(Some((url, Utc::now().naive_utc() + Duration::hours(hours))))
    })
    .await
}

/// A new link for account `id` to choose its password (an admin gives it to them).
pub async fn password_link(ctx: &AppContext, id: i64, actor: &Actor) -> Result<String, StaffError> {
    let (links, hours, actor) = (ctx.links.clone(), link_hours(ctx), actor.clone());
    db::write(&ctx.pool, move |conn| {
        let user = staff::user_by_id(conn, id)?.ok_or(StaffError::UnknownAccount)?;
        let purpose = password_purpose(id);
        staff::revoke_tokens(conn, &purpose, Utc::now().naive_utc())?;
        let url = issue_in(conn, &links, &purpose, hours)?;
        record_in(
            conn,
            &actor,
            AuditAction::PasswordReset,
            &user.email,
            "link",
        )?;
        Ok(url)
    })
    .await
}

/// What a link is for, if it can still be used.
pub async fn check_link(ctx: &AppContext, token: &Token) -> Result<StaffLink, StaffError> {
    let hash = token.hash();
    db::run(&ctx.pool, move |conn| {
        let purpose = staff::usable_token(conn, &hash, Utc::now().naive_utc())?
            .ok_or(StaffError::InvalidLink)?;
        link_of(conn, &purpose)
    })
    .await
}

fn link_of(conn: &mut DbConnection, purpose: &str) -> Result<StaffLink, StaffError> {
    if purpose == SETUP {
        return match staff::enabled_admins(conn)? {
            0 => Ok(StaffLink::Setup),
            _ => Err(StaffError::SetupDone),
        };
    }
    let id = purpose
        .strip_prefix("password:")
        .and_then(|id| id.parse().ok())
        .ok_or(StaffError::InvalidLink)?;
    match staff::user_by_id(conn, id)? {
        Some(user) if !user.disabled => Ok(StaffLink::Password(user.into())),
        _ => Err(StaffError::InvalidLink),
    }
}

/// Creates the first admin through the set-up link, which then stops working.
pub async fn complete_setup(
    ctx: &AppContext,
    token: &Token,
    email: SubscriberEmail,
    new: Password,
    language: Lang,
) -> Result<Member, StaffError> {
    let hash = password::hash(new).await;
    let token_hash = token.hash();
    db::write(&ctx.pool, move |conn| {
        let now = Utc::now().naive_utc();
        if !matches!(link_of_token(conn, &token_hash, now)?, StaffLink::Setup) {
            return Err(StaffError::InvalidLink);
        }
        staff::use_token(conn, &token_hash, SETUP, now)?;
        let user = staff::insert_user(
            conn,
            email.as_str(),
            Role::Admin,
            &hash,
            language.code(),
            now,
        )
        .map_err(|e| match db::is_unique_violation(&e) {
            true => StaffError::EmailTaken,
            false => e.into(),
        })?;
        let member = Member::from(user);
        record_in(
            conn,
            &Actor::from(&member),
            AuditAction::Setup,
            &member.email,
            "",
        )?;
        Ok(member)
    })
    .await
}

/// Sets an account's password through its link, which then stops working.
pub async fn set_password_with_link(
    ctx: &AppContext,
    token: &Token,
    new: Password,
) -> Result<Member, StaffError> {
    let hash = password::hash(new).await;
    let token_hash = token.hash();
    db::write(&ctx.pool, move |conn| {
        let now = Utc::now().naive_utc();
        let StaffLink::Password(member) = link_of_token(conn, &token_hash, now)? else {
            return Err(StaffError::InvalidLink);
        };
        staff::use_token(conn, &token_hash, &password_purpose(member.id), now)?;
        staff::set_password(conn, member.id, &hash, now)?;
        staff::delete_sessions_of(conn, member.id, None)?;
        let actor = Actor::from(&member);
        record_in(
            conn,
            &actor,
            AuditAction::PasswordChanged,
            &member.email,
            "link",
        )?;
        Ok(member)
    })
    .await
}

fn link_of_token(
    conn: &mut DbConnection,
    hash: &str,
    now: NaiveDateTime,
) -> Result<StaffLink, StaffError> {
    let purpose = staff::usable_token(conn, hash, now)?.ok_or(StaffError::InvalidLink)?;
    link_of(conn, &purpose)
}
