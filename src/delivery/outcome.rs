//! What became of one attempt, for the outbox worker and the digest engine alike.

use crate::config::WorkerSettings;
use crate::mail::SendError;

/// How a leased message or delivery ends this attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// A temporary failure (4xx, a refused connection, a timeout): tried again later.
    Retry(String),
    /// A permanent failure (5xx, or out of attempts), kept with its reason.
    Failed(String),
    /// Not sent because the reader left after the digest started (digests only).
    Skipped,
    /// Not started before shutdown or pause: the lease is given back.
    Released,
}

impl Outcome {
    /// The outcome of a send.
    pub fn of(sent: Result<(), SendError>) -> Self {
        match sent {
            Ok(()) => Outcome::Sent,
            Err(SendError::Temporary(reason)) => Outcome::Retry(reason),
            Err(SendError::Permanent(reason)) => Outcome::Failed(reason),
        }
    }

    /// A retry becomes a failure once the `attempts`th attempt was the last allowed.
    pub fn give_up_after(self, attempts: i32, retry: &WorkerSettings) -> Self {
        match self {
            Outcome::Retry(reason) if attempts >= retry.max_attempts.get() as i32 => {
                Outcome::Failed(format!("gave up after {attempts} attempts: {reason}"))
            }
            other => other,
        }
    }
}

/// `retry_base * 2^(attempts-1)`, capped at `retry_max`.
pub fn backoff(settings: &WorkerSettings, attempts: i32) -> chrono::Duration {
    let exp = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    let delay = settings
        .retry_base_ms
        .get()
        .saturating_mul(1 << exp)
        .min(settings.retry_max_ms.get());
    chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Millis;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = WorkerSettings {
            retry_base_ms: Millis::new(1000),
            retry_max_ms: Millis::new(5000),
            ..WorkerSettings::default()
        };
        let ms = |a| backoff(&s, a).num_milliseconds();
        assert_eq!(
            (ms(1), ms(2), ms(3), ms(4), ms(40)),
            (1000, 2000, 4000, 5000, 5000)
        );
    }

    #[test]
    fn a_retry_is_given_up_at_the_last_attempt() {
        let s = WorkerSettings {
            max_attempts: std::num::NonZeroU32::new(3).unwrap(),
            ..WorkerSettings::default()
        };
        let retry = || Outcome::Retry("451 busy".into());
        assert_eq!(retry().give_up_after(2, &s), retry());
        assert_eq!(
            retry().give_up_after(3, &s),
            Outcome::Failed("gave up after 3 attempts: 451 busy".into())
        );
        assert_eq!(Outcome::Sent.give_up_after(9, &s), Outcome::Sent);
    }
}
