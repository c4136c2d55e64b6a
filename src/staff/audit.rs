//! The audit trail: who did what, and when.

use chrono::{NaiveDateTime, Utc};

use super::{Member, StaffError};
use crate::app::AppContext;
use crate::db::{self, audit, DbConnection};
use crate::domain::AuditAction;

/// Who acted.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A signed-in staff member.
    Staff { id: i64, email: String },
    /// Someone at the server's shell.
    CommandLine,
    /// A client of the JSON API's shared token.
    ApiToken,
    /// Someone not signed in, by the address they typed (a failed sign-in).
    Visitor(String),
}

impl Actor {
    /// What the trail names them by.
    fn name(&self) -> &str {
        match self {
            Actor::Staff { email, .. } => email,
            Actor::CommandLine => "(command line)",
            Actor::ApiToken => "(API token)",
            Actor::Visitor(typed) => typed,
        }
    }

    fn id(&self) -> Option<i64> {
        match self {
            Actor::Staff { id, .. } => Some(*id),
            _ => None,
        }
    }
}

impl From<&Member> for Actor {
    fn from(m: &Member) -> Self {
        Actor::Staff {
            id: m.id,
            email: m.email.clone(),
        }
    }
}

/// Records an action inside the caller's transaction.
pub(super) fn record_in(
    conn: &mut DbConnection,
    actor: &Actor,
    action: AuditAction,
    target: &str,
    detail: &str,
) -> diesel::QueryResult<()> {
    let now = Utc::now().naive_utc();
    let (id, name) = (actor.id(), actor.name());
    audit::record(conn, now, id, name, action.as_str(), target, detail)
}

/// Records an action another use case has just carried out (a list change, an import).
pub async fn record(
    ctx: &AppContext,
    actor: &Actor,
    action: AuditAction,
    target: impl Into<String>,
    detail: impl Into<String>,
) -> Result<(), StaffError> {
    record_on(&ctx.pool, actor, action, target, detail).await
}

/// [`record`] for a command that opened only the database.
pub async fn record_on(
    pool: &db::Pool,
    actor: &Actor,
    action: AuditAction,
    target: impl Into<String>,
    detail: impl Into<String>,
) -> Result<(), StaffError> {
    let (actor, target, detail) = (actor.clone(), target.into(), detail.into());
    db::write(pool, move |conn| {
        Ok::<_, StaffError>(record_in(conn, &actor, action, &target, &detail)?)
    })
    .await
}

/// What to show of the trail.
#[derive(Debug, Clone, Default)]
pub struct TrailFilter {
    pub person: Option<String>,
    pub action: Option<AuditAction>,
    /// From this moment (UTC), inclusive.
    pub from: Option<NaiveDateTime>,
    /// Before this moment (UTC).
    pub until: Option<NaiveDateTime>,
    /// Entries older than this one (the next page).
    pub before_id: Option<i64>,
}

/// A page of the trail, newest first; one more entry than `limit` means there is a next page.
pub async fn trail(
    ctx: &AppContext,
    filter: TrailFilter,
    limit: i64,
) -> Result<Vec<audit::Entry>, StaffError> {
    db::run(&ctx.pool, move |conn| {
        let f = audit::Filter {
            user_email: filter.person,
            action: filter.action.map(|a| a.as_str().to_owned()),
            from: filter.from,
            to: filter.until,
            before_id: filter.before_id,
        };
        Ok::<_, StaffError>(audit::page(conn, &f, limit + 1)?)
    })
    .await
}

/// The people who appear in the trail (for its filter).
pub async fn trail_choices(ctx: &AppContext) -> Result<Vec<String>, StaffError> {
    db::run(&ctx.pool, |conn| Ok::<_, StaffError>(audit::people(conn)?)).await
}
