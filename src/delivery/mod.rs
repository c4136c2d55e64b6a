//! Delivering mail: the outbox worker (transactional mail), the digest engine (`engine`: claim
//! and fan out; `sending`: the per-connection workers; `record`: outcomes), send-rate caps,
//! and the heartbeat that keeps an instance's leases.

mod core;
mod engine;
mod heartbeat;
mod outcome;
mod record;
mod sending;
mod throttle;
mod worker;

pub use core::Sent;
pub use engine::DigestEngine;
pub use heartbeat::{Instance, KeepAlive};
pub use outcome::{backoff, Outcome};
pub use record::FLUSH_EVERY;
pub use throttle::Throttle;
pub use worker::{Drained, OutboxWorker};
