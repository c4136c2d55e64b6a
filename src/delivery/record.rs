//! Recording a batch's outcomes. Outcomes are written as they come, at most
//! [`FLUSH_EVERY`] after the relay accepted a message (plus one database write), not only when
//! the whole batch is done: what a crash sends twice is what the relay accepted in that short
//! window, however slow the batch. The last write closes the batch's lease.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};

use super::core::{Core, Sent};
use super::outcome::{backoff, Outcome};
use crate::db::{self, deliveries, ranges, DbConnection, DbError};

/// How long an outcome may wait in memory before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// A batch's lease and what was recorded of it so far.
pub(super) struct Ledger {
    /// The range the batch was leased as, or None when its deliveries were leased one by one.
    range: Option<i64>,
    /// Deliveries given back unsent (shutdown, pause), released with the last write.
    released: Vec<i64>,
    done: Sent,
}

impl Ledger {
    pub fn new(range: Option<i64>) -> Self {
        Self {
            range,
            released: Vec::new(),
            done: Sent::default(),
        }
    }

    /// Writes the outcomes known so far; the lease stays.
    pub async fn flush(
        &mut self,
        inner: &Core,
        outcomes: Vec<(deliveries::ClaimedDelivery, Outcome)>,
    ) -> Result<(), DbError> {
        let batch = self.tally(inner, outcomes);
        if batch.is_empty() {
            return Ok(());
        }
        let (range, suffix, retry) = (self.range, inner.id_suffix.clone(), inner.retry.clone());
        db::write(&inner.pool, move |conn| {
            write(conn, range, &batch, &suffix, &retry, Utc::now().naive_utc())
        })
        .await
    }

    /// Writes the last outcomes and ends the lease: a range with deliveries left untried is
    /// handed on (at once when some were released), deliveries leased one by one and released
    /// are due again at once.
    pub async fn finish(
        mut self,
        inner: &Core,
        outcomes: Vec<(deliveries::ClaimedDelivery, Outcome)>,
    ) -> Result<Sent, DbError> {
        let batch = self.tally(inner, outcomes);
        let (range, suffix, retry) = (self.range, inner.id_suffix.clone(), inner.retry.clone());
        let (owner, released) = (inner.instance.owner().to_owned(), self.released);
        db::write(&inner.pool, move |conn| {
            let now = Utc::now().naive_utc();
            write(conn, range, &batch, &suffix, &retry, now)?;
            match range {
                // Released deliveries of a range stay untried; the range goes to another
                // instance at once.
                Some(range) => ranges::close(conn, range, &owner, now, !released.is_empty())?,
                None => {
                    deliveries::release(conn, &owner, &released, now)?;
                }
            }
            Ok::<_, DbError>(())
        })
        .await?;
        Ok(self.done)
    }

    /// Counts the outcomes, turns retries out of attempts into failures, and keeps the
    /// released deliveries for the last write.
    fn tally(
        &mut self,
        inner: &Core,
        outcomes: Vec<(deliveries::ClaimedDelivery, Outcome)>,
    ) -> Vec<(deliveries::ClaimedDelivery, Outcome)> {
        let mut batch = Vec::with_capacity(outcomes.len());
        for (d, outcome) in outcomes {
            let outcome = outcome.give_up_after(d.attempts, &inner.retry);
            match &outcome {
                Outcome::Released => {
                    self.released.push(d.id);
                    continue;
                }
                Outcome::Sent => self.done.sent += 1,
                Outcome::Skipped => self.done.skipped += 1,
                Outcome::Retry(_) => self.done.retrying += 1,
                Outcome::Failed(reason) => {
                    self.done.failed += 1;
                    tracing::warn!(delivery_id = d.id, %reason, "digest delivery failed");
                }
            }
            batch.push((d, outcome));
        }
        batch
    }
}

/// Writes outcomes (none released); each recording function adds what it changed to its
/// digest's counts.
fn write(
    conn: &mut DbConnection,
    range: Option<i64>,
    batch: &[(deliveries::ClaimedDelivery, Outcome)],
    suffix: &str,
    retry: &crate::config::WorkerSettings,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    // A batch leased one by one may hold deliveries of several digests.
    let mut by_digest: BTreeMap<i64, Vec<&(deliveries::ClaimedDelivery, Outcome)>> =
        BTreeMap::new();
    for item in batch {
        by_digest.entry(item.0.digest_id).or_default().push(item);
    }
    for (digest_id, items) in by_digest {
        let ids = |wanted: fn(&Outcome) -> bool| -> Vec<i64> {
            items
                .iter()
                .filter(|(_, o)| wanted(o))
                .map(|(d, _)| d.id)
                .collect()
        };
        let sent = ids(|o| *o == Outcome::Sent);
        match range {
            // Untried rows of a range are written for the first time: attempt and Message-ID
            // too.
            Some(_) => ranges::mark_sent(conn, digest_id, &sent, now, suffix)?,
            None => deliveries::mark_sent(conn, digest_id, &sent, now)?,
        };
        deliveries::mark_skipped(conn, digest_id, &ids(|o| *o == Outcome::Skipped))?;
        for (d, outcome) in items {
            match outcome {
                Outcome::Retry(reason) => {
                    let at = now + backoff(retry, d.attempts);
                    deliveries::mark_retry(conn, d.id, d.attempts, at, reason)?;
                }
                Outcome::Failed(reason) => {
                    deliveries::mark_failed(conn, digest_id, d.id, d.attempts, reason)?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}
