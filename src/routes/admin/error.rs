//! What an admin page answers when it cannot do what was asked.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use crate::app::UseCaseError;
use crate::routes::errors::with_info;
use crate::staff::StaffError;
use crate::subscriptions::TransferError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Not signed in: to the sign-in page, which comes back to `next`.
    #[error("sign in first")]
    SignIn { next: String },
    #[error("this page is for admins")]
    Forbidden,
    #[error("the form has expired: reload the page and send it again")]
    Csrf,
    #[error("not found")]
    NotFound,
    #[error("{1}")]
    BadRequest(&'static str, String),
    /// The thing asked for cannot happen in its current state (a digest already sent...).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Staff(StaffError),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<StaffError> for AdminError {
    fn from(e: StaffError) -> Self {
        match e {
            StaffError::Db(e) => AdminError::Internal(e.into()),
            other => AdminError::Staff(other),
        }
    }
}

impl From<UseCaseError> for AdminError {
    fn from(e: UseCaseError) -> Self {
        match e {
            UseCaseError::UnknownList | UseCaseError::UnknownDigest | UseCaseError::NotFound(_) => {
                AdminError::NotFound
            }
            UseCaseError::Invalid(e) => AdminError::BadRequest(e.key(), e.to_string()),
            UseCaseError::Conflict(detail) => AdminError::Conflict(detail),
            other => AdminError::Internal(other.into()),
        }
    }
}

impl From<TransferError> for AdminError {
    fn from(e: TransferError) -> Self {
        match e {
            TransferError::UnknownList(_) => AdminError::NotFound,
            TransferError::Db(e) => AdminError::Internal(e.into()),
            other => AdminError::BadRequest("admin_error_csv", other.to_string()),
        }
    }
}

impl From<crate::db::DbError> for AdminError {
    fn from(e: crate::db::DbError) -> Self {
        AdminError::Internal(e.into())
    }
}

impl AdminError {
    fn key(&self) -> &'static str {
        match self {
            AdminError::SignIn { .. } => "admin_sign_in",
            AdminError::Forbidden => "admin_error_forbidden",
            AdminError::Csrf => "admin_error_csrf",
            AdminError::NotFound => "error_not_found",
            AdminError::BadRequest(key, _) => key,
            AdminError::Conflict(_) => "admin_error_conflict",
            AdminError::Staff(e) => e.key(),
            AdminError::Internal(_) => "error_internal",
        }
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::SignIn { .. } => StatusCode::SEE_OTHER,
            AdminError::Forbidden | AdminError::Csrf => StatusCode::FORBIDDEN,
            AdminError::NotFound => StatusCode::NOT_FOUND,
            AdminError::BadRequest(..) => StatusCode::BAD_REQUEST,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::Staff(StaffError::Throttled) => StatusCode::TOO_MANY_REQUESTS,
            AdminError::Staff(StaffError::InvalidLink | StaffError::UnknownAccount) => {
                StatusCode::NOT_FOUND
            }
            AdminError::Staff(StaffError::SetupDone) => StatusCode::GONE,
            AdminError::Staff(_) => StatusCode::BAD_REQUEST,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AdminError::SignIn { next } = self {
            let to = format!(
                "/admin/login?next={}",
                percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
            );
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to))
                .finish();
        }
        if let AdminError::Internal(e) = self {
            tracing::error!(error = ?e, "admin request failed");
        }
        // The translated message says it all, except for a bad request's specifics (which
        // field of an upload, which value).
        let detail = match self {
            AdminError::BadRequest(_, detail) | AdminError::Conflict(detail) => detail.clone(),
            _ => String::new(),
        };
        with_info(
            HttpResponse::build(self.status_code()).finish(),
            self.key(),
            detail,
        )
    }
}
