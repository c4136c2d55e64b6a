use actix_web::{web, HttpRequest, HttpResponse};

use super::{message, page, reader_lang, request_lang, settle_lang, PublicError};
use crate::routes::AppState;
use crate::subscriptions::{self, Undone};

/// `GET /unsubscribe/{link}`: a page with an Unsubscribe button, in the reader's language;
/// changes nothing. The link (readable by anyone the digest is forwarded to) leads nowhere
/// else: the preferences, which show the address, are mailed on request (`/manage`).
pub async fn unsubscribe_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PublicError> {
    settle_lang(&req, request_lang(&req));
    let signed = path.into_inner();
    let (subscriber_id, list_id) = state
        .links
        .verify_unsubscribe(&signed)
        .ok_or(PublicError::InvalidLink)?;
    let (list_name, reader) =
        subscriptions::unsubscribe_view(&state, subscriber_id, list_id).await?;
    let lang = reader_lang(&req, reader);
    page(
        &state,
        &req,
        "unsubscribe",
        lang,
        &minijinja::context! {
            token => signed,
            list_name => list_name,
        },
    )
}

/// `POST /unsubscribe/{link}`: the page's button, and the RFC 8058 one-click target that mail
/// clients call with the body `List-Unsubscribe=One-Click` (form-encoded or multipart), no
/// cookies, expecting 200 and no redirect. The signed link alone authorises the change.
pub async fn unsubscribe(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PublicError> {
    settle_lang(&req, request_lang(&req));
    let (subscriber_id, list_id) = state
        .links
        .verify_unsubscribe(&path)
        .ok_or(PublicError::InvalidLink)?;
    let (_, reader) = subscriptions::unsubscribe_view(&state, subscriber_id, list_id).await?;
    let lang = reader_lang(&req, reader);
    subscriptions::unsubscribe(&state, subscriber_id, list_id).await?;
    let one_click = body.windows(26).any(|w| w == b"List-Unsubscribe=One-Click");
    if one_click {
        return Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(state.templates.t(lang, "unsubscribed_message").to_owned()));
    }
    page(
        &state,
        &req,
        "unsubscribed",
        lang,
        &minijinja::context! { token => path.into_inner() },
    )
}

/// `POST /unsubscribe/{link}/undo`: back on the list, if the reader left it a moment ago.
pub async fn undo(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PublicError> {
    settle_lang(&req, request_lang(&req));
    let (subscriber_id, list_id) = state
        .links
        .verify_unsubscribe(&path)
        .ok_or(PublicError::InvalidLink)?;
    let (_, reader) = subscriptions::unsubscribe_view(&state, subscriber_id, list_id).await?;
    let lang = reader_lang(&req, reader);
    match subscriptions::undo_unsubscribe(&state, subscriber_id, list_id).await? {
        Undone::Resubscribed | Undone::Nothing => message(
            &state,
            &req,
            lang,
            "resubscribed_title",
            "resubscribed_message",
        ),
        Undone::TooLate => message(&state, &req, lang, "error_title", "error_undo_too_late"),
    }
}
