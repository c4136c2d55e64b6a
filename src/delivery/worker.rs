//! The outbox worker: claim a batch (the lease is committed), send each message over the
//! transport with no transaction open, record each outcome. Temporary failures come back with
//! exponential back-off; permanent ones stay as `failed` with their reason.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::config::WorkerSettings;
use crate::db::{self, outbox, DbError, Pool};
use crate::domain::mask_email;
use crate::mail::{SendError, Transport};

/// What one pass over the due mail did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

impl Drained {
    fn total(&self) -> usize {
        self.sent + self.retrying + self.failed
    }
}

/// One worker per instance; cheap to clone.
#[derive(Clone)]
pub struct OutboxWorker {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    transport: Arc<Transport>,
    settings: WorkerSettings,
    owner: String,
    wake: Arc<Notify>,
}

enum Outcome {
    Sent,
    Retry(String),
    Failed(String),
    /// Shutdown came before this message was started: give the lease back.
    Released,
}

impl OutboxWorker {
    /// `wake` is notified by requests that just recorded mail, so it leaves at once.
    pub fn new(
        pool: Pool,
        transport: Arc<Transport>,
        settings: WorkerSettings,
        wake: Arc<Notify>,
    ) -> Self {
        let owner = format!(
            "{}-{}",
            std::process::id(),
            hex::encode(rand::random::<[u8; 4]>())
        );
        Self {
            inner: Arc::new(Inner {
                pool,
                transport,
                settings,
                owner,
                wake,
            }),
        }
    }

    /// Runs until `shutdown` turns true; in-flight messages are finished, unstarted ones
    /// released.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.inner.settings.poll_interval_ms.max(10));
        tracing::info!(owner = %self.inner.owner, "outbox worker started");
        while !*shutdown.borrow() {
            let busy = match self.pass(&shutdown).await {
                Ok(done) => done.total() > 0,
                Err(e) => {
                    tracing::error!(error = %e, "outbox pass failed; retrying after the poll interval");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = self.inner.wake.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        self.inner.transport.shutdown().await;
        tracing::info!("outbox worker stopped");
    }

    /// Sends everything that is due now, then returns (for tests and one-shot CLI runs).
    pub async fn drain(&self) -> Result<Drained, DbError> {
        let (_tx, never) = watch::channel(false);
        let mut total = Drained::default();
        loop {
            let done = self.pass(&never).await?;
            if done.total() == 0 {
                return Ok(total);
            }
            total.sent += done.sent;
            total.retrying += done.retrying;
            total.failed += done.failed;
        }
    }

    /// Claims one batch and delivers it.
    async fn pass(&self, shutdown: &watch::Receiver<bool>) -> Result<Drained, DbError> {
        let inner = &self.inner;
        let (owner, limit, lease) = (
            inner.owner.clone(),
            inner.settings.batch_size.max(1),
            chrono::Duration::seconds(inner.settings.lease_secs.max(1)),
        );
        let claimed = db::write(&inner.pool, move |conn| {
            let now = Utc::now().naive_utc();
            Ok::<_, DbError>(outbox::claim(conn, &owner, now, now + lease, limit)?)
        })
        .await?;
        if claimed.is_empty() {
            return Ok(Drained::default());
        }
        let limit = Arc::new(tokio::sync::Semaphore::new(inner.transport.concurrency()));
        let mut tasks = JoinSet::new();
        for mail in claimed {
            let (inner, limit, shutdown) = (
                Arc::clone(&self.inner),
                Arc::clone(&limit),
                shutdown.clone(),
            );
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let outcome = if *shutdown.borrow() {
                    Outcome::Released
                } else {
                    deliver(&inner, &mail).await
                };
                (mail, outcome)
            });
        }
        let mut done = Drained::default();
        let mut released = Vec::new();
        let mut outcomes = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let Ok((mail, outcome)) = joined else {
                continue;
            };
            let settings = &inner.settings;
            let (id, attempts) = (mail.id, mail.attempts);
            let to = mask_email(&mail.recipient);
            let outcome = match outcome {
                Outcome::Retry(reason) if attempts >= settings.max_attempts => {
                    Outcome::Failed(format!("gave up after {attempts} attempts: {reason}"))
                }
                other => other,
            };
            let delay = backoff(settings, attempts);
            match &outcome {
                Outcome::Sent => done.sent += 1,
                Outcome::Failed(reason) => {
                    done.failed += 1;
                    tracing::warn!(outbox_id = id, %to, %reason, "mail failed");
                }
                Outcome::Retry(reason) => {
                    done.retrying += 1;
                    tracing::info!(outbox_id = id, %to, %reason, retry_in_ms = delay.num_milliseconds(), "mail will be retried");
                }
                Outcome::Released => {
                    released.push(id);
                    continue;
                }
            }
            outcomes.push((id, attempts, outcome, delay));
        }
        // One transaction records the whole batch. Should it fail, the leases expire and the
        // batch is sent again: at most one batch of duplicates, nothing lost.
        let owner = inner.owner.clone();
        db::write(&inner.pool, move |conn| {
            for (id, attempts, outcome, delay) in outcomes {
                record(conn, id, attempts, outcome, delay)?;
            }
            if !released.is_empty() {
                outbox::release(conn, &owner, &released, Utc::now().naive_utc())?;
            }
            Ok::<_, DbError>(())
        })
        .await?;
        Ok(done)
    }
}

/// Writes one outcome of the `attempts`th attempt to the outbox row.
fn record(
    conn: &mut db::DbConnection,
    id: i64,
    attempts: i32,
    outcome: Outcome,
    retry_delay: chrono::Duration,
) -> diesel::QueryResult<()> {
    let now = Utc::now().naive_utc();
    match outcome {
        Outcome::Sent => outbox::mark_sent(conn, id, now),
        Outcome::Failed(reason) => outbox::mark_failed(conn, id, attempts, &reason),
        Outcome::Retry(reason) => {
            outbox::mark_retry(conn, id, attempts, now + retry_delay, &reason)
        }
        Outcome::Released => Ok(()),
    }
}

async fn deliver(inner: &Inner, mail: &outbox::Claimed) -> Outcome {
    let Some(body) = mail.body.as_deref() else {
        return Outcome::Failed("the message body is gone (erased before delivery)".into());
    };
    let Ok(body) = std::str::from_utf8(body) else {
        return Outcome::Failed("the stored message is not UTF-8".into());
    };
    let name = format!("{:08}", mail.id);
    match inner
        .transport
        .send(&mail.sender, &mail.recipient, &name, body)
        .await
    {
        Ok(()) => {
            tracing::debug!(outbox_id = mail.id, message_id = %mail.message_id, "mail sent");
            Outcome::Sent
        }
        Err(SendError::Temporary(reason)) => Outcome::Retry(reason),
        Err(SendError::Permanent(reason)) => Outcome::Failed(reason),
    }
}

/// `retry_base * 2^(attempts-1)`, capped at `retry_max`.
pub(crate) fn backoff(settings: &WorkerSettings, attempts: i32) -> chrono::Duration {
    let exp = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    let ms = settings
        .retry_base_ms
        .saturating_mul(1i64 << exp)
        .min(settings.retry_max_ms);
    chrono::Duration::milliseconds(ms.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = WorkerSettings {
            retry_base_ms: 1000,
            retry_max_ms: 5000,
            ..WorkerSettings::default()
        };
        let ms = |a| backoff(&s, a).num_milliseconds();
        assert_eq!(
            (ms(1), ms(2), ms(3), ms(4), ms(40)),
            (1000, 2000, 4000, 5000, 5000)
        );
    }
}
