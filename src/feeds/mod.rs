//! Articles pulled from RSS and Atom feeds, each feed bound to a list.
//!
//! [`fetch`] gets the document (timeouts, size cap, conditional GET), [`parse`] turns it into
//! validated [`ArticleDraft`](crate::domain::ArticleDraft)s with plain-text summaries
//! ([`text`]), and [`FeedPoller`] runs inside `serve`: it claims due feeds, polls them, stores
//! new articles (deduplicated by GUID) and backs off feeds that fail.

pub mod fetch;
pub mod parse;
mod poller;
pub mod text;

pub use poller::{FeedPoller, PollOk, Polled};

use chrono::Utc;

use crate::app::UseCaseError;
use crate::db::{self, feeds, lists, Pool};
use crate::domain::{FeedInterval, FeedUrl, ListSlug};

/// Binds a feed to a list; it is due at once.
pub async fn add(
    pool: &Pool,
    url: FeedUrl,
    list: ListSlug,
    interval: FeedInterval,
) -> Result<feeds::Feed, UseCaseError> {
    db::write(pool, move |conn| {
        let list = lists::by_slug(conn, list.as_str())?.ok_or(UseCaseError::UnknownList)?;
        let now = Utc::now().naive_utc();
        let new = feeds::NewFeed {
            list_id: list.id,
            url: url.as_str(),
            interval_secs: interval.secs(),
            next_poll_at: now,
            created_at: now,
        };
        feeds::insert(conn, &new).map_err(|e| match db::is_unique_violation(&e) {
            true => UseCaseError::Conflict(format!("the list {} already has this feed", list.slug)),
            false => e.into(),
        })
    })
    .await
}

/// Every feed with its list.
pub async fn all(pool: &Pool) -> Result<Vec<feeds::ListFeed>, UseCaseError> {
    db::run(pool, |conn| Ok(feeds::all(conn)?)).await
}

/// Removes a feed; the articles it brought stay.
pub async fn remove(pool: &Pool, id: i64) -> Result<(), UseCaseError> {
    match db::write(pool, move |conn| {
        Ok::<_, UseCaseError>(feeds::delete(conn, id)?)
    })
    .await?
    {
        true => Ok(()),
        false => Err(UseCaseError::Conflict(format!("no feed with id {id}"))),
    }
}
