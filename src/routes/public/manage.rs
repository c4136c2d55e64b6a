//! `/manage`: a reader asks for a fresh preferences link by mail.

use actix_web::{web, HttpRequest, HttpResponse};

use super::signup::client_ip;
use super::{body, message, page, request_lang, settle_lang, PublicError};
use crate::domain::{mask_email, Lang, SubscriberEmail};
use crate::routes::errors::Rendered;
use crate::routes::AppState;
use crate::subscriptions;

/// `GET /manage`: the form.
pub async fn manage_page(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PublicError> {
    let lang = request_lang(&req);
    settle_lang(&req, lang);
    page(&state, &req, "manage", lang, &minijinja::context! {})
}

/// `POST /manage` (form fields `email`, `lang`): mails a fresh preferences link if the address
/// is a subscriber's; the answer is the same either way.
pub async fn request_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    raw: web::Bytes,
) -> Result<HttpResponse, PublicError> {
    settle_lang(&req, request_lang(&req));
    if body::format(&req)? != body::Format::Form {
        return Err(PublicError::UnsupportedType);
    }
    let pairs = body::form_pairs(&raw)?;
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let lang = Lang::parse(field("lang")).unwrap_or_else(|_| request_lang(&req));
    settle_lang(&req, lang);
    if !state
        .ip_limiter
        .allow(client_ip(&req, state.settings.signup.proxies()))
    {
        return Err(PublicError::RateLimited);
    }
    let email = match SubscriberEmail::parse(field("email")) {
        Ok(email) => email,
        Err(e) => {
            let error = state.templates.t(lang, e.key()).to_owned();
            let ctx = minijinja::context! { email => field("email"), error => error };
            let mut res = page(&state, &req, "manage", lang, &ctx)?;
            *res.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
            res.extensions_mut().insert(Rendered);
            return Ok(res);
        }
    };
    let masked = mask_email(email.as_str());
    if let Err(e) = subscriptions::send_manage_link(&state, email).await {
        tracing::error!(to = %masked, error = %e, "preferences link not sent");
        return Err(e.into());
    }
    message(
        &state,
        &req,
        lang,
        "manage_sent_title",
        "manage_sent_message",
    )
}
