//! Sign-in sessions. The browser holds a random token; the database holds only its hash, with
//! the account, a CSRF token and the session's idle and absolute ends, so every instance
//! accepts every session and signing out ends it everywhere.

use chrono::{Duration, NaiveDateTime, Utc};

use super::audit::{record_in, Actor};
use super::{password, Member, StaffError};
use crate::app::AppContext;
use crate::db::{self, staff};
use crate::domain::{AuditAction, SubscriberEmail, Token};
use crate::ratelimit::ClientKey;

/// The window failed sign-ins are counted in.
const FAILURE_WINDOW_MINUTES: i64 = 15;
/// A session's last use is written at most this often.
const TOUCH_EVERY_SECS: i64 = 60;

/// A signed-in staff member.
#[derive(Debug, Clone)]
pub struct Session {
    pub member: Member,
    /// The stored hash of the session's token.
    pub id_hash: String,
    /// What every state-changing form of this session must send back.
    pub csrf: String,
}

/// A new session: the token for the browser's cookie, and the session.
#[derive(Debug)]
pub struct SignedIn {
    pub cookie: Token,
    pub session: Session,
}

/// Signs in. Failures count against the account and the client; past either limit, attempts
/// are refused unchecked until the window has passed. An unknown address costs the same hash
/// as a known one, so the answer's timing says nothing of which accounts exist. Any session
/// the browser had (`replacing`) ends: a sign-in always starts a new one.
pub async fn login(
    ctx: &AppContext,
    email: &str,
    password: String,
    client: ClientKey,
    replacing: Option<&str>,
) -> Result<SignedIn, StaffError> {
    let typed: String = email
        .trim()
        .chars()
        .take(SubscriberEmail::MAX_LEN)
        .collect();
    let address = SubscriberEmail::parse(&typed)
        .map_or_else(|_| typed.to_lowercase(), |e| e.as_str().to_owned());
    let account_key = format!("account:{address}");
    let client_key = format!("client:{client}");
    let limits = &ctx.settings.staff;
    let (per_account, per_client) = (
        i64::from(limits.failures_per_account.get()),
        i64::from(limits.failures_per_ip.get()),
    );

    let (keys, lookup) = ((account_key.clone(), client_key.clone()), address.clone());
    let (by_account, by_client, user) = db::run(&ctx.pool, move |conn| {
        let since = Utc::now().naive_utc() - Duration::minutes(FAILURE_WINDOW_MINUTES);
        Ok::<_, StaffError>((
            staff::failures_since(conn, &keys.0, since)?,
            staff::failures_since(conn, &keys.1, since)?,
            staff::user_by_email(conn, &lookup)?,
        ))
    })
    .await?;
    if by_account >= per_account || by_client >= per_client {
        tracing::warn!(client = %client, "sign-in refused: too many failures");
        return Err(StaffError::Throttled);
    }
    let matches = password::verify(user.as_ref().map(|u| u.password_hash.clone()), password).await;
    let user = user.filter(|u| matches && !u.disabled);

    let replacing = replacing
        .and_then(|c| Token::parse(c).ok())
        .map(|t| t.hash());
    let idle = idle(ctx);
    let absolute = Duration::hours(i64::from(ctx.settings.staff.session_hours.get()));
    // A failure is recorded (and committed) like a success: the transaction answers `None`.
    let signed = db::write(&ctx.pool, move |conn| {
        let now = Utc::now().naive_utc();
        if let Some(old) = &replacing {
            staff::delete_session(conn, old)?;
        }
        let Some(user) = user else {
            staff::record_failure(conn, &account_key, now)?;
            staff::record_failure(conn, &client_key, now)?;
            record_in(
                conn,
                &Actor::Visitor(address),
                AuditAction::LoginFailed,
                "",
                &client_key,
            )?;
            return Ok::<_, StaffError>(None);
        };
        let (cookie, csrf) = (Token::generate(), Token::generate());
        let expires = now + absolute;
        staff::insert_session(conn, &cookie.hash(), user.id, csrf.expose(), now, expires)?;
        staff::logged_in(conn, user.id, now)?;
        staff::forget_failures(conn, Some(&account_key), now)?;
        // Housekeeping, rare enough to do here.
        staff::forget_failures(conn, None, now - Duration::days(1))?;
        staff::delete_ended_sessions(conn, now, now - idle)?;
        let member = Member::from(user);
        record_in(
            conn,
            &Actor::from(&member),
            AuditAction::Login,
            "",
            &client_key,
        )?;
        Ok(Some(SignedIn {
            session: Session {
                member,
                id_hash: cookie.hash(),
                csrf: csrf.expose().to_owned(),
            },
            cookie,
        }))
    })
    .await?;
    signed.ok_or(StaffError::BadCredentials)
}

fn idle(ctx: &AppContext) -> Duration {
    Duration::minutes(i64::from(ctx.settings.staff.session_idle_minutes.get()))
}

/// The session a cookie belongs to, if it is still on: not ended, not idle too long, its
/// account enabled. A session found over is deleted.
pub async fn resolve(ctx: &AppContext, cookie: &str) -> Result<Option<Session>, StaffError> {
    let Ok(token) = Token::parse(cookie) else {
        return Ok(None);
    };
    let hash = token.hash();
    let lookup = hash.clone();
    let found = db::run(&ctx.pool, move |conn| {
        Ok::<_, StaffError>(staff::session(conn, &lookup)?)
    })
    .await?;
    let Some((row, user)) = found else {
        return Ok(None);
    };
    let now = Utc::now().naive_utc();
    let over = |last_seen: NaiveDateTime| last_seen + idle(ctx) <= now;
    if user.disabled || row.expires_at <= now || over(row.last_seen_at) {
        db::write(&ctx.pool, move |conn| {
            Ok::<_, StaffError>(staff::delete_session(conn, &hash)?)
        })
        .await?;
        return Ok(None);
    }
    if now - row.last_seen_at >= Duration::seconds(TOUCH_EVERY_SECS) {
        let hash = hash.clone();
        db::write(&ctx.pool, move |conn| {
            Ok::<_, StaffError>(staff::touch_session(conn, &hash, now)?)
        })
        .await?;
    }
    Ok(Some(Session {
        member: user.into(),
        id_hash: hash,
        csrf: row.csrf_token,
    }))
}

/// Ends a session on the server.
pub async fn logout(ctx: &AppContext, session: &Session) -> Result<(), StaffError> {
    let (hash, actor) = (session.id_hash.clone(), Actor::from(&session.member));
    db::write(&ctx.pool, move |conn| {
        staff::delete_session(conn, &hash)?;
        record_in(conn, &actor, AuditAction::Logout, "", "")?;
        Ok(())
    })
    .await
}
