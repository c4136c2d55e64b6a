//! What an admin does to one subscriber beyond editing: block (or unblock) and erase.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::access::{Admin, Posted};
use super::fields::FieldErrors;
use super::page::see_other;
use super::params::id;
use super::subscribers::show;
use super::AdminError;
use crate::domain::AuditAction;
use crate::routes::AppState;
use crate::staff::{self, Actor};
use crate::subscriptions;

/// `POST /admin/subscribers/{id}/block`: `blocked=1` blocks, `blocked=0` unblocks.
pub async fn block(
    state: web::Data<AppState>,
    Admin(session): Admin,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let (id, blocked) = (id(&path)?, f.text("blocked") == "1");
    if !subscriptions::set_blocked(&state, id, blocked).await? {
        return Err(AdminError::NotFound);
    }
    let action = match blocked {
        true => AuditAction::SubscriberBlocked,
        false => AuditAction::SubscriberUnblocked,
    };
    let actor = Actor::from(&session.member);
    staff::record(&state, &actor, action, format!("subscriber #{id}"), "").await?;
    Ok(see_other(&format!("/admin/subscribers/{id}?done=saved")))
}

/// `POST /admin/subscribers/{id}/erase`: the same erasure as the reader's own (their address
/// stays only as a keyed hash in the suppression list); the form must be ticked to confirm.
pub async fn erase(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let id = id(&path)?;
    if !f.checked("confirm") {
        let found = subscriptions::detail(&state, id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let mut errors = FieldErrors::default();
        errors.add("confirm", "admin_error_confirm_erase");
        return show(
            &req,
            &session,
            StatusCode::BAD_REQUEST,
            found,
            None,
            &errors,
            None,
        );
    }
    if !subscriptions::erase(&state, id).await? {
        return Err(AdminError::NotFound);
    }
    let actor = Actor::from(&session.member);
    staff::record(
        &state,
        &actor,
        AuditAction::SubscriberErased,
        format!("subscriber #{id}"),
        "",
    )
    .await?;
    Ok(see_other("/admin/subscribers?done=erased"))
}
