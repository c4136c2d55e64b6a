//! The editors' JSON API (`/api/...`), for a CMS or a script to push articles. Every request
//! carries `Authorization: Bearer <api_token>`; without a configured token the API is off.
//! Errors are JSON `{"error": "..."}` in English, for the developer wiring it up.

mod articles;

pub use articles::add_article;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::errors::Rendered;
use crate::app::UseCaseError;
use crate::routes::AppState;

/// The largest API body (an article with a long summary).
pub const MAX_API_BODY_BYTES: usize = 64 * 1024;

/// What went wrong with an API call.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the editor API is off: set api_token (ISCRIVITI_API_TOKEN) to turn it on")]
    Off,
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("send the body as application/json")]
    UnsupportedType,
    #[error("the body is larger than {MAX_API_BODY_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Invalid(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Off => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(e) = self {
            tracing::error!(error = ?e, "API request failed");
        }
        let mut res = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unauthorized) {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        let mut res = res.json(serde_json::json!({ "error": self.to_string() }));
        // The public error pages middleware leaves this response as it is.
        res.extensions_mut().insert(Rendered);
        res
    }
}

impl From<UseCaseError> for ApiError {
    fn from(e: UseCaseError) -> Self {
        match e {
            UseCaseError::Invalid(e) => ApiError::Invalid(e.to_string()),
            UseCaseError::UnknownList => ApiError::Invalid("no list with that slug".into()),
            other => ApiError::Internal(other.into()),
        }
    }
}

/// Checks the bearer token, comparing hashes so the time taken says nothing about the token.
fn authorize(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let expected = state.settings.api_token.as_ref().ok_or(ApiError::Off)?;
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    let (a, b) = (
        Sha256::digest(given.trim().as_bytes()),
        Sha256::digest(expected.expose().as_bytes()),
    );
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    if diff == 0 {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Reads the body, at most [`MAX_API_BODY_BYTES`]: called once the caller is authorized, so
/// nobody without the token makes the service read (and hold) a body.
async fn read_body(mut payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > MAX_API_BODY_BYTES {
            return Err(ApiError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Refuses any body that is not JSON.
fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = ct.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedType)
    }
}
