//! The pages and endpoints readers use.

mod body;
mod confirm;
mod preferences;
mod signup;
mod unsubscribe;

pub use confirm::{confirm, confirm_page};
pub use preferences::{erase, preferences_page, save_preferences};
pub use signup::{index, subscribe};
pub use unsubscribe::{unsubscribe, unsubscribe_page};

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use serde::Serialize;

use super::PublicError;
use crate::domain::Lang;
use crate::startup::AppState;

/// The language of this request: one the handler settled on, else `?lang=`, else
/// `Accept-Language`, else Italian.
pub fn request_lang(req: &HttpRequest) -> Lang {
    if let Some(lang) = req.extensions().get::<Lang>() {
        return *lang;
    }
    let from_query = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::parse(&v).ok());
    from_query
        .or_else(|| {
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or_default()
}

/// Remembers the language for the rest of the request (error pages included).
fn settle_lang(req: &HttpRequest, lang: Lang) {
    req.extensions_mut().insert(lang);
}

/// Whether the client speaks JSON (sent JSON, or asks for it).
pub fn wants_json(req: &HttpRequest) -> bool {
    let is_json = |v: Option<&header::HeaderValue>| {
        v.and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"))
    };
    is_json(req.headers().get(header::CONTENT_TYPE)) || is_json(req.headers().get(header::ACCEPT))
}

/// Renders a page with status 200.
fn page(
    state: &AppState,
    name: &str,
    lang: Lang,
    ctx: &impl Serialize,
) -> Result<HttpResponse, PublicError> {
    let html = state
        .templates
        .page(name, lang, ctx)
        .map_err(|e| PublicError::Internal(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// Renders the generic message page.
fn message(
    state: &AppState,
    lang: Lang,
    title_key: &str,
    message_key: &str,
) -> Result<HttpResponse, PublicError> {
    page(
        state,
        "message",
        lang,
        &minijinja::context! {
            title => state.templates.t(lang, title_key),
            message => state.templates.t(lang, message_key),
        },
    )
}
