//! The feed poller: claim due feeds (the lease is committed), fetch each with no transaction
//! open, then store its new articles and the outcome in one write transaction. A broken feed
//! is logged, recorded and backed off; the other feeds of the pass are not disturbed.

use std::sync::Arc;

use chrono::{NaiveDateTime, Utc};
use tokio::sync::watch;

use super::fetch::{Fetched, Fetcher};
use super::parse;
use crate::config::FeedSettings;
use crate::db::articles::NewArticle;
use crate::db::feeds::{self, ListFeed, Validators};
use crate::db::{self, DbError, Pool};
use crate::domain::Lang;
use crate::outbound::Policy;

/// The longest back-off after failures (unless the feed's own interval is longer).
const MAX_BACKOFF_SECS: i64 = 24 * 3600;

/// How one poll of one feed went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polled {
    pub feed_id: i64,
    pub outcome: Result<PollOk, String>,
}

/// A good poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollOk {
    /// Articles stored by this poll (entries already known are not counted).
    pub new_articles: usize,
    /// Entries that were not valid articles.
    pub skipped: usize,
    /// The server answered 304.
    pub not_modified: bool,
}

/// One poller per instance; cheap to clone.
#[derive(Clone)]
pub struct FeedPoller {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    fetcher: Fetcher,
    settings: FeedSettings,
}

impl FeedPoller {
    /// `contact` is the service's public URL, sent in the User-Agent.
    pub fn new(
        pool: Pool,
        settings: &FeedSettings,
        outbound: Policy,
        contact: &str,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                fetcher: Fetcher::new(settings, outbound, contact)?,
                settings: settings.clone(),
            }),
        })
    }

    /// Polls due feeds until `shutdown` turns true. A pass cut short by shutdown leaves its
    /// feeds leased; they are due again when the lease runs out.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let every = self.inner.settings.check_every_secs.get();
        tracing::info!("feed poller started");
        while !*shutdown.borrow() {
            let busy = tokio::select! {
                polled = self.poll_due() => match polled {
                    Ok(polled) => !polled.is_empty(),
                    Err(e) => {
                        tracing::error!(error = %e, "feed pass failed; retrying later");
                        false
                    }
                },
                _ = shutdown.changed() => break,
            };
            if !busy {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        tracing::info!("feed poller stopped");
    }

    /// Polls every feed that is due now, in passes, then returns (tests, one-shot runs).
    pub async fn drain(&self) -> Result<Vec<Polled>, DbError> {
        let mut all = Vec::new();
        loop {
            let polled = self.poll_due().await?;
            if polled.is_empty() {
                return Ok(all);
            }
            all.extend(polled);
        }
    }

    /// Polls one feed now, due or not; None if there is no such feed.
    pub async fn poll_now(&self, id: i64) -> Result<Option<Polled>, DbError> {
        let lease_until = Utc::now().naive_utc() + self.lease();
        let claimed = db::write(&self.inner.pool, move |conn| {
            Ok::<_, DbError>(feeds::claim_one(conn, id, lease_until)?)
        })
        .await?;
        match claimed {
            Some(feed) => Ok(Some(self.poll(feed).await?)),
            None => Ok(None),
        }
    }

    /// Claims a batch of due feeds and polls them concurrently.
    async fn poll_due(&self) -> Result<Vec<Polled>, DbError> {
        let limit = self.inner.settings.concurrency.get() as i64;
        let lease = self.lease();
        let claimed = db::write(&self.inner.pool, move |conn| {
            let now = Utc::now().naive_utc();
            Ok::<_, DbError>(feeds::claim_due(conn, now, now + lease, limit)?)
        })
        .await?;
        let results =
            futures_util::future::join_all(claimed.into_iter().map(|f| self.poll(f))).await;
        let mut polled = Vec::with_capacity(results.len());
        for r in results {
            match r {
                Ok(p) => polled.push(p),
                // The lease runs out and the feed is polled again.
                Err(e) => tracing::error!(error = %e, "recording a feed poll failed"),
            }
        }
        Ok(polled)
    }

    /// Long enough for a fetch at its slowest, so no other instance takes the feed meanwhile.
    fn lease(&self) -> chrono::Duration {
        let s = &self.inner.settings;
        (s.connect_timeout_secs.chrono() + s.timeout_secs.chrono()) * 2
            + chrono::Duration::seconds(60)
    }

    async fn poll(&self, claimed: ListFeed) -> Result<Polled, DbError> {
        let ListFeed {
            feed,
            list_slug,
            list_language,
        } = claimed;
        let known = Validators {
            etag: feed.etag.clone(),
            last_modified: feed.last_modified.clone(),
        };
        let fallback = Lang::parse(&list_language).unwrap_or_default();
        let fetched = self.inner.fetcher.fetch(&feed.url, &known).await;
        let now = Utc::now().naive_utc();
        let document = match fetched {
            Ok(Fetched::NotModified) => None,
            Ok(Fetched::Document {
                body,
                url,
                validators,
            }) => {
                let scope = feed.url.clone();
                // Parsing a few MiB is CPU work: keep it off the async threads.
                let parsed = tokio::task::spawn_blocking(move || {
                    parse::parse(&body, &url, &scope, fallback, now)
                })
                .await
                .map_err(|_| DbError::Cancelled)?;
                match parsed {
                    Ok(p) => Some((p, validators)),
                    Err(e) => return self.failed(&feed, &list_slug, now, e.to_string()).await,
                }
            }
            Err(e) => return self.failed(&feed, &list_slug, now, e.to_string()).await,
        };
        let (drafts, validators, skipped) = match document {
            Some((parsed, validators)) => {
                for (position, reason) in &parsed.skipped {
                    tracing::warn!(feed = feed.id, entry = position, %reason, "feed entry skipped");
                }
                (parsed.drafts, Some(validators), parsed.skipped.len())
            }
            None => (Vec::new(), None, 0),
        };
        let not_modified = validators.is_none();
        let next = now + chrono::Duration::seconds(feed.interval_secs);
        let (id, list_id) = (feed.id, feed.list_id);
        let new_articles = db::write(&self.inner.pool, move |conn| {
            let rows: Vec<NewArticle<'_>> = drafts
                .iter()
                .map(|d| NewArticle {
                    feed_id: Some(id),
                    ..NewArticle::from_draft(d, Some(list_id))
                })
                .collect();
            Ok::<_, DbError>(feeds::record_success(
                conn,
                id,
                now,
                next,
                validators.as_ref(),
                &rows,
            )?)
        })
        .await?;
        if new_articles > 0 {
            tracing::info!(feed = id, list = %list_slug, new_articles, skipped, "feed polled");
        } else {
            tracing::debug!(feed = id, list = %list_slug, not_modified, "feed polled: nothing new");
        }
        Ok(Polled {
            feed_id: id,
            outcome: Ok(PollOk {
                new_articles,
                skipped,
                not_modified,
            }),
        })
    }

    async fn failed(
        &self,
        feed: &feeds::Feed,
        list_slug: &str,
        now: NaiveDateTime,
        error: String,
    ) -> Result<Polled, DbError> {
        let failures = feed.consecutive_failures.saturating_add(1);
        let next = now + backoff(feed.interval_secs, failures);
        // The host, not the URL: a private feed's URL may carry an access token.
        let host = url::Url::parse(&feed.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        tracing::warn!(
            feed = feed.id,
            list = %list_slug,
            %host,
            failures,
            next_poll = %next.format("%Y-%m-%d %H:%M:%S"),
            %error,
            "feed poll failed; backing off"
        );
        let (id, message) = (feed.id, error.clone());
        db::write(&self.inner.pool, move |conn| {
            Ok::<_, DbError>(feeds::record_failure(conn, id, now, next, &message)?)
        })
        .await?;
        Ok(Polled {
            feed_id: feed.id,
            outcome: Err(error),
        })
    }
}

/// interval × 2^failures, at most a day (or the interval itself, if longer).
fn backoff(interval_secs: i64, failures: i32) -> chrono::Duration {
    let cap = MAX_BACKOFF_SECS.max(interval_secs);
    let factor = 1_i64 << failures.clamp(0, 20);
    chrono::Duration::seconds(interval_secs.saturating_mul(factor).min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_per_failure_up_to_a_day() {
        let secs = |f| backoff(1800, f).num_seconds();
        assert_eq!(secs(1), 3600);
        assert_eq!(secs(3), 14_400);
        assert_eq!(secs(6), 86_400);
        assert_eq!(secs(40), 86_400);
        assert_eq!(backoff(3 * 86_400, 2).num_seconds(), 3 * 86_400);
    }
}
