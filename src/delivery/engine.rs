//! The digest delivery engine. Each pass leases a batch of deliveries (lease committed before
//! any SMTP traffic; untried deliveries are leased as a range, see `db::ranges`), looks up its
//! readers, and hands the batch to one sending worker per connection (`sending`) with no
//! transaction open; outcomes are recorded as they come, within a tenth of a second
//! (`record`). Several instances share a send through the leases, which the instance's
//! heartbeat renews; a crash re-sends at most the messages the relay accepted in the moments
//! before it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::core::{Core, Sent};
use super::heartbeat::Instance;
use super::record::{Ledger, FLUSH_EVERY};
use super::sending::{worker, Outcomes};
use super::throttle::Throttle;
use crate::app::UseCaseError;
use crate::config::{DeliverySettings, WorkerSettings};
use crate::db::{self, deliveries, digests, ranges, DbError, Pool};
use crate::digests::{run_due_schedules, PreparedDigest};
use crate::links::Links;
use crate::mail::{MailOptions, Transport};
use crate::templates::Templates;

/// The engine of one instance; cheap to clone.
#[derive(Clone)]
pub struct DigestEngine {
    inner: Arc<Core>,
}

impl DigestEngine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pool: Pool,
        instance: Instance,
        transport: Arc<Transport>,
        templates: Arc<Templates>,
        links: Links,
        options: MailOptions,
        settings: DeliverySettings,
        retry: WorkerSettings,
    ) -> Self {
        let id_suffix = format!(".{}@{}>", links.installation_tag(), links.host());
        Self {
            inner: Arc::new(Core {
                throttle: Throttle::new(
                    settings.messages_per_second,
                    settings.per_domain_per_second,
                ),
                pool,
                instance,
                transport,
                templates,
                links,
                options,
                settings,
                retry,
                id_suffix,
                prepared: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Runs until `shutdown` turns true: starts scheduled digests when due, delivers, marks
    /// finished digests sent. The instance's heartbeat (run beside it) keeps its leases.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        tracing::info!(owner = %self.inner.instance.owner(), "digest engine started");
        // Two lanes, each claiming its own batch: while one waits on the database (claiming or
        // recording), the other keeps the SMTP connections busy.
        let lanes: Vec<_> = (0..2)
            .map(|_| tokio::spawn(self.clone().lane(shutdown.clone())))
            .collect();
        for lane in lanes {
            let _ = lane.await;
        }
        self.inner.transport.shutdown().await;
        tracing::info!("digest engine stopped");
    }

    async fn lane(self, mut shutdown: watch::Receiver<bool>) {
        let poll = self.inner.settings.poll_interval_ms.get();
        let mut busy = true;
        while !*shutdown.borrow() {
            // Idle, the lane only asks (one read) whether there is work, and ticks when there is.
            if busy || self.has_work().await {
                busy = match self.tick(&shutdown).await {
                    Ok(done) => done.total() > 0,
                    Err(e) => {
                        tracing::error!(error = %e, "digest pass failed; retrying after the poll interval");
                        false
                    }
                };
            }
            if !busy {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }

    async fn has_work(&self) -> bool {
        let checked = db::run(&self.inner.pool, |conn| {
            Ok::<_, DbError>(digests::engine_has_work(conn, Utc::now().naive_utc())?)
        })
        .await;
        // A failed check ticks, and the tick reports the error.
        checked.unwrap_or(true)
    }

    /// Delivers everything due now, then returns (tests, `digest send --wait`), renewing its
    /// leases meanwhile.
    pub async fn drain(&self) -> Result<Sent, UseCaseError> {
        let beating = self.inner.instance.keep_alive(true);
        let (_tx, never) = watch::channel(false);
        let mut total = Sent::default();
        let drained = loop {
            match self.tick(&never).await {
                Ok(done) if done.total() == 0 => break Ok(total),
                Ok(done) => total.add(done),
                Err(e) => break Err(e),
            }
        };
        beating.stop().await;
        drained
    }

    async fn tick(&self, shutdown: &watch::Receiver<bool>) -> Result<Sent, UseCaseError> {
        db::write(&self.inner.pool, |conn| {
            let now = Utc::now().naive_utc();
            for id in digests::due(conn, now)? {
                if let Some(recipients) = digests::start(conn, id, now)? {
                    tracing::info!(digest_id = id, recipients, "scheduled digest started");
                }
            }
            run_due_schedules(conn, now)?;
            Ok::<_, UseCaseError>(())
        })
        .await?;
        let done = self.pass(shutdown).await?;
        if done.total() == 0 {
            db::write(&self.inner.pool, |conn| {
                Ok::<_, DbError>(digests::finish_done(conn, Utc::now().naive_utc())?)
            })
            .await?;
            // Nothing to send: forget the prepared digests, so a long-running instance does not
            // keep one per digest it ever sent (the next batch of any digest loads it again).
            self.inner.prepared.lock().expect("cache lock").clear();
        }
        Ok(done)
    }

    async fn prepared(&self, digest_id: i64) -> Result<Arc<PreparedDigest>, UseCaseError> {
        if let Some(p) = self
            .inner
            .prepared
            .lock()
            .expect("cache lock")
            .get(&digest_id)
        {
            return Ok(p.clone());
        }
        let (templates, links) = (self.inner.templates.clone(), self.inner.links.clone());
        let options = self.inner.options.clone();
        let p = db::run(&self.inner.pool, move |conn| {
            PreparedDigest::load(conn, &templates, &links, &options, digest_id)
        })
        .await?;
        self.inner
            .prepared
            .lock()
            .expect("cache lock")
            .insert(digest_id, p.clone());
        Ok(p)
    }

    /// Leases a batch, sends it, records its outcomes.
    async fn pass(&self, shutdown: &watch::Receiver<bool>) -> Result<Sent, UseCaseError> {
        let inner = &self.inner;
        let (range, claimed) = self.claim().await?;
        if claimed.is_empty() {
            return Ok(Sent::default());
        }
        // Read after the lease is committed: the claim's locks (on PostgreSQL, the digest row
        // every lane's range claim takes) are not held while the readers are looked up.
        let ids: Vec<i64> = claimed.iter().map(|c| c.subscriber_id).collect();
        let recipients = db::run(&inner.pool, move |conn| {
            Ok::<_, DbError>(deliveries::recipients(conn, &ids)?)
        })
        .await?;
        let by_key: HashMap<(i64, i64), deliveries::Recipient> = recipients
            .into_iter()
            .map(|r| ((r.subscriber_id, r.list_id), r))
            .collect();
        let by_key = Arc::new(by_key);
        let mut queue = VecDeque::with_capacity(claimed.len());
        for delivery in claimed {
            let prepared = self.prepared(delivery.digest_id).await?;
            queue.push_back((delivery, prepared));
        }
        // One worker per connection, each sending from the shared queue one message after
        // another; the queue keeps them evenly loaded to the end of the batch.
        let workers = inner.transport.concurrency().min(queue.len());
        let queue = Arc::new(Mutex::new(queue));
        // Each outcome is noted here as soon as it is known, so a worker that panics loses
        // only the message it was sending (its lease expires and it goes again), not the
        // outcomes of those it had sent.
        let outcomes: Outcomes = Arc::default();
        let mut tasks = JoinSet::new();
        for _ in 0..workers {
            let (engine, queue, by_key) = (self.inner.clone(), queue.clone(), by_key.clone());
            let job = worker(engine, queue, by_key, outcomes.clone(), shutdown.clone());
            tasks.spawn(job);
        }
        let take = || std::mem::take(&mut *outcomes.lock().expect("outcomes lock"));
        let mut ledger = Ledger::new(range);
        let mut flush =
            tokio::time::interval_at(tokio::time::Instant::now() + FLUSH_EVERY, FLUSH_EVERY);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                joined = tasks.join_next() => match joined {
                    None => break,
                    Some(Err(e)) => tracing::error!(error = %e, "a digest sending worker failed; its unsent deliveries go again when their lease expires"),
                    Some(Ok(())) => {}
                },
                _ = flush.tick() => ledger.flush(inner, take()).await?,
            }
        }
        Ok(ledger.finish(inner, take()).await?)
    }

    /// Retries that are due and deliveries whose single lease ran out first, then a range of
    /// untried ones (nearly every delivery goes out that way). The lease is committed.
    async fn claim(&self) -> Result<(Option<i64>, Vec<deliveries::ClaimedDelivery>), DbError> {
        let inner = &self.inner;
        let (owner, suffix) = (inner.instance.owner().to_owned(), inner.id_suffix.clone());
        let (limit, lease) = (
            i64::from(inner.settings.batch_size.get()),
            inner.settings.lease_secs.chrono(),
        );
        db::write(&inner.pool, move |conn| {
            let now = Utc::now().naive_utc();
            let claimed = deliveries::claim(conn, &owner, now, now + lease, limit, &suffix)?;
            if !claimed.is_empty() {
                return Ok((None, claimed));
            }
            Ok(
                match ranges::claim(conn, &owner, now, now + lease, limit, &suffix)? {
                    Some(r) => (Some(r.range_id), r.deliveries),
                    None => (None, Vec::new()),
                },
            )
        })
        .await
    }
}
