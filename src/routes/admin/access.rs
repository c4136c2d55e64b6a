//! Who is asking: the session cookie resolved to a staff member, their role checked, and the
//! CSRF token of their forms.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::fields::Fields;
use super::AdminError;
use crate::domain::Role;
use crate::routes::public::{chosen_lang, settle_lang};
use crate::routes::AppState;
use crate::staff::{self, Session};

/// The session cookie: HttpOnly, SameSite=Lax, Secure when the service is reached over HTTPS,
/// scoped to `/admin`.
pub const SESSION_COOKIE: &str = "iscriviti_session";

/// A signed-in staff member, whatever their role.
pub struct Staff(pub Session);

/// A signed-in admin; an editor gets 403.
pub struct Admin(pub Session);

impl FromRequest for Staff {
    type Error = AdminError;
    type Future = LocalBoxFuture<'static, Result<Self, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { signed_in(&req).await.map(Staff) })
    }
}

impl FromRequest for Admin {
    type Error = AdminError;
    type Future = LocalBoxFuture<'static, Result<Self, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = signed_in(&req).await?;
            match session.member.role {
                Role::Admin => Ok(Admin(session)),
                Role::Editor => Err(AdminError::Forbidden),
            }
        })
    }
}

pub(super) fn state(req: &HttpRequest) -> Result<web::Data<AppState>, AdminError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AdminError::Internal(anyhow::anyhow!("no application state")))
}

/// The session of the request's cookie, its language settled for the page; without one, to
/// the sign-in page (which comes back here after a GET).
async fn signed_in(req: &HttpRequest) -> Result<Session, AdminError> {
    let state = state(req)?;
    let found = match req.cookie(SESSION_COOKIE) {
        Some(c) => staff::resolve(&state, c.value()).await?,
        None => None,
    };
    let Some(session) = found else {
        let next = match *req.method() == Method::GET {
            true => req
                .uri()
                .path_and_query()
                .map_or("/admin".to_owned(), |p| p.to_string()),
            false => "/admin".to_owned(),
        };
        return Err(AdminError::SignIn { next });
    };
    settle_lang(req, chosen_lang(req).unwrap_or(session.member.language));
    req.extensions_mut().insert(session.clone());
    Ok(session)
}

/// The session cookie for a new session (`Some`), or the one that clears it (`None`).
pub(super) fn session_cookie(state: &AppState, token: Option<&str>) -> Cookie<'static> {
    let secure = state.settings.base_url.scheme() == "https";
    let mut cookie = Cookie::build(SESSION_COOKIE, token.unwrap_or_default().to_owned())
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish();
    match token {
        Some(_) => cookie.set_max_age(actix_web::cookie::time::Duration::hours(i64::from(
            state.settings.staff.session_hours.get(),
        ))),
        None => cookie.make_removal(),
    }
    cookie
}

/// A form posted to an admin page. Its body is read whole (up to the admin pages' limit) but
/// not parsed: [`Posted::check`] gives its fields only once its `csrf` field matches the
/// session's token, so no handler can act on a forged form. Any error (a body too large, not
/// a form) waits for `check` too, so a visitor who is not signed in learns nothing more than
/// that they must sign in.
pub struct Posted(Result<web::Bytes, AdminError>);

impl FromRequest for Posted {
    type Error = AdminError;
    type Future = LocalBoxFuture<'static, Result<Self, AdminError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            Ok(Posted(match (is_form, body.await) {
                (true, Ok(bytes)) => Ok(bytes),
                (false, _) => Err(AdminError::BadRequest(
                    "error_unsupported_type",
                    "send the page's form".into(),
                )),
                (true, Err(_)) => Err(AdminError::BadRequest(
                    "error_too_large",
                    "the form is too large".into(),
                )),
            }))
        })
    }
}

impl Posted {
    /// The form's fields, once its CSRF token is the session's.
    pub fn check(self, session: &Session) -> Result<Fields, AdminError> {
        let fields = Fields::parse(&self.0?)?;
        match csrf_matches(&fields, session) {
            true => Ok(fields),
            false => Err(AdminError::Csrf),
        }
    }

    /// The fields of a form posted by someone not signed in yet (the sign-in form, a one-time
    /// link's form), once its `csrf` field matches the visitor cookie the form's page set: a
    /// double-submitted token, so another site cannot sign a browser in to an account of its
    /// choosing.
    pub fn check_visitor(self, req: &HttpRequest) -> Result<Fields, AdminError> {
        let fields = Fields::parse(&self.0?)?;
        let cookie = req.cookie(FORM_COOKIE).map(|c| c.value().to_owned());
        match cookie {
            Some(c) if !c.is_empty() && same(fields.text("csrf").as_bytes(), c.as_bytes()) => {
                Ok(fields)
            }
            _ => Err(AdminError::Csrf),
        }
    }
}

/// The cookie that carries a visitor's form token (see [`Posted::check_visitor`]).
const FORM_COOKIE: &str = "iscriviti_form";

/// The visitor's form token: the one their cookie already holds, or a new one with the cookie
/// to set.
pub(super) fn visitor_token(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    if let Some(c) = req.cookie(FORM_COOKIE).filter(|c| c.value().len() >= 32) {
        return (c.value().to_owned(), None);
    }
    let token = crate::domain::Token::generate().expose().to_owned();
    let secure = state(req).is_ok_and(|s| s.settings.base_url.scheme() == "https");
    let cookie = Cookie::build(FORM_COOKIE, token.clone())
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish();
    (token, Some(cookie))
}

/// Whether a form's `csrf` field is the session's token.
pub(super) fn csrf_matches(fields: &Fields, session: &Session) -> bool {
    same(fields.text("csrf").as_bytes(), session.csrf.as_bytes())
}

/// Compares in time that depends only on the lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
