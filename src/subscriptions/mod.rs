//! What readers and admins do with lists and subscriptions, independent of HTTP or the CLI.
//! Each use case validates nothing (its inputs are domain types), runs its writes in one
//! transaction through `db`, and records any mail in the outbox inside that transaction.

mod confirm;
mod export;
mod import;
mod lists;
mod manage;
mod remind;
mod signup;

pub use confirm::{confirm, peek_confirm, ConfirmError, LinkState};
pub use export::{export, DEFAULT_PAGE_ROWS, EXPORT_HEADER};
pub use import::{
    import, ImportEvent, ImportReport, ImportRequest, TransferError, DEFAULT_CHUNK_ROWS,
};
pub use lists::{
    create_list, public_lists, seed_default_list, unsubscribe_view, ListInput, PublicLists,
};
pub use manage::{
    erase, preferences, unsubscribe, update_preferences, PreferenceList, Preferences,
};
pub use remind::{remind_pending, Reminded};
pub(crate) use signup::queue_transactional;
pub use signup::{signup, SignupOutcome, SignupRequest};

use crate::db::DbError;
use crate::domain::DomainError;

/// Why a use case could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    #[error("{0}")]
    Invalid(#[from] DomainError),
    #[error("choose at least one list")]
    NoList,
    #[error("unknown list")]
    UnknownList,
    #[error("a list with the slug {0:?} already exists")]
    SlugTaken(String),
    #[error("no such digest")]
    UnknownDigest,
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("could not prepare the mail: {0}")]
    Mail(String),
}

impl From<diesel::result::Error> for UseCaseError {
    fn from(e: diesel::result::Error) -> Self {
        UseCaseError::Db(DbError::Query(e))
    }
}
