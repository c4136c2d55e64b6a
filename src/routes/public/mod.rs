//! The pages and endpoints readers use.

mod archive;
pub(crate) mod body;
mod confirm;
mod manage;
mod preferences;
mod signup;
mod unsubscribe;

pub use archive::{digest as archive_digest, feed as archive_feed, index as archive_index};
pub use confirm::{confirm, confirm_page};
pub use manage::{manage_page, request_link};
pub use preferences::{erase, preferences_page, save_preferences};
pub(crate) use signup::client_ip;
pub use signup::{index, subscribe};
pub use unsubscribe::{undo, unsubscribe, unsubscribe_page};

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use serde::Serialize;

use super::PublicError;
use crate::domain::Lang;
use crate::routes::AppState;

/// The language of this request: one the handler settled on, else `?lang=`, else
/// `Accept-Language`, else Italian.
pub fn request_lang(req: &HttpRequest) -> Lang {
    if let Some(lang) = req.extensions().get::<Lang>() {
        return *lang;
    }
    chosen_lang(req)
        .or_else(|| {
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or_default()
}

/// The language the visitor chose with the page's switch (`?lang=`), if any.
pub(crate) fn chosen_lang(req: &HttpRequest) -> Option<Lang> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::parse(&v).ok())
}

/// The language of a page reached from a reader's own link: the one they chose on the page,
/// else their own (`reader`), else the browser's. Settled for the rest of the request.
fn reader_lang(req: &HttpRequest, reader: Option<Lang>) -> Lang {
    let lang = chosen_lang(req)
        .or(reader)
        .unwrap_or_else(|| request_lang(req));
    settle_lang(req, lang);
    lang
}

/// Remembers the language for the rest of the request (error pages included).
pub(crate) fn settle_lang(req: &HttpRequest, lang: Lang) {
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

/// One entry of a page's language switch.
#[derive(Serialize)]
pub(crate) struct LangLink {
    code: &'static str,
    /// The language's name in itself.
    name: &'static str,
    /// This page in that language.
    url: String,
}

/// The current page in each language: its path and query with `lang` set. Only for GET: a
/// page that answers a POST cannot be fetched again.
pub(crate) fn lang_links(req: &HttpRequest) -> Option<Vec<LangLink>> {
    if req.method() != actix_web::http::Method::GET {
        return None;
    }
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k != "lang")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let links = Lang::ALL
        .into_iter()
        .map(|lang| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.extend_pairs(&kept).append_pair("lang", lang.code());
            LangLink {
                code: lang.code(),
                name: lang.name(),
                url: format!("{}?{}", req.path(), query.finish()),
            }
        })
        .collect();
    Some(links)
}

/// Renders a page with status 200 (and, for a GET, links to it in the other languages).
fn page(
    state: &AppState,
    req: &HttpRequest,
    name: &str,
    lang: Lang,
    ctx: &impl Serialize,
) -> Result<HttpResponse, PublicError> {
    let ctx = minijinja::context! {
        lang_links => lang_links(req),
        ..minijinja::Value::from_serialize(ctx)
    };
    let html = state
        .templates
        .page(name, lang, &ctx)
        .map_err(|e| PublicError::Internal(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// Renders the generic message page.
fn message(
    state: &AppState,
    req: &HttpRequest,
    lang: Lang,
    title_key: &str,
    message_key: &str,
) -> Result<HttpResponse, PublicError> {
    page(
        state,
        req,
        "message",
        lang,
        &minijinja::context! {
            title => state.templates.t(lang, title_key),
            message => state.templates.t(lang, message_key),
        },
    )
}
