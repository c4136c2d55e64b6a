//! The sending workers of a batch: one per SMTP connection, each taking deliveries from the
//! batch's queue in turn, building each reader's copy and sending it (in groups of several
//! messages per write when the relay takes chunks), and noting each outcome as soon as it is
//! known.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::core::Core;
use super::outcome::Outcome;
use crate::db::deliveries::{ClaimedDelivery, Recipient};
use crate::digests::{PreparedDigest, RecipientView};
use crate::domain::mask_email;
use crate::mail::{Envelope, Outgoing, SendError, Session};

/// A delivery and the digest it belongs to.
pub(super) type Job = (ClaimedDelivery, Arc<PreparedDigest>);
/// The batch's readers still on the list, by (subscriber, list).
pub(super) type Recipients = HashMap<(i64, i64), Recipient>;
/// Outcomes known and not yet recorded.
pub(super) type Outcomes = Arc<Mutex<Vec<(ClaimedDelivery, Outcome)>>>;

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
    delivery: ClaimedDelivery,
    envelope: Envelope,
    message: String,
    /// When its slot under the rate caps comes, if later than when it was taken.
    not_before: Option<tokio::time::Instant>,
}

/// One sending worker's share of a batch: the queue it takes deliveries from, and where it
/// settles their outcomes.
struct Share {
    engine: Arc<Core>,
    queue: Arc<Mutex<VecDeque<Job>>>,
    by_key: Arc<Recipients>,
    outcomes: Outcomes,
    shutdown: watch::Receiver<bool>,
    /// Buffers of messages already sent, to write the next copies into: a worker allocates a
    /// few message buffers in all, not one per reader.
    spares: Vec<String>,
}

impl Share {
    fn settle(&self, delivery: ClaimedDelivery, outcome: Outcome) {
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
        if let Err(SendError::Temporary(reason)) = &sent {
            tracing::info!(delivery_id = ready.delivery.id, to = %mask_email(ready.envelope.recipient.as_ref()), %reason, "digest delivery will be retried");
        }
        self.settle(ready.delivery, Outcome::of(sent));
        self.spares.push(ready.message);
    }
}

/// Sends deliveries from `queue` over one connection until it is empty: in groups when the
/// relay takes chunks, else one by one. A message that must wait for its slot under the rate
/// caps is never written ahead of its time, so the relay never waits on a throttle.
pub(super) async fn worker(
    engine: Arc<Core>,
    queue: Arc<Mutex<VecDeque<Job>>>,
    by_key: Arc<Recipients>,
    outcomes: Outcomes,
    shutdown: watch::Receiver<bool>,
) {
    // The connection first: a message's slot under the rate caps is taken when it is built,
    // which must not happen while waiting for a connection another batch holds.
    let transport = engine.transport.clone();
    let mut session = transport.session().await;
    let mut share = Share {
        engine,
        queue,
        by_key,
        outcomes,
        shutdown,
        spares: Vec::new(),
    };
    if session.takes_groups().await {
        in_groups(&mut share, &mut session).await;
    } else {
        one_by_one(&mut share, &mut session).await;
    }
    session.finish().await;
}

/// Up to GROUP messages (and about GROUP_BYTES) in one write, one read for their replies. A
/// message that must wait for its slot closes the group before it.
async fn in_groups(share: &mut Share, session: &mut Session<'_>) {
    let mut held: Option<Ready> = None;
    loop {
        let mut group: Vec<Ready> = Vec::with_capacity(GROUP);
        let mut bytes = 0;
        while group.len() < GROUP && bytes < GROUP_BYTES {
            let Some(r) = held.take().or_else(|| share.next_ready()) else {
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
        if share.stopping() {
            for r in group {
                share.settle(r.delivery, Outcome::Released);
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
            share.sent(r, sent);
        }
    }
}

/// One message per write: each is built before the previous one is sent, so the relay is told
/// about it in the same write (unless it must wait for its slot).
async fn one_by_one(share: &mut Share, session: &mut Session<'_>) {
    let mut next = share.next_ready();
    while let Some(mut this) = next.take() {
        if share.stopping() {
            share.settle(this.delivery, Outcome::Released);
            next = share.next_ready();
            continue;
        }
        if let Some(at) = this.not_before {
            tokio::time::sleep_until(at).await;
        }
        next = share.next_ready();
        let announce = next
            .as_ref()
            .filter(|n| n.not_before.is_none())
            .map(|n| &n.envelope);
        let name = DeliveryName(this.delivery.digest_id, this.delivery.id);
        let sent = session
            .send(&this.envelope, &name, &mut this.message, announce)
            .await;
        share.sent(this, sent);
    }
}

/// Builds a delivery's message for its recipient and takes its slot under the rate caps; or
/// settles it at once (the reader left the list, the message could not be built).
fn ready(
    inner: &Core,
    by_key: &Recipients,
    delivery: ClaimedDelivery,
    prepared: Arc<PreparedDigest>,
    buf: String,
) -> Result<Ready, (ClaimedDelivery, Outcome)> {
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
