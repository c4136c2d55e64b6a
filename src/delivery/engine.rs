//! The digest delivery engine. Each pass leases a batch of deliveries (lease committed before
//! any SMTP traffic; untried deliveries are leased as a range, see `db::ranges`), renders each
//! recipient's copy, sends over the digest connections with no transaction open, and records
//! the batch's outcomes in one transaction. Several instances share a send through the leases;
//! a crash re-sends at most the batches in flight (one per lane).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::throttle::Throttle;
use super::worker::backoff;
use crate::config::{DeliverySettings, WorkerSettings};
use crate::db::{self, deliveries, digests, ranges, DbError, Pool};
use crate::digests::{run_due_schedules, PreparedDigest, RecipientView};
use crate::domain::mask_email;
use crate::links::Links;
use crate::mail::{Envelope, MailOptions, Outgoing, SendError, Session, Transport};
use crate::subscriptions::UseCaseError;
use crate::templates::Templates;

/// Counts from one or more passes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Sent {
    fn add(&mut self, o: Sent) {
        self.sent += o.sent;
        self.retrying += o.retrying;
        self.failed += o.failed;
        self.skipped += o.skipped;
    }
    fn total(&self) -> usize {
        self.sent + self.retrying + self.failed + self.skipped
    }
}

/// The engine of one instance; cheap to clone.
#[derive(Clone)]
pub struct DigestEngine {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    transport: Arc<Transport>,
    templates: Arc<Templates>,
    links: Links,
    options: MailOptions,
    settings: DeliverySettings,
    retry: WorkerSettings,
    throttle: Throttle,
    owner: String,
    /// `.{installation}@{host}>`: the tail of every delivery's Message-ID.
    id_suffix: String,
    prepared: Mutex<HashMap<i64, Arc<PreparedDigest>>>,
}

enum Outcome {
    Sent,
    Retry(String),
    Failed(String),
    Skipped,
    Released,
}

impl DigestEngine {
    pub fn new(
        pool: Pool,
        transport: Arc<Transport>,
        templates: Arc<Templates>,
        links: Links,
        options: MailOptions,
        settings: DeliverySettings,
        retry: WorkerSettings,
    ) -> Self {
        let id_suffix = format!(".{}@{}>", links.installation_tag(), links.host());
        Self {
            inner: Arc::new(Inner {
                throttle: Throttle::new(
                    settings.messages_per_second,
                    settings.per_domain_per_second,
                ),
                owner: format!(
                    "{}-{}",
                    std::process::id(),
                    hex::encode(rand::random::<[u8; 4]>())
                ),
                pool,
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
    /// finished digests sent.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        tracing::info!(owner = %self.inner.owner, "digest engine started");
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
        let poll = Duration::from_millis(self.inner.settings.poll_interval_ms.max(10));
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

    /// Delivers everything due now, then returns (tests, `digest send --wait`).
    pub async fn drain(&self) -> Result<Sent, UseCaseError> {
        let (_tx, never) = watch::channel(false);
        let mut total = Sent::default();
        loop {
            let done = self.tick(&never).await?;
            if done.total() == 0 {
                return Ok(total);
            }
            total.add(done);
        }
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

    async fn pass(&self, shutdown: &watch::Receiver<bool>) -> Result<Sent, UseCaseError> {
        let inner = &self.inner;
        let (owner, suffix) = (inner.owner.clone(), inner.id_suffix.clone());
        let (limit, lease) = (
            inner.settings.batch_size.max(1),
            chrono::Duration::seconds(inner.settings.lease_secs.max(1)),
        );
        let (range, claimed) = db::write(&inner.pool, move |conn| {
            let now = Utc::now().naive_utc();
            // Retries and deliveries whose single lease ran out first, then a range of
            // untried ones (nearly every delivery goes out that way).
            let mut claimed = deliveries::claim(conn, &owner, now, now + lease, limit, &suffix)?;
            let mut range = None;
            if claimed.is_empty() {
                if let Some(r) = ranges::claim(conn, &owner, now, now + lease, limit, &suffix)? {
                    range = Some(r.range_id);
                    claimed = r.deliveries;
                }
            }
            Ok::<_, DbError>((range, claimed))
        })
        .await?;
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
        // Each outcome is recorded here as soon as it is known, so a worker that panics loses
        // only the message it was sending (its lease expires and it goes again), not the
        // outcomes of those it had sent.
        let outcomes: Outcomes = Arc::default();
        let mut tasks = JoinSet::new();
        for _ in 0..workers {
            let (engine, queue, by_key) = (self.inner.clone(), queue.clone(), by_key.clone());
            let job = worker(engine, queue, by_key, outcomes.clone(), shutdown.clone());
            tasks.spawn(job);
        }
        while let Some(joined) = tasks.join_next().await {
            if let Err(e) = joined {
                tracing::error!(error = %e, "a digest sending worker failed; its unsent deliveries go again when their lease expires");
            }
        }
        let outcomes = std::mem::take(&mut *outcomes.lock().expect("outcomes lock"));
        let mut done = Sent::default();
        let (mut sent, mut skipped, mut released, mut other) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (d, outcome) in outcomes {
            match outcome {
                Outcome::Sent => sent.push(d.id),
                Outcome::Skipped => skipped.push(d.id),
                Outcome::Released => released.push(d.id),
                Outcome::Retry(reason) if d.attempts >= inner.retry.max_attempts => other.push((
                    d.id,
                    d.attempts,
                    Outcome::Failed(format!("gave up after {} attempts: {reason}", d.attempts)),
                )),
                o => other.push((d.id, d.attempts, o)),
            }
        }
        done.sent = sent.len();
        done.skipped = skipped.len();
        let (owner, retry) = (inner.owner.clone(), inner.retry.clone());
        let suffix = inner.id_suffix.clone();
        for (id, _, o) in &other {
            match o {
                Outcome::Failed(reason) => {
                    done.failed += 1;
                    tracing::warn!(delivery_id = id, %reason, "digest delivery failed");
                }
                _ => done.retrying += 1,
            }
        }
        // One transaction records the batch; if it fails, the leases expire and the batch is
        // sent again: at most this batch's sent messages go twice, nothing is lost.
        db::write(&inner.pool, move |conn| {
            let now = Utc::now().naive_utc();
            match range {
                // Untried rows are written for the first time: attempt and Message-ID too.
                Some(_) => ranges::mark_sent(conn, &sent, now, &suffix)?,
                None => deliveries::mark_sent(conn, &sent, now)?,
            };
            deliveries::mark_skipped(conn, &skipped)?;
            for (id, attempts, outcome) in other {
                match outcome {
                    Outcome::Retry(reason) => deliveries::mark_retry(
                        conn,
                        id,
                        attempts,
                        now + backoff(&retry, attempts),
                        &reason,
                    )?,
                    Outcome::Failed(reason) => {
                        deliveries::mark_failed(conn, id, attempts, &reason)?
                    }
                    _ => {}
                }
            }
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
        Ok(done)
    }
}

type Job = (deliveries::ClaimedDelivery, Arc<PreparedDigest>);
type Recipients = HashMap<(i64, i64), deliveries::Recipient>;
type Outcomes = Arc<Mutex<Vec<(deliveries::ClaimedDelivery, Outcome)>>>;

/// The most messages, and about the most octets, one write carries to a relay that takes
/// chunks: enough to spread a write's and a wakeup's cost over several messages, few enough
/// that a connection's buffers stay small.
const GROUP: usize = 8;
const GROUP_BYTES: usize = 64 * 1024;

/// The name of a delivery's file when mail goes to files: `digest-{digest}-{delivery}`.
struct DeliveryName(i64, i64);

impl std::fmt::Display for DeliveryName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "digest-{}-{}", self.0, self.1)
    }
}

/// A delivery ready to go: its message built, its slot under the rate caps taken.
struct Ready {
    delivery: deliveries::ClaimedDelivery,
    envelope: Envelope,
    message: String,
    /// When its slot under the rate caps comes, if later than when it was taken.
    not_before: Option<tokio::time::Instant>,
}

/// One sending worker's share of a batch: the queue it takes deliveries from, and where it
/// settles their outcomes.
struct Feed {
    engine: Arc<Inner>,
    queue: Arc<Mutex<VecDeque<Job>>>,
    by_key: Arc<Recipients>,
    outcomes: Outcomes,
    shutdown: watch::Receiver<bool>,
    /// Buffers of messages already sent, to write the next copies into: a worker allocates a
    /// few message buffers in all, not one per reader.
    spares: Vec<String>,
}

impl Feed {
    fn settle(&self, delivery: deliveries::ClaimedDelivery, outcome: Outcome) {
        self.outcomes
            .lock()
            .expect("outcomes lock")
            .push((delivery, outcome));
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// The next delivery that has a message to send; the others are settled on the way.
    fn next_ready(&mut self) -> Option<Ready> {
        loop {
            let (delivery, prepared) = self.queue.lock().expect("queue lock").pop_front()?;
            if self.stopping() {
                self.settle(delivery, Outcome::Released);
                continue;
            }
            let buf = self.spares.pop().unwrap_or_default();
            match ready(&self.engine, &self.by_key, delivery, prepared, buf) {
                Ok(r) => return Some(r),
                Err((delivery, outcome)) => self.settle(delivery, outcome),
            }
        }
    }

    /// Settles a sent (or refused) message and keeps its buffer.
    fn sent(&mut self, ready: Ready, sent: Result<(), SendError>) {
        let outcome = outcome_of(sent, ready.delivery.id, &ready.envelope);
        self.settle(ready.delivery, outcome);
        self.spares.push(ready.message);
    }
}

/// Sends deliveries from `queue` over one connection until it is empty: in groups when the
/// relay takes chunks, else one by one. A message that must wait for its slot under the rate
/// caps is never written ahead of its time, so the relay never waits on a throttle.
async fn worker(
    engine: Arc<Inner>,
    queue: Arc<Mutex<VecDeque<Job>>>,
    by_key: Arc<Recipients>,
    outcomes: Outcomes,
    shutdown: watch::Receiver<bool>,
) {
    // The connection first: a message's slot under the rate caps is taken when it is built,
    // which must not happen while waiting for a connection another batch holds.
    let transport = engine.transport.clone();
    let mut session = transport.session().await;
    let mut feed = Feed {
        engine,
        queue,
        by_key,
        outcomes,
        shutdown,
        spares: Vec::new(),
    };
    if session.takes_groups().await {
        in_groups(&mut feed, &mut session).await;
    } else {
        one_by_one(&mut feed, &mut session).await;
    }
    session.finish().await;
}

/// Up to GROUP messages (and about GROUP_BYTES) in one write, one read for their replies. A
/// message that must wait for its slot closes the group before it.
async fn in_groups(feed: &mut Feed, session: &mut Session<'_>) {
    let mut held: Option<Ready> = None;
    loop {
        let mut group: Vec<Ready> = Vec::with_capacity(GROUP);
        let mut bytes = 0;
        while group.len() < GROUP && bytes < GROUP_BYTES {
            let Some(r) = held.take().or_else(|| feed.next_ready()) else {
                break;
            };
            if let Some(at) = r.not_before {
                if !group.is_empty() {
                    held = Some(r);
                    break;
                }
                tokio::time::sleep_until(at).await;
            }
            bytes += r.message.len();
            group.push(r);
        }
        if group.is_empty() {
            return;
        }
        if feed.stopping() {
            for r in group {
                feed.settle(r.delivery, Outcome::Released);
            }
            continue;
        }
        let names: Vec<DeliveryName> = group
            .iter()
            .map(|r| DeliveryName(r.delivery.digest_id, r.delivery.id))
            .collect();
        let mut outgoing: Vec<Outgoing<'_>> = group
            .iter_mut()
            .zip(&names)
            .map(|(r, name)| Outgoing {
                envelope: &r.envelope,
                name,
                body: &mut r.message,
            })
            .collect();
        let sent = session.send_group(&mut outgoing).await;
        drop(outgoing);
        for (r, sent) in group.into_iter().zip(sent) {
            feed.sent(r, sent);
        }
    }
}

/// One message per write: each is built before the previous one is sent, so the relay is told
/// about it in the same write (unless it must wait for its slot).
async fn one_by_one(feed: &mut Feed, session: &mut Session<'_>) {
    let mut next = feed.next_ready();
    while let Some(mut this) = next.take() {
        if feed.stopping() {
            feed.settle(this.delivery, Outcome::Released);
            next = feed.next_ready();
            continue;
        }
        if let Some(at) = this.not_before {
            tokio::time::sleep_until(at).await;
        }
        next = feed.next_ready();
        let announce = next
            .as_ref()
            .filter(|n| n.not_before.is_none())
            .map(|n| &n.envelope);
        let name = DeliveryName(this.delivery.digest_id, this.delivery.id);
        let sent = session
            .send(&this.envelope, &name, &mut this.message, announce)
            .await;
        feed.sent(this, sent);
    }
}

/// What a send's result means for the delivery.
fn outcome_of(sent: Result<(), SendError>, delivery_id: i64, envelope: &Envelope) -> Outcome {
    match sent {
        Ok(()) => Outcome::Sent,
        Err(SendError::Temporary(reason)) => {
            tracing::info!(delivery_id, to = %mask_email(envelope.recipient.as_ref()), %reason, "digest delivery will be retried");
            Outcome::Retry(reason)
        }
        Err(SendError::Permanent(reason)) => Outcome::Failed(reason),
    }
}

/// Builds a delivery's message for its recipient and takes its slot under the rate caps; or
/// settles it at once (the reader left the list, the message could not be built).
fn ready(
    inner: &Inner,
    by_key: &Recipients,
    delivery: deliveries::ClaimedDelivery,
    prepared: Arc<PreparedDigest>,
    buf: String,
) -> Result<Ready, (deliveries::ClaimedDelivery, Outcome)> {
    let Some(to) = by_key.get(&(delivery.subscriber_id, prepared.list_id)) else {
        return Err((delivery, Outcome::Skipped));
    };
    // Parsed once here: the worker announces it with the message before and sends it next.
    let envelope = match Envelope::new(prepared.sender.address(), &to.email) {
        Ok(envelope) => envelope,
        Err(SendError::Permanent(reason) | SendError::Temporary(reason)) => {
            return Err((delivery, Outcome::Failed(reason)))
        }
    };
    let view = RecipientView {
        subscriber_id: to.subscriber_id,
        // The envelope's form (domain in A-labels) also goes in `To:`.
        email: envelope.recipient.as_ref(),
        name: to.name.as_deref(),
        message_id: delivery.message_id.as_deref(),
    };
    let mail = match prepared.compose_in(&inner.templates, &inner.links, &view, buf) {
        Ok(mail) => mail,
        Err(e) => {
            let reason = format!("could not build the message: {e}");
            return Err((delivery, Outcome::Failed(reason)));
        }
    };
    let domain = to.email.rsplit('@').next().unwrap_or_default();
    Ok(Ready {
        not_before: inner.throttle.reserve(domain),
        envelope,
        message: mail.content,
        delivery,
    })
}
