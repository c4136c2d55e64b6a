//! One error type for the public handlers, and the middleware that turns every 4xx/5xx
//! (ours, or actix's own such as 404 and 413) into a page or JSON in the reader's language.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::public::{request_lang, wants_json};
use crate::app::UseCaseError;
use crate::domain::DomainError;
use crate::routes::AppState;
use crate::subscriptions::ConfirmError;

/// What went wrong, from the reader's point of view.
#[derive(Debug, thiserror::Error)]
pub enum PublicError {
    #[error("{0}")]
    Invalid(#[from] DomainError),
    #[error("choose at least one list")]
    NoList,
    #[error("one of the chosen lists does not exist")]
    UnknownList,
    #[error("the link is not valid")]
    InvalidLink,
    #[error("the link has expired")]
    Expired,
    #[error("the preferences link has expired: ask for a new one")]
    PreferencesExpired,
    #[error("too many requests")]
    RateLimited,
    #[error(
        "unsupported content type: send application/x-www-form-urlencoded or application/json"
    )]
    UnsupportedType,
    #[error("the request is not valid: {0}")]
    BadRequest(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// Left in the response extensions for the error middleware.
#[derive(Debug, Clone)]
struct ErrorInfo {
    key: &'static str,
    detail: String,
}

/// Marks an error response a handler rendered completely itself (e.g. the form with its
/// error and the reader's input), which the middleware leaves alone.
#[derive(Debug, Clone, Copy)]
pub struct Rendered;

/// Leaves what the error page should say in a response.
pub(crate) fn with_info(mut res: HttpResponse, key: &'static str, detail: String) -> HttpResponse {
    res.extensions_mut().insert(ErrorInfo { key, detail });
    res
}

impl PublicError {
    pub(crate) fn key(&self) -> &'static str {
        match self {
            PublicError::Invalid(e) => e.key(),
            PublicError::NoList => "error_no_list",
            PublicError::UnknownList => "error_unknown_list",
            PublicError::InvalidLink => "error_invalid_link",
            PublicError::Expired => "error_expired_link",
            PublicError::PreferencesExpired => "error_preferences_expired",
            PublicError::RateLimited => "error_rate_limited",
            PublicError::UnsupportedType => "error_unsupported_type",
            PublicError::BadRequest(_) => "error_bad_request",
            PublicError::Internal(_) => "error_internal",
        }
    }
}

impl ResponseError for PublicError {
    fn status_code(&self) -> StatusCode {
        match self {
            PublicError::Invalid(_)
            | PublicError::NoList
            | PublicError::UnknownList
            | PublicError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PublicError::InvalidLink => StatusCode::NOT_FOUND,
            PublicError::Expired | PublicError::PreferencesExpired => StatusCode::GONE,
            PublicError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            PublicError::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PublicError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let PublicError::Internal(e) = self {
            tracing::error!(error = ?e, "request failed");
        }
        let mut res = HttpResponse::build(self.status_code());
        if matches!(self, PublicError::RateLimited) {
            res.insert_header((header::RETRY_AFTER, "60"));
        }
        let detail = match self {
            PublicError::Internal(_) => String::new(),
            other => other.to_string(),
        };
        with_info(res.finish(), self.key(), detail)
    }
}

impl From<UseCaseError> for PublicError {
    fn from(e: UseCaseError) -> Self {
        match e {
            UseCaseError::Invalid(e) => PublicError::Invalid(e),
            UseCaseError::NoList => PublicError::NoList,
            UseCaseError::UnknownList => PublicError::UnknownList,
            other => PublicError::Internal(other.into()),
        }
    }
}

impl From<ConfirmError> for PublicError {
    fn from(e: ConfirmError) -> Self {
        match e {
            ConfirmError::Expired => PublicError::Expired,
            ConfirmError::Unknown => PublicError::InvalidLink,
            ConfirmError::Other(e) => e.into(),
        }
    }
}

/// The middleware that renders error responses.
pub fn error_pages<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(render)
}

fn render<B: 'static>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    if res.response().extensions().get::<Rendered>().is_some() {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let info = res
        .response()
        .extensions()
        .get::<ErrorInfo>()
        .cloned()
        .unwrap_or_else(|| ErrorInfo {
            key: match status {
                StatusCode::NOT_FOUND => "error_not_found",
                StatusCode::METHOD_NOT_ALLOWED => "error_method",
                StatusCode::PAYLOAD_TOO_LARGE => "error_too_large",
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "error_unsupported_type",
                s if s.is_server_error() => "error_internal",
                _ => "error_bad_request",
            },
            detail: String::new(),
        });
    let (req, old) = res.into_parts();
    let body = build(&req, status, &info);
    let mut new = body;
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body::<B>(),
    ))
}

fn build(req: &HttpRequest, status: StatusCode, info: &ErrorInfo) -> HttpResponse<BoxBody> {
    let lang = request_lang(req);
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return HttpResponse::build(status).body(info.detail.clone());
    };
    let message = state.templates.t(lang, info.key);
    if req.path().starts_with("/admin") {
        let page = state.templates.admin(
            "message",
            lang,
            &minijinja::context! {
                title => state.templates.t(lang, "error_title"),
                message => message,
                detail => (info.detail != message).then_some(&info.detail),
                is_error => true,
            },
        );
        return respond(status, page, message);
    }
    if wants_json(req) {
        let code = info.key.trim_start_matches("error_");
        return HttpResponse::build(status).json(serde_json::json!({
            "error": { "code": code, "message": message, "detail": info.detail },
        }));
    }
    let page = state.templates.page(
        "message",
        lang,
        &minijinja::context! {
            title => state.templates.t(lang, "error_title"),
            message => message,
            is_error => true,
            manage => info.key == "error_preferences_expired",
            back => status != StatusCode::INTERNAL_SERVER_ERROR,
        },
    );
    respond(status, page, message)
}

fn respond(
    status: StatusCode,
    page: Result<String, crate::templates::TemplateError>,
    message: &str,
) -> HttpResponse<BoxBody> {
    match page {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "could not render the error page");
            HttpResponse::build(status).body(message.to_owned())
        }
    }
}
