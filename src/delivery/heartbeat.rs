//! One instance's identity and the heartbeat that keeps its leases. Leases are short (30 s by
//! default) and renewed every third of a lease while the instance lives, so a batch may take
//! as long as it needs, and a dead instance's work is taken over within one lease.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use crate::config::{DeliverySettings, WorkerSettings};
use crate::db::{self, instances, DbError, Pool};

/// This process as the owner of leases; cheap to clone.
#[derive(Clone)]
pub struct Instance {
    inner: Arc<Inner>,
}

struct Inner {
    owner: String,
    pool: Pool,
    outbox_lease: chrono::Duration,
    delivery_lease: chrono::Duration,
}

impl Instance {
    /// A new owner id (`pid-random`) for leases taken through `pool`.
    pub fn new(pool: Pool, worker: &WorkerSettings, delivery: &DeliverySettings) -> Self {
        let owner = format!(
            "{}-{}",
            std::process::id(),
            hex::encode(rand::random::<[u8; 4]>())
        );
        Self {
            inner: Arc::new(Inner {
                owner,
                pool,
                outbox_lease: worker.lease_secs.chrono(),
                delivery_lease: delivery.lease_secs.chrono(),
            }),
        }
    }

    /// The id every lease of this instance carries.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    /// How often the leases are renewed: three times per (shortest) lease.
    pub fn every(&self) -> Duration {
        let shortest = self.inner.outbox_lease.min(self.inner.delivery_lease);
        (shortest / 3)
            .to_std()
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(100))
    }

    /// Renews every lease of this instance and says it is alive (and whether it runs the
    /// digest engine).
    pub async fn beat(&self, engine: bool) -> Result<instances::Renewed, DbError> {
        let inner = self.inner.clone();
        db::write(&self.inner.pool, move |conn| {
            let now = Utc::now().naive_utc();
            Ok::<_, DbError>(instances::beat(
                conn,
                &inner.owner,
                engine,
                now,
                now + inner.outbox_lease,
                now + inner.delivery_lease,
            )?)
        })
        .await
    }

    /// Beats until `shutdown` turns true, then says the instance left (its leases were
    /// released by the worker and the engine, which stop first).
    pub async fn run(self, engine: bool, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            if let Err(e) = self.beat(engine).await {
                tracing::warn!(error = %e, "could not renew this instance's leases");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.every()) => {}
                _ = shutdown.changed() => {}
            }
        }
        self.leave().await;
    }

    /// Beats in the background until the guard is stopped (or dropped), then leaves: for a
    /// command that holds leases for a while (`digest send --wait`, `subscriber remind`).
    pub fn keep_alive(&self, engine: bool) -> KeepAlive {
        let (stop, stopped) = watch::channel(false);
        let me = self.clone();
        let task = tokio::spawn(async move {
            let mut stopped = stopped;
            while !*stopped.borrow() {
                if let Err(e) = me.beat(engine).await {
                    tracing::warn!(error = %e, "could not renew this instance's leases");
                }
                tokio::select! {
                    _ = tokio::time::sleep(me.every()) => {}
                    _ = stopped.changed() => {}
                }
            }
            me.leave().await;
        });
        KeepAlive {
            stop,
            task: Some(task),
        }
    }

    /// Forgets this instance's row (a clean stop).
    pub async fn leave(&self) {
        let inner = self.inner.clone();
        let left = db::write(&self.inner.pool, move |conn| {
            Ok::<_, DbError>(instances::leave(conn, &inner.owner)?)
        })
        .await;
        if let Err(e) = left {
            tracing::warn!(error = %e, "could not record this instance's stop");
        }
    }

    /// Whether another instance running the digest engine beat within the last lease.
    pub async fn engine_elsewhere(&self) -> Result<bool, DbError> {
        let inner = self.inner.clone();
        db::run(&self.inner.pool, move |conn| {
            let since = Utc::now().naive_utc() - inner.delivery_lease;
            Ok::<_, DbError>(instances::engine_alive(conn, &inner.owner, since)?)
        })
        .await
    }
}

/// Stops a background heartbeat when dropped, or when `stop` is awaited.
pub struct KeepAlive {
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl KeepAlive {
    /// Stops beating and waits until the instance has left.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
