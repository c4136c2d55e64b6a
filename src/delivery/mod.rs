//! Delivering mail: the outbox worker (transactional mail) and the digest engine.

mod engine;
mod throttle;
mod worker;

pub use engine::{DigestEngine, Sent};
pub use throttle::Throttle;
pub use worker::{Drained, OutboxWorker};
