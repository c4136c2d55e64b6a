use actix_web::{web, HttpRequest, HttpResponse};

use super::body;
use super::{message, page, reader_lang, request_lang, settle_lang, PublicError};
use crate::domain::{Lang, ListSlug};
use crate::links::PreferencesLink;
use crate::routes::AppState;
use crate::subscriptions::{self, Preferences};

/// The subscriber a preferences link names, while it works.
fn subscriber(state: &AppState, signed: &str) -> Result<i64, PublicError> {
    match state
        .links
        .verify_preferences(signed, chrono::Utc::now().naive_utc())
    {
        Some(PreferencesLink::Valid(id)) => Ok(id),
        Some(PreferencesLink::Expired) => Err(PublicError::PreferencesExpired),
        None => Err(PublicError::InvalidLink),
    }
}

/// The page in `lang`; the language select shows the reader's own.
fn render(
    state: &AppState,
    req: &HttpRequest,
    lang: Lang,
    signed: &str,
    prefs: &Preferences,
    saved: bool,
) -> Result<HttpResponse, PublicError> {
    page(
        state,
        req,
        "preferences",
        lang,
        &minijinja::context! {
            token => signed,
            email => &prefs.email,
            lists => &prefs.lists,
            reader_lang => prefs.lang,
            saved => saved,
        },
    )
}

/// `GET /preferences/{link}`: the lists the reader gets, their language, and the erase button.
pub async fn preferences_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PublicError> {
    settle_lang(&req, request_lang(&req));
    let id = subscriber(&state, &path)?;
    let prefs = subscriptions::preferences(&state, id)
        .await?
        .ok_or(PublicError::InvalidLink)?;
    let lang = reader_lang(&req, Some(prefs.lang));
    render(&state, &req, lang, &path, &prefs, false)
}

/// `POST /preferences/{link}`: saves the chosen lists (`lists`, repeated) and language.
pub async fn save_preferences(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    raw: web::Bytes,
) -> Result<HttpResponse, PublicError> {
    settle_lang(&req, request_lang(&req));
    let id = subscriber(&state, &path)?;
    if body::format(&req)? != body::Format::Form {
        return Err(PublicError::UnsupportedType);
    }
    let pairs = body::form_pairs(&raw)?;
    let mut lang = None;
    let mut chosen = Vec::new();
    for (k, v) in &pairs {
        match k.as_str() {
            "lists" => chosen.push(ListSlug::parse(v).map_err(|_| PublicError::UnknownList)?),
            "lang" => lang = Some(Lang::parse(v)?),
            _ => {}
        }
    }
    let lang = lang.unwrap_or_else(|| request_lang(&req));
    settle_lang(&req, lang);
    let prefs = subscriptions::update_preferences(&state, id, chosen, lang)
        .await?
        .ok_or(PublicError::InvalidLink)?;
    render(&state, &req, lang, &path, &prefs, true)
}

/// `POST /preferences/{link}/erase`: deletes the reader's data, keeping a hashed suppression.
pub async fn erase(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PublicError> {
    let lang = request_lang(&req);
    settle_lang(&req, lang);
    let id = subscriber(&state, &path)?;
    // Erasing twice is fine: the second time there is nothing left, which is what was asked.
    subscriptions::erase(&state, id).await?;
    message(&state, &req, lang, "erased_title", "erased_message")
}
