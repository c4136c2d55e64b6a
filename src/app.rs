//! The application context: what every use case (`subscriptions`, `digests`, `feeds`, the
//! delivery engine) works with, whichever door it was called through. The HTTP state
//! (`routes::AppState`) wraps it and the command line builds it (`startup`); nothing here
//! knows either.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::config::Settings;
use crate::db::{self, lists, DbError, Pool};
use crate::domain::{DomainError, SuppressionKey};
use crate::links::Links;
use crate::mail::MailOptions;
use crate::templates::Templates;

/// The context a use case takes; cheap to clone.
#[derive(Clone)]
pub struct AppContext {
    pub pool: Pool,
    pub templates: Arc<Templates>,
    pub links: Links,
    /// DKIM and List-Unsubscribe options for every message.
    pub mail: MailOptions,
    pub settings: Arc<Settings>,
    /// Wakes the outbox worker of this process when a use case has just recorded mail.
    pub outbox_wake: Arc<Notify>,
    /// Log confirmation links (only with the local-files transport, where no mail leaves).
    pub log_links: bool,
    /// A short-lived copy of the public lists, read by every signup.
    pub public_lists: Arc<PublicLists>,
    /// What erased readers' addresses are kept as.
    pub suppression: SuppressionKey,
}

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
    /// No such article or feed (named by the message).
    #[error("{0}")]
    NotFound(String),
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

/// The public, active lists, read at most once per [`PublicLists::MAX_AGE`] by each instance:
/// every signup needs them, and they change rarely. A slug missing from the copy makes the
/// caller read again, so a new list is usable at once; an archived one may still be accepted
/// for that long.
#[derive(Default)]
pub struct PublicLists {
    cached: Mutex<Option<(Instant, Arc<[lists::List]>)>>,
}

impl PublicLists {
    pub const MAX_AGE: Duration = Duration::from_secs(2);

    /// The lists, from the copy unless it is older than `MAX_AGE` or `fresh` is asked for.
    pub async fn get(&self, pool: &Pool, fresh: bool) -> Result<Arc<[lists::List]>, DbError> {
        if !fresh {
            if let Some((at, lists)) = &*self.cached.lock().expect("lists cache lock") {
                if at.elapsed() < Self::MAX_AGE {
                    return Ok(lists.clone());
                }
            }
        }
        let lists: Arc<[lists::List]> =
            db::run(pool, |conn| Ok::<_, DbError>(lists::public_active(conn)?))
                .await?
                .into();
        *self.cached.lock().expect("lists cache lock") = Some((Instant::now(), lists.clone()));
        Ok(lists)
    }
}
