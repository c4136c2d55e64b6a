//! Articles pulled from RSS and Atom feeds, each feed bound to a list.
//!
//! [`fetch`] gets the document (timeouts, size cap, conditional GET), [`parse`] turns it into
//! validated [`ArticleDraft`](crate::domain::ArticleDraft)s with plain-text summaries
//! ([`text`]), and [`FeedPoller`] runs inside `serve`: it claims due feeds, polls them, stores
//! new articles (deduplicated by GUID) and backs off feeds that fail.

pub mod fetch;
pub mod page_meta;
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
        false => Err(UseCaseError::NotFound(format!("no feed with id {id}"))),
    }
}

/// A feed as the editor's page shows it.
#[derive(Debug, serde::Serialize)]
pub struct FeedView {
    pub id: i64,
    pub url: String,
    pub list_slug: String,
    pub interval_mins: i64,
    pub paused: bool,
    pub next_poll_at: chrono::NaiveDateTime,
    pub last_polled_at: Option<chrono::NaiveDateTime>,
    pub last_ok_at: Option<chrono::NaiveDateTime>,
    pub last_error: Option<String>,
    pub consecutive_failures: i32,
    /// Articles it brought that are still there.
    pub articles: i64,
}

/// Every feed with its list and the articles it brought.
pub async fn overview(pool: &Pool) -> Result<Vec<FeedView>, UseCaseError> {
    db::run(pool, |conn| {
        let gained: std::collections::HashMap<i64, i64> =
            feeds::articles_gained(conn)?.into_iter().collect();
        Ok(feeds::all(conn)?
            .into_iter()
            .map(|f| FeedView {
                id: f.feed.id,
                articles: gained.get(&f.feed.id).copied().unwrap_or(0),
                url: f.feed.url,
                list_slug: f.list_slug,
                interval_mins: f.feed.interval_secs / 60,
                paused: f.feed.paused,
                next_poll_at: f.feed.next_poll_at,
                last_polled_at: f.feed.last_polled_at,
                last_ok_at: f.feed.last_ok_at,
                last_error: f.feed.last_error,
                consecutive_failures: f.feed.consecutive_failures,
            })
            .collect())
    })
    .await
}

/// Changes a feed's address and interval.
pub async fn update(
    pool: &Pool,
    id: i64,
    url: FeedUrl,
    interval: FeedInterval,
) -> Result<(), UseCaseError> {
    let now = Utc::now().naive_utc();
    let changed = db::write(pool, move |conn| {
        feeds::update(conn, id, url.as_str(), interval.secs(), now).map_err(|e| {
            match db::is_unique_violation(&e) {
                true => UseCaseError::Conflict("the list already has this feed".into()),
                false => e.into(),
            }
        })
    })
    .await?;
    changed
        .then_some(())
        .ok_or_else(|| UseCaseError::NotFound(format!("no feed with id {id}")))
}

/// Pauses a feed (it is not polled) or resumes it (due at once).
pub async fn set_paused(pool: &Pool, id: i64, paused: bool) -> Result<(), UseCaseError> {
    let now = Utc::now().naive_utc();
    let changed = db::write(pool, move |conn| {
        Ok::<_, UseCaseError>(feeds::set_paused(conn, id, paused, now)?)
    })
    .await?;
    changed
        .then_some(())
        .ok_or_else(|| UseCaseError::NotFound(format!("no feed with id {id}")))
}

/// Polls one feed now, whatever its schedule, with the same limits as the poller.
pub async fn fetch_now(ctx: &crate::app::AppContext, id: i64) -> Result<Polled, UseCaseError> {
    let settings = &ctx.settings;
    let poller = FeedPoller::new(
        ctx.pool.clone(),
        &settings.feeds,
        crate::outbound::Policy::new(settings.outbound.allow.clone()),
        settings.base_url.as_str(),
    )
    .map_err(|e| UseCaseError::Conflict(format!("the feed client could not start: {e}")))?;
    poller
        .poll_now(id)
        .await?
        .ok_or_else(|| UseCaseError::NotFound(format!("no feed with id {id}")))
}

/// What the page at `url` says about itself (title, summary, image), fetched with the feeds'
/// limits (timeouts, size, no internal addresses).
pub async fn describe_page(
    ctx: &crate::app::AppContext,
    url: &url::Url,
) -> Result<page_meta::PageMeta, fetch::FetchError> {
    let settings = &ctx.settings;
    let fetcher = fetch::Fetcher::new(
        &settings.feeds,
        crate::outbound::Policy::new(settings.outbound.allow.clone()),
        settings.base_url.as_str(),
    )
    .map_err(|e| fetch::FetchError::Transport(e.to_string()))?;
    match fetcher.fetch(url.as_str(), &Default::default()).await? {
        fetch::Fetched::Document { body, url: at, .. } => {
            let at = url::Url::parse(&at).unwrap_or_else(|_| url.clone());
            Ok(page_meta::extract(&String::from_utf8_lossy(&body), &at))
        }
        fetch::Fetched::NotModified => Ok(page_meta::PageMeta::default()),
    }
}
