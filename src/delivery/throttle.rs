//! Optional send-rate caps: messages per second overall, and per recipient domain (relays and
//! large mailbox providers throttle senders that go faster).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Spaces sends evenly under each cap; a cap of 0 is no cap.
pub struct Throttle {
    global: Option<(Duration, Mutex<Instant>)>,
    per_domain: Option<(Duration, Mutex<HashMap<String, Instant>>)>,
}

fn interval(per_second: u32) -> Option<Duration> {
    (per_second > 0).then(|| Duration::from_secs(1) / per_second)
}

impl Throttle {
    pub fn new(per_second: u32, per_domain_per_second: u32) -> Self {
        Self {
            global: interval(per_second).map(|i| (i, Mutex::new(Instant::now()))),
            per_domain: interval(per_domain_per_second).map(|i| (i, Mutex::new(HashMap::new()))),
        }
    }

    /// Takes the next slot for a message to `domain` under both caps; returns when it is, if
    /// that is later than now (the caller must not send before).
    pub fn reserve(&self, domain: &str) -> Option<Instant> {
        if self.global.is_none() && self.per_domain.is_none() {
            return None;
        }
        let now = Instant::now();
        // Always this order: per domain, then global.
        let mut domains = self
            .per_domain
            .as_ref()
            .map(|(step, m)| (*step, m.lock().expect("throttle lock")));
        let mut global = self
            .global
            .as_ref()
            .map(|(step, m)| (*step, m.lock().expect("throttle lock")));
        // The slot is the first moment both caps allow; then each cap counts on from it (were
        // the domain's next slot set before the global cap pushed this one later, two messages
        // to the domain could follow each other closer than its cap allows).
        let mut at = now;
        if let Some((_, next)) = &mut domains {
            if next.len() > 100_000 {
                next.retain(|_, t| *t > now);
            }
            at = at.max(next.get(domain).copied().unwrap_or(now));
        }
        if let Some((_, next)) = &global {
            at = at.max(**next);
        }
        if let Some((step, next)) = &mut domains {
            next.insert(domain.to_owned(), at + *step);
        }
        if let Some((step, next)) = &mut global {
            **next = at + *step;
        }
        // A timer, even one already due, waits for the next tick of the timer wheel (up to
        // 1 ms): only sleep when there is something to wait for.
        (at > now).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits for the slot, as a sender does.
    async fn admit(t: &Throttle, domain: &str) {
        if let Some(at) = t.reserve(domain) {
            tokio::time::sleep_until(at).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn caps_space_sends_per_domain_and_overall() {
        let t = Throttle::new(0, 2);
        let start = Instant::now();
        for _ in 0..3 {
            admit(&t, "example.org").await;
        }
        admit(&t, "example.com").await;
        // 3 sends to one domain at 2/s take 1 s; another domain is not held back.
        assert_eq!(start.elapsed(), Duration::from_millis(1000));
        let g = Throttle::new(10, 0);
        let start = Instant::now();
        for d in ["a.it", "b.it", "c.it"] {
            admit(&g, d).await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn a_global_backlog_does_not_squeeze_a_domains_messages_together() {
        // 10/s overall, 2/s per domain: seven messages to other domains make a 700 ms backlog,
        // and two messages to one domain still come 500 ms apart.
        let t = Throttle::new(10, 2);
        for d in ["a.it", "b.it", "c.it", "d.it", "e.it", "f.it", "g.it"] {
            t.reserve(d);
        }
        let first = t.reserve("posta.it").unwrap();
        let second = t.reserve("posta.it").unwrap();
        assert_eq!(second - first, Duration::from_millis(500));
    }
}
