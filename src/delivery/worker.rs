//! The outbox worker: claim a batch (the lease is committed), send each message over the
//! transport with no transaction open, record each outcome. Temporary failures come back with
//! exponential back-off; permanent ones stay as `failed` with their reason.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use super::heartbeat::Instance;
use super::outcome::{backoff, Outcome};
use crate::config::WorkerSettings;
use crate::db::{self, outbox, DbError, Pool};
use crate::domain::mask_email;
use crate::mail::Transport;

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
    instance: Instance,
    wake: Arc<Notify>,
}

impl OutboxWorker {
    /// `wake` is notified by requests that just recorded mail, so it leaves at once.
    pub fn new(
        pool: Pool,
        instance: Instance,
        transport: Arc<Transport>,
        settings: WorkerSettings,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                transport,
                settings,
                instance,
                wake,
            }),
        }
    }

    /// Runs until `shutdown` turns true; in-flight messages are finished, unstarted ones
    /// released. The instance's heartbeat (run beside it) keeps its leases.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let poll = self.inner.settings.poll_interval_ms.get();
        tracing::info!(owner = %self.inner.instance.owner(), "outbox worker started");
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

    /// Sends everything that is due now, then returns (for tests and one-shot CLI runs),
    /// renewing its leases meanwhile.
    pub async fn drain(&self) -> Result<Drained, DbError> {
        let beating = self.inner.instance.keep_alive(false);
        let (_tx, never) = watch::channel(false);
        let mut total = Drained::default();
        let drained = loop {
            match self.pass(&never).await {
                Ok(done) if done.total() == 0 => break Ok(total),
                Ok(done) => {
                    total.sent += done.sent;
                    total.retrying += done.retrying;
                    total.failed += done.failed;
                }
                Err(e) => break Err(e),
            }
        };
        beating.stop().await;
        drained
    }

    /// Claims one batch and delivers it.
    async fn pass(&self, shutdown: &watch::Receiver<bool>) -> Result<Drained, DbError> {
        let inner = &self.inner;
        let (owner, limit, lease) = (
            inner.instance.owner().to_owned(),
            i64::from(inner.settings.batch_size.get()),
            inner.settings.lease_secs.chrono(),
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
            let outcome = outcome.give_up_after(attempts, settings);
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
                Outcome::Released | Outcome::Skipped => {
                    released.push(id);
                    continue;
                }
            }
            outcomes.push((id, attempts, outcome, delay));
        }
        // One transaction records the whole batch. Should it fail, the leases expire and the
        // batch is sent again: at most one batch of duplicates, nothing lost.
        let owner = inner.instance.owner().to_owned();
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
        Outcome::Released | Outcome::Skipped => Ok(()),
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
    let sent = inner
        .transport
        .send(&mail.sender, &mail.recipient, &name, body)
        .await;
    if sent.is_ok() {
        tracing::debug!(outbox_id = mail.id, message_id = %mail.message_id, "mail sent");
    }
    Outcome::of(sent)
}
