//! Rendering an admin page: the layout's common context (who is signed in, their CSRF token,
//! the section, the language) around each page's own.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::access::{state, visitor_token};
use super::AdminError;
use crate::domain::Lang;
use crate::routes::errors::Rendered;
use crate::routes::public::{lang_links, request_lang};
use crate::staff::Session;

/// Who is signed in, as the layout shows them.
#[derive(Serialize)]
struct Me<'a> {
    email: &'a str,
    role: &'a str,
    is_admin: bool,
}

/// Renders `admin/<name>.html` for a signed-in staff member.
pub(super) fn render(
    req: &HttpRequest,
    session: &Session,
    name: &str,
    ctx: impl Serialize,
) -> Result<HttpResponse, AdminError> {
    render_status(req, session, StatusCode::OK, name, ctx)
}

/// Renders a page with `status`: a form shown again with its errors is a 400 the page
/// rendered itself, which the error pages leave alone.
pub(super) fn render_status(
    req: &HttpRequest,
    session: &Session,
    status: StatusCode,
    name: &str,
    ctx: impl Serialize,
) -> Result<HttpResponse, AdminError> {
    let me = Me {
        email: &session.member.email,
        role: session.member.role.as_str(),
        is_admin: session.member.is_admin(),
    };
    let lang = request_lang(req);
    let ctx = minijinja::context! {
        me => me,
        csrf => &session.csrf,
        section => section(req),
        other_langs => other_langs(lang),
        back => req.path(),
        ..minijinja::Value::from_serialize(ctx)
    };
    respond(req, status, name, lang, ctx)
}

/// Renders a page for someone not signed in (the sign-in page, a one-time link's page), with
/// the visitor's form token and the language switch.
pub(super) fn render_visitor(
    req: &HttpRequest,
    status: StatusCode,
    name: &str,
    ctx: impl Serialize,
) -> Result<HttpResponse, AdminError> {
    let (token, cookie) = visitor_token(req);
    let lang = request_lang(req);
    let ctx = minijinja::context! {
        csrf => token,
        lang_links => lang_links(req),
        ..minijinja::Value::from_serialize(ctx)
    };
    let mut res = respond(req, status, name, lang, ctx)?;
    if let Some(cookie) = cookie {
        res.add_cookie(&cookie)
            .map_err(|e| AdminError::Internal(e.into()))?;
    }
    Ok(res)
}

fn respond(
    req: &HttpRequest,
    status: StatusCode,
    name: &str,
    lang: Lang,
    ctx: minijinja::Value,
) -> Result<HttpResponse, AdminError> {
    let html = state(req)?
        .templates
        .admin(name, lang, &ctx)
        .map_err(|e| AdminError::Internal(e.into()))?;
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html);
    if !status.is_success() {
        res.extensions_mut().insert(Rendered);
    }
    Ok(res)
}

/// The part of the path after `/admin/`: the menu marks it.
fn section(req: &HttpRequest) -> &str {
    req.path()
        .trim_start_matches("/admin")
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
}

/// The languages the page is not in, for the switch.
fn other_langs(lang: Lang) -> Vec<(&'static str, &'static str)> {
    Lang::ALL
        .into_iter()
        .filter(|l| *l != lang)
        .map(|l| (l.code(), l.name()))
        .collect()
}

/// Where to go after a form was handled (Post/Redirect/Get).
pub(super) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, to.to_owned()))
        .finish()
}
