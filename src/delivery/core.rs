//! What the engine's passes, its sending workers and its ledger share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::heartbeat::Instance;
use super::throttle::Throttle;
use crate::config::{DeliverySettings, WorkerSettings};
use crate::db::Pool;
use crate::digests::PreparedDigest;
use crate::links::Links;
use crate::mail::{MailOptions, Transport};
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
    pub fn add(&mut self, o: Sent) {
        self.sent += o.sent;
        self.retrying += o.retrying;
        self.failed += o.failed;
        self.skipped += o.skipped;
    }
    pub fn total(&self) -> usize {
        self.sent + self.retrying + self.failed + self.skipped
    }
}

/// What the engine's passes, sending workers and ledger share.
pub(super) struct Core {
    pub pool: Pool,
    pub transport: Arc<Transport>,
    pub templates: Arc<Templates>,
    pub links: Links,
    pub options: MailOptions,
    pub settings: DeliverySettings,
    pub retry: WorkerSettings,
    pub throttle: Throttle,
    pub instance: Instance,
    /// `.{installation}@{host}>`: the tail of every delivery's Message-ID.
    pub id_suffix: String,
    /// Digests prepared for sending, by id (forgotten when the engine is idle).
    pub prepared: Mutex<HashMap<i64, Arc<PreparedDigest>>>,
}
