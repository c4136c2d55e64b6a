//! Staff accounts (admins only): create one (its owner chooses a password through a one-time
//! link), change a role, disable or enable, give a new password link.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::access::{Admin, Posted};
use super::fields::{FieldErrors, Fields};
use super::page::{render_status, see_other};
use super::params::id;
use super::AdminError;
use crate::domain::{Lang, Role, SubscriberEmail};
use crate::routes::AppState;
use crate::staff::{self, Actor, NewMember, Session, StaffError};

/// What the page says after an action.
#[derive(Default, serde::Serialize)]
struct Outcome<'a> {
    /// A one-time link to hand to the account's owner, and whose it is.
    link: Option<(String, String)>,
    /// A message catalogue key.
    done: Option<&'a str>,
}

async fn page(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    status: StatusCode,
    outcome: Outcome<'_>,
    form: Option<&Fields>,
    errors: &FieldErrors,
) -> Result<HttpResponse, AdminError> {
    let members = staff::members(state).await?;
    let ctx = minijinja::context! {
        members,
        outcome,
        form => form.map(Fields::typed),
        errors,
        roles => Role::ALL,
        languages => Lang::ALL.iter().map(|l| (l.code(), l.name())).collect::<Vec<_>>(),
        link_hours => state.settings.staff.link_hours.get(),
    };
    render_status(req, session, status, "users", ctx)
}

/// `GET /admin/users`.
pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
) -> Result<HttpResponse, AdminError> {
    let done = match req.query_string() {
        "done=saved" => Some("admin_saved"),
        _ => None,
    };
    let outcome = Outcome { link: None, done };
    page(
        &req,
        &state,
        &session,
        StatusCode::OK,
        outcome,
        None,
        &FieldErrors::default(),
    )
    .await
}

/// `POST /admin/users`: a new account, and the link its owner chooses a password with.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let mut errors = FieldErrors::default();
    let email = errors.check("email", SubscriberEmail::parse(f.text("email")));
    let role = errors.check("role", Role::parse_input(f.text("role")));
    let language = errors.check("language", Lang::parse(f.text("language")));
    let (Some(email), Some(role), Some(language)) = (email, role, language) else {
        let status = StatusCode::BAD_REQUEST;
        return page(
            &req,
            &state,
            &session,
            status,
            Outcome::default(),
            Some(&f),
            &errors,
        )
        .await;
    };
    let new = NewMember {
        email,
        role,
        language,
        password: None,
    };
    match staff::create(&state, new, &Actor::from(&session.member)).await {
        Ok((member, link)) => {
            let outcome = Outcome {
                link: link.map(|l| (member.email, l)),
                done: Some("admin_user_created"),
            };
            page(
                &req,
                &state,
                &session,
                StatusCode::OK,
                outcome,
                None,
                &errors,
            )
            .await
        }
        Err(StaffError::EmailTaken) => {
            errors.add("email", StaffError::EmailTaken.key());
            let status = StatusCode::BAD_REQUEST;
            page(
                &req,
                &state,
                &session,
                status,
                Outcome::default(),
                Some(&f),
                &errors,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/users/{id}`: `role=admin|editor`, or `disabled=1|0`.
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let (id, actor) = (id(&path)?, Actor::from(&session.member));
    let changed = match (f.optional("role"), f.optional("disabled")) {
        (Some(role), _) => {
            let role = Role::parse_input(role)
                .map_err(|e| AdminError::BadRequest(e.key(), e.to_string()))?;
            staff::set_role(&state, id, role, &actor).await
        }
        (None, Some(disabled)) => staff::set_disabled(&state, id, disabled == "1", &actor).await,
        (None, None) => {
            return Err(AdminError::BadRequest(
                "error_bad_request",
                "nothing to change".into(),
            ))
        }
    };
    match changed {
        Ok(_) => Ok(see_other("/admin/users?done=saved")),
        Err(StaffError::LastAdmin) => {
            let outcome = Outcome {
                link: None,
                done: None,
            };
            let mut errors = FieldErrors::default();
            errors.add("account", StaffError::LastAdmin.key());
            page(
                &req,
                &state,
                &session,
                StatusCode::CONFLICT,
                outcome,
                None,
                &errors,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/users/{id}/link`: a new one-time link to choose a password (earlier ones stop
/// working); the account's sessions stay until the password changes.
pub async fn password_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    posted.check(&session)?;
    let id = id(&path)?;
    let link = staff::password_link(&state, id, &Actor::from(&session.member)).await?;
    let email = staff::members(&state)
        .await?
        .into_iter()
        .find(|m| m.id == id)
        .map(|m| m.email)
        .unwrap_or_default();
    let outcome = Outcome {
        link: Some((email, link)),
        done: Some("admin_link_created"),
    };
    page(
        &req,
        &state,
        &session,
        StatusCode::OK,
        outcome,
        None,
        &FieldErrors::default(),
    )
    .await
}
