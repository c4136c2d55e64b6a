//! Delivering what the outbox holds.

mod worker;

pub use worker::{Drained, OutboxWorker};
