//! Staff accounts: creating them, their role and language, disabling them, their passwords.

use chrono::Utc;

use super::audit::{record_in, Actor};
use super::links::issue_in;
use super::sessions::Session;
use super::{password, Member, StaffError};
use crate::app::AppContext;
use crate::db::{self, staff};
use crate::domain::{AuditAction, Lang, Password, Role, SubscriberEmail};

/// What a stored hash is for an account whose password is yet to be chosen: no PHC string, so
/// no password matches it.
const NO_PASSWORD: &str = "!";

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewMember {
    pub email: SubscriberEmail,
    pub role: Role,
    pub language: Lang,
    /// `None`: the account gets a one-time link to choose its password.
    pub password: Option<Password>,
}

/// Creates an account; without a password, returns the link its owner chooses one with.
pub async fn create(
    ctx: &AppContext,
    new: NewMember,
    actor: &Actor,
) -> Result<(Member, Option<String>), StaffError> {
    let hash = match new.password.clone() {
        Some(p) => password::hash(p).await,
        None => NO_PASSWORD.to_owned(),
    };
    let (actor, links, hours) = (actor.clone(), ctx.links.clone(), link_hours(ctx));
    db::write(&ctx.pool, move |conn| {
        let now = Utc::now().naive_utc();
        let email = new.email.as_str();
        let user = staff::insert_user(conn, email, new.role, &hash, new.language.code(), now)
            .map_err(|e| match db::is_unique_violation(&e) {
                true => StaffError::EmailTaken,
                false => e.into(),
            })?;
        let link = match new.password {
            Some(_) => None,
            None => Some(issue_in(conn, &links, &password_purpose(user.id), hours)?),
        };
        record_in(
            conn,
            &actor,
            AuditAction::UserCreated,
            email,
            new.role.as_str(),
        )?;
        Ok((user.into(), link))
    })
    .await
}

/// Every account, by address.
pub async fn members(ctx: &AppContext) -> Result<Vec<Member>, StaffError> {
    db::run(&ctx.pool, |conn| {
        Ok::<_, StaffError>(staff::users(conn)?.into_iter().map(Member::from).collect())
    })
    .await
}

/// The account with this address.
pub async fn member(ctx: &AppContext, email: &SubscriberEmail) -> Result<Member, StaffError> {
    let email = email.as_str().to_owned();
    db::run(&ctx.pool, move |conn| {
        staff::user_by_email(conn, &email)?
            .map(Member::from)
            .ok_or(StaffError::UnknownAccount)
    })
    .await
}

/// Disables or enables an account; a disabled account's sessions end at once. The last
/// enabled admin stays.
pub async fn set_disabled(
    ctx: &AppContext,
    id: i64,
    disabled: bool,
    actor: &Actor,
) -> Result<Member, StaffError> {
    let actor = actor.clone();
    db::write(&ctx.pool, move |conn| {
        let user = staff::user_by_id(conn, id)?.ok_or(StaffError::UnknownAccount)?;
        if disabled
            && user.role == Role::Admin
            && !user.disabled
            && staff::enabled_admins(conn)? <= 1
        {
            return Err(StaffError::LastAdmin);
        }
        staff::set_disabled(conn, id, disabled)?;
        if disabled {
            staff::delete_sessions_of(conn, id, None)?;
        }
        let action = match disabled {
            true => AuditAction::UserDisabled,
            false => AuditAction::UserEnabled,
        };
        record_in(conn, &actor, action, &user.email, "")?;
        Ok(Member {
            disabled,
            ..user.into()
        })
    })
    .await
}

/// Makes an account an admin or an editor. The last enabled admin stays one.
pub async fn set_role(
    ctx: &AppContext,
    id: i64,
    role: Role,
    actor: &Actor,
) -> Result<Member, StaffError> {
    let actor = actor.clone();
    db::write(&ctx.pool, move |conn| {
        let user = staff::user_by_id(conn, id)?.ok_or(StaffError::UnknownAccount)?;
        if user.role == role {
            return Ok(user.into());
        }
        if user.role == Role::Admin && !user.disabled && staff::enabled_admins(conn)? <= 1 {
            return Err(StaffError::LastAdmin);
        }
        staff::set_role(conn, id, role)?;
        record_in(
            conn,
            &actor,
            AuditAction::RoleChanged,
            &user.email,
            role.as_str(),
        )?;
        Ok(Member {
            role,
            ..user.into()
        })
    })
    .await
}

/// Sets an account's password (an admin's reset, or `user reset-password`): every session of
/// the account and every password link for it end.
pub async fn reset_password(
    ctx: &AppContext,
    id: i64,
    new: Password,
    actor: &Actor,
) -> Result<Member, StaffError> {
    let hash = password::hash(new).await;
    let actor = actor.clone();
    db::write(&ctx.pool, move |conn| {
        let user = staff::user_by_id(conn, id)?.ok_or(StaffError::UnknownAccount)?;
        let now = Utc::now().naive_utc();
        staff::set_password(conn, id, &hash, now)?;
        staff::delete_sessions_of(conn, id, None)?;
        staff::revoke_tokens(conn, &password_purpose(id), now)?;
        record_in(conn, &actor, AuditAction::PasswordReset, &user.email, "")?;
        Ok(user.into())
    })
    .await
}

/// A staff member changes their own password, giving the current one; their other sessions
/// end, this one stays.
pub async fn change_own_password(
    ctx: &AppContext,
    session: &Session,
    current: String,
    new: Password,
) -> Result<(), StaffError> {
    let id = session.member.id;
    let stored = db::run(&ctx.pool, move |conn| {
        Ok::<_, StaffError>(staff::user_by_id(conn, id)?.map(|u| u.password_hash))
    })
    .await?;
    if !password::verify(stored, current).await {
        return Err(StaffError::WrongPassword);
    }
    let hash = password::hash(new).await;
    let (keep, actor) = (session.id_hash.clone(), Actor::from(&session.member));
    let email = session.member.email.clone();
    db::write(&ctx.pool, move |conn| {
        staff::set_password(conn, id, &hash, Utc::now().naive_utc())?;
        staff::delete_sessions_of(conn, id, Some(&keep))?;
        record_in(conn, &actor, AuditAction::PasswordChanged, &email, "")?;
        Ok(())
    })
    .await
}

/// The language an account's pages are shown in.
pub async fn set_language(ctx: &AppContext, id: i64, lang: Lang) -> Result<(), StaffError> {
    db::write(&ctx.pool, move |conn| {
        staff::set_language(conn, id, lang.code())?;
        Ok(())
    })
    .await
}

/// What a link that sets account `id`'s password is stored for.
pub(super) fn password_purpose(id: i64) -> String {
    format!("password:{id}")
}

pub(super) fn link_hours(ctx: &AppContext) -> i64 {
    i64::from(ctx.settings.staff.link_hours.get())
}
