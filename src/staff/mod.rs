//! Staff: the people who run the service from its admin pages and its command line. Their
//! accounts and roles, sign-in sessions, the one-time links that set a password (the first
//! admin's set-up link among them), and the audit trail. Like every use case these take the
//! application context and know nothing of HTTP.

mod accounts;
mod audit;
mod links;
mod password;
mod sessions;

pub use accounts::{
    change_own_password, create, member, members, reset_password, set_disabled, set_language,
    set_role, NewMember,
};
pub use audit::{record, record_on, trail, trail_choices, Actor, TrailFilter};
pub use links::{
    check_link, complete_setup, password_link, set_password_with_link, setup_link, StaffLink,
};
pub use sessions::{login, logout, resolve, Session, SignedIn};

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::db::staff::StaffUser;
use crate::db::DbError;
use crate::domain::{DomainError, Lang, Role};

/// A staff account as the pages and commands show it (never its password hash).
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub language: Lang,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
}

impl From<StaffUser> for Member {
    fn from(u: StaffUser) -> Self {
        Self {
            id: u.id,
            email: u.email,
            role: u.role,
            language: Lang::parse(&u.language).unwrap_or_default(),
            disabled: u.disabled,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        }
    }
}

impl Member {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Why a staff use case refused.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("{0}")]
    Invalid(#[from] DomainError),
    #[error("a staff account with this address exists already")]
    EmailTaken,
    #[error("no staff account with this address")]
    UnknownAccount,
    #[error("the address or the password is not right")]
    BadCredentials,
    #[error("too many failed sign-ins: try again in a quarter of an hour")]
    Throttled,
    #[error("the current password is not right")]
    WrongPassword,
    #[error("this link is not valid, was used already or has expired")]
    InvalidLink,
    #[error("set-up is done already: an admin account exists, sign in")]
    SetupDone,
    #[error("the last enabled admin cannot be disabled or made an editor")]
    LastAdmin,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for StaffError {
    fn from(e: diesel::result::Error) -> Self {
        StaffError::Db(DbError::Query(e))
    }
}

impl StaffError {
    /// The message catalogue key pages show it with.
    pub fn key(&self) -> &'static str {
        match self {
            StaffError::Invalid(e) => e.key(),
            StaffError::EmailTaken => "staff_error_email_taken",
            StaffError::UnknownAccount => "staff_error_unknown_account",
            StaffError::BadCredentials => "staff_error_credentials",
            StaffError::Throttled => "staff_error_throttled",
            StaffError::WrongPassword => "staff_error_wrong_password",
            StaffError::InvalidLink => "staff_error_link",
            StaffError::SetupDone => "staff_error_setup_done",
            StaffError::LastAdmin => "staff_error_last_admin",
            StaffError::Db(_) => "error_internal",
        }
    }
}
