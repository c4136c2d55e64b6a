use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::body;
use super::{message, page, request_lang, settle_lang, PublicError};
use crate::domain::Token;
use crate::routes::AppState;
use crate::subscriptions::{self, Confirmed, LinkState};

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /confirm?token=…`: shows a Confirm button and changes nothing, so link scanners that
/// prefetch the URL confirm nobody.
pub async fn confirm_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, PublicError> {
    let lang = request_lang(&req);
    settle_lang(&req, lang);
    let token = Token::parse(query.token.as_deref().unwrap_or_default())?;
    match subscriptions::peek_confirm(&state, token.clone()).await? {
        LinkState::Usable => page(
            &state,
            &req,
            "confirm",
            lang,
            &minijinja::context! { token => token.expose() },
        ),
        LinkState::Used => message(
            &state,
            &req,
            lang,
            "already_confirmed_title",
            "already_confirmed_message",
        ),
        LinkState::Expired => Err(PublicError::Expired),
        LinkState::Unknown => Err(PublicError::InvalidLink),
    }
}

/// `POST /confirm` (form field `token`): confirms; a second time is harmless.
pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    raw: web::Bytes,
) -> Result<HttpResponse, PublicError> {
    let lang = request_lang(&req);
    settle_lang(&req, lang);
    let pairs = match body::format(&req)? {
        body::Format::Form => body::form_pairs(&raw)?,
        body::Format::Json => body::json::<std::collections::HashMap<String, String>>(&raw)?
            .into_iter()
            .collect(),
    };
    let token = pairs
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    match subscriptions::confirm(&state, Token::parse(token)?).await? {
        Confirmed::Now => message(&state, &req, lang, "confirmed_title", "confirmed_message"),
        Confirmed::Already => message(
            &state,
            &req,
            lang,
            "already_confirmed_title",
            "already_confirmed_message",
        ),
    }
}
