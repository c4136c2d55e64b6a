use std::net::IpAddr;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::body::{self, Format};
use super::{message, page, request_lang, settle_lang, PublicError};
use crate::app::UseCaseError;
use crate::domain::{mask_email, DomainError, Lang, ListSlug, SubscriberEmail, SubscriberName};
use crate::ratelimit;
use crate::routes::errors::Rendered;
use crate::routes::AppState;
use crate::subscriptions::{self, SignupRequest};

/// What the form or JSON client sent, before validation: the shape is checked here, every
/// value by the domain type it becomes.
#[derive(Debug, Default, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
struct RawSignup {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    #[validate(length(min = 1))]
    lists: Vec<String>,
    #[serde(default)]
    lang: Option<String>,
    /// Honeypot: people never see it, bots fill it in.
    #[serde(default)]
    website: Option<String>,
}

impl RawSignup {
    fn from_form(pairs: Vec<(String, String)>) -> Self {
        let mut raw = RawSignup::default();
        for (k, v) in pairs {
            match k.as_str() {
                "email" => raw.email = v,
                "name" => raw.name = Some(v),
                "lists" | "list" => raw.lists.push(v),
                "lang" => raw.lang = Some(v),
                "website" => raw.website = Some(v),
                _ => {} // forms embedded in other sites may carry extra fields
            }
        }
        raw
    }

    fn parse(&self, source: &'static str, lang: Lang) -> Result<SignupRequest, PublicError> {
        if self.validate().is_err() {
            // The only shape rule: at least one list.
            return Err(PublicError::NoList);
        }
        let lists = self
            .lists
            .iter()
            .map(|s| ListSlug::parse(s.trim()))
            .collect::<Result<Vec<_>, DomainError>>()
            .map_err(|_| PublicError::UnknownList)?;
        Ok(SignupRequest {
            email: SubscriberEmail::parse(&self.email)?,
            name: SubscriberName::parse_optional(self.name.as_deref())?,
            lists,
            lang,
            source,
            include_private: false,
        })
    }
}

/// `GET /`: the signup form with the public lists.
pub async fn index(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, PublicError> {
    let lang = request_lang(&req);
    render_form(&state, &req, lang, &RawSignup::default(), None).await
}

async fn render_form(
    state: &AppState,
    req: &HttpRequest,
    lang: Lang,
    form: &RawSignup,
    error: Option<&str>,
) -> Result<HttpResponse, PublicError> {
    let lists = subscriptions::public_lists(state).await?;
    page(
        state,
        req,
        "index",
        lang,
        &minijinja::context! { lists => lists, form => form, error => error },
    )
}

/// `POST /subscribe`: an HTML form or JSON. The answer is the same whether the address is new,
/// pending or confirmed.
pub async fn subscribe(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PublicError> {
    let format = body::format(&req)?;
    let raw = match format {
        Format::Form => RawSignup::from_form(body::form_pairs(&body)?),
        Format::Json => body::json(&body)?,
    };
    let lang = match raw.lang.as_deref().filter(|l| !l.is_empty()) {
        Some(l) => Lang::parse(l)?,
        None => request_lang(&req),
    };
    settle_lang(&req, lang);
    if !state
        .ip_limiter
        .allow(client_ip(&req, state.settings.signup.proxies()))
    {
        return Err(PublicError::RateLimited);
    }
    if raw.website.as_deref().is_some_and(|w| !w.trim().is_empty()) {
        tracing::info!("honeypot field filled in; signup ignored");
        return accepted(&state, &req, lang, format);
    }
    let source = match format {
        Format::Form => "form",
        Format::Json => "api",
    };
    let outcome = match raw.parse(source, lang) {
        Ok(request) => {
            let to = mask_email(request.email.as_str());
            subscriptions::signup(&state, request)
                .await
                .inspect_err(|e| {
                    if !matches!(e, UseCaseError::UnknownList | UseCaseError::NoList) {
                        tracing::error!(%to, error = %e, "signup failed");
                    }
                })
                .map_err(PublicError::from)
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => accepted(&state, &req, lang, format),
        // A person at the form gets it back with their input and what to fix.
        Err(e @ (PublicError::Invalid(_) | PublicError::NoList | PublicError::UnknownList))
            if format == Format::Form =>
        {
            let msg = state.templates.t(lang, e.key()).to_owned();
            let mut res = render_form(&state, &req, lang, &raw, Some(&msg)).await?;
            *res.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
            res.extensions_mut().insert(Rendered);
            Ok(res)
        }
        Err(e) => Err(e),
    }
}

fn accepted(
    state: &AppState,
    req: &HttpRequest,
    lang: Lang,
    format: Format,
) -> Result<HttpResponse, PublicError> {
    match format {
        Format::Form => message(state, req, lang, "check_inbox_title", "check_inbox_message"),
        Format::Json => Ok(HttpResponse::Accepted().json(serde_json::json!({
            "status": "accepted",
            "message": state.templates.t(lang, "check_inbox_message"),
        }))),
    }
}

pub(crate) fn client_ip(req: &HttpRequest, proxies: u8) -> IpAddr {
    let forwarded_for = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    ratelimit::client_ip(req.peer_addr().map(|a| a.ip()), forwarded_for, proxies)
}
