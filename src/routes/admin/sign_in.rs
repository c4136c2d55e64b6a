//! Signing in and out, the one-time links (the first admin's set-up, choosing a password), and
//! the staff member's own account: password and language.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::access::{session_cookie, Posted, Staff, SESSION_COOKIE};
use super::fields::{FieldErrors, Fields};
use super::page::{render_status, render_visitor, see_other};
use super::AdminError;
use crate::domain::{DomainError, Lang, Password, SubscriberEmail, Token};
use crate::ratelimit::ClientKey;
use crate::routes::public::{client_ip, settle_lang};
use crate::routes::AppState;
use crate::staff::{self, Session, StaffError, StaffLink};

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Where to go after signing in: a page of the admin, never another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/admin") && !n.contains("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/admin".to_owned(),
    }
}

/// `GET /admin/login`.
pub async fn login_page(req: HttpRequest, q: web::Query<Next>) -> Result<HttpResponse, AdminError> {
    let next = safe_next(q.next.as_deref());
    render_visitor(&req, StatusCode::OK, "login", minijinja::context! { next })
}

/// `POST /admin/login`: a new session (any the browser had ends), or the form again.
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check_visitor(&req)?;
    if let Ok(lang) = Lang::parse(f.text("lang")) {
        settle_lang(&req, lang);
    }
    let client = ClientKey::from(client_ip(&req, state.settings.signup.proxies()));
    let replacing = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let next = safe_next(Some(f.text("next")));
    match staff::login(
        &state,
        f.text("email"),
        f.text("password").to_owned(),
        client,
        replacing.as_deref(),
    )
    .await
    {
        Ok(signed) => signed_in(&state, &next, &signed.cookie),
        Err(e @ (StaffError::BadCredentials | StaffError::Throttled)) => {
            let status = match e {
                StaffError::Throttled => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            let ctx = minijinja::context! { next, error => e.key(), form => f.typed() };
            render_visitor(&req, status, "login", ctx)
        }
        Err(e) => Err(e.into()),
    }
}

/// To `next`, with the new session's cookie.
fn signed_in(state: &AppState, next: &str, cookie: &Token) -> Result<HttpResponse, AdminError> {
    let mut res = see_other(next);
    res.add_cookie(&session_cookie(state, Some(cookie.expose())))
        .map_err(|e| AdminError::Internal(e.into()))?;
    Ok(res)
}

/// `POST /admin/logout`: the session ends on the server, the cookie is cleared.
pub async fn logout(
    state: web::Data<AppState>,
    Staff(session): Staff,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    posted.check(&session)?;
    staff::logout(&state, &session).await?;
    let mut res = see_other("/admin/login");
    res.add_cookie(&session_cookie(&state, None))
        .map_err(|e| AdminError::Internal(e.into()))?;
    Ok(res)
}

fn link_token(raw: &str) -> Result<Token, AdminError> {
    Token::parse(raw).map_err(|_| AdminError::Staff(StaffError::InvalidLink))
}

/// `GET /admin/link/{token}`: the first admin's form, or the form to choose a password.
pub async fn link_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let link = staff::check_link(&state, &link_token(&token)?).await?;
    render_link(&req, &link, StatusCode::OK, &FieldErrors::default(), None)
}

fn render_link(
    req: &HttpRequest,
    link: &StaffLink,
    status: StatusCode,
    errors: &FieldErrors,
    form: Option<&Fields>,
) -> Result<HttpResponse, AdminError> {
    let (setup, email) = match link {
        StaffLink::Setup => (true, None),
        StaffLink::Password(member) => (false, Some(member.email.as_str())),
    };
    let ctx = minijinja::context! {
        setup,
        email,
        errors,
        form => form.map(Fields::typed),
        min_chars => Password::MIN_CHARS,
    };
    render_visitor(req, status, "link", ctx)
}

/// `POST /admin/link/{token}`: creates the first admin or sets the password, then signs in.
pub async fn use_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let token = link_token(&token)?;
    let f = posted.check_visitor(&req)?;
    let link = staff::check_link(&state, &token).await?;
    let mut errors = FieldErrors::default();
    let email = match &link {
        StaffLink::Setup => errors.check("email", SubscriberEmail::parse(f.text("email"))),
        StaffLink::Password(member) => SubscriberEmail::parse(&member.email).ok(),
    };
    let lang = Lang::parse(f.text("language"))
        .unwrap_or_else(|_| crate::routes::public::request_lang(&req));
    let password = new_password(&f, &mut errors);
    let (Some(email), Some(password), true) = (email, password, errors.is_empty()) else {
        return render_link(&req, &link, StatusCode::BAD_REQUEST, &errors, Some(&f));
    };
    let done = match link {
        StaffLink::Setup => {
            staff::complete_setup(&state, &token, email.clone(), password.clone(), lang).await
        }
        StaffLink::Password(_) => {
            staff::set_password_with_link(&state, &token, password.clone()).await
        }
    };
    match done {
        Ok(_) => {}
        Err(StaffError::EmailTaken) => {
            errors.add("email", StaffError::EmailTaken.key());
            return render_link(&req, &link, StatusCode::BAD_REQUEST, &errors, Some(&f));
        }
        Err(e) => return Err(e.into()),
    }
    let client = ClientKey::from(client_ip(&req, state.settings.signup.proxies()));
    let replacing = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let signed = staff::login(
        &state,
        email.as_str(),
        password.expose().to_owned(),
        client,
        replacing.as_deref(),
    )
    .await?;
    signed_in(&state, "/admin", &signed.cookie)
}

/// The new password of a form (`password`, repeated in `password_again`).
fn new_password(f: &Fields, errors: &mut FieldErrors) -> Option<Password> {
    let password = errors.check("password", Password::parse(f.text("password")))?;
    if f.text("password_again") != password.expose() {
        errors.add("password_again", "admin_error_password_mismatch");
        return None;
    }
    Some(password)
}

/// `GET /admin/account`: the staff member's own account.
pub async fn account_page(
    req: HttpRequest,
    Staff(session): Staff,
) -> Result<HttpResponse, AdminError> {
    let saved = req.query_string().contains("saved");
    account(
        &req,
        &session,
        StatusCode::OK,
        &FieldErrors::default(),
        saved,
    )
}

fn account(
    req: &HttpRequest,
    session: &Session,
    status: StatusCode,
    errors: &FieldErrors,
    saved: bool,
) -> Result<HttpResponse, AdminError> {
    let ctx = minijinja::context! {
        member => &session.member,
        errors,
        saved,
        min_chars => Password::MIN_CHARS,
        languages => Lang::ALL.iter().map(|l| (l.code(), l.name())).collect::<Vec<_>>(),
    };
    render_status(req, session, status, "account", ctx)
}

/// `POST /admin/account/password`: a new password, given the current one.
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let mut errors = FieldErrors::default();
    let Some(password) = new_password(&f, &mut errors) else {
        return account(&req, &session, StatusCode::BAD_REQUEST, &errors, false);
    };
    match staff::change_own_password(&state, &session, f.text("current").to_owned(), password).await
    {
        Ok(()) => Ok(see_other("/admin/account?saved")),
        Err(StaffError::WrongPassword) => {
            errors.add("current", StaffError::WrongPassword.key());
            account(&req, &session, StatusCode::BAD_REQUEST, &errors, false)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/account/language`: the language of the staff member's pages, kept on their
/// account; back to the page they were on.
pub async fn change_language(
    state: web::Data<AppState>,
    Staff(session): Staff,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let lang = Lang::parse(f.text("language"))
        .map_err(|e: DomainError| AdminError::BadRequest(e.key(), e.to_string()))?;
    staff::set_language(&state, session.member.id, lang).await?;
    Ok(see_other(&safe_next(Some(f.text("back")))))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn sign_in_goes_back_only_to_admin_pages() {
        assert_eq!(safe_next(Some("/admin/lists?x=1")), "/admin/lists?x=1");
        for bad in [
            "https://evil.example/admin",
            "//evil.example",
            "/admin//evil",
            "/",
            "/admin\\x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/admin", "{bad}");
        }
        assert_eq!(safe_next(None), "/admin");
    }
}
