//! A per-client limit on signup requests, kept in memory by each instance (so with several
//! instances a client gets the limit once per instance). The per-address limit on
//! confirmation mail lives in the database, shared by instances.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Who a request is counted against: an IPv4 address, or an IPv6 /64 (one subscriber's
/// network: a client rotating addresses inside it is still one client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
}

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => ClientKey::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(v4.octets()),
                None => {
                    let mut prefix = [0; 8];
                    prefix.copy_from_slice(&v6.octets()[..8]);
                    ClientKey::V6Prefix(prefix)
                }
            },
        }
    }
}

/// `192.0.2.1`, or `2001:db8:1:2::/64`.
impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientKey::V4(o) => write!(f, "{}", std::net::Ipv4Addr::from(*o)),
            ClientKey::V6Prefix(p) => {
                let mut full = [0; 16];
                full[..8].copy_from_slice(p);
                write!(f, "{}/64", std::net::Ipv6Addr::from(full))
            }
        }
    }
}

/// The client's address: the peer's, or with `proxies` trusted proxies in front, the entry of
/// `X-Forwarded-For` the outermost of them wrote. Each proxy appends the address it saw, so
/// that entry is `proxies` from the right; those to its left were written by the client and
/// prove nothing. An entry that is not an address (or a missing header) falls back to the
/// peer.
pub fn client_ip(peer: Option<IpAddr>, forwarded_for: Option<&str>, proxies: u8) -> IpAddr {
    let unspecified = IpAddr::from([0, 0, 0, 0]);
    let forwarded = || {
        let entries: Vec<&str> = forwarded_for?.split(',').map(str::trim).collect();
        let at = entries.len().saturating_sub(usize::from(proxies));
        parse_entry(entries.get(at)?)
    };
    match proxies {
        0 => peer,
        _ => forwarded().or(peer),
    }
    .unwrap_or(unspecified)
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry.parse().ok().or_else(|| {
        let host = entry.rsplit_once(':')?.0;
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()
    })
}

/// The most clients remembered at once: past it the oldest is forgotten first, so a flood of
/// addresses costs at most this many entries (a few MiB).
const MAX_CLIENTS: usize = 100_000;

/// One-minute windows per client, forgotten once they are over.
pub struct IpRateLimiter {
    per_minute: u32,
    window: Duration,
    state: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    /// Each client's window: when it opened and the requests counted in it.
    open: HashMap<ClientKey, (Instant, u32)>,
    /// The windows in the order they opened, to forget them oldest first.
    by_age: VecDeque<(Instant, ClientKey)>,
}

impl IpRateLimiter {
    /// `per_minute == 0` disables the limit.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            window: Duration::from_secs(60),
            state: Mutex::default(),
        }
    }

    /// Counts a request from `ip`; false when it is over the limit.
    pub fn allow(&self, ip: IpAddr) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        self.count(ClientKey::from(ip), Instant::now())
    }

    fn count(&self, key: ClientKey, now: Instant) -> bool {
        let mut w = self.state.lock().expect("rate limiter lock");
        while let Some(&(opened, oldest)) = w.by_age.front() {
            if now.duration_since(opened) < self.window && w.open.len() <= MAX_CLIENTS {
                break;
            }
            w.by_age.pop_front();
            // Only if that client has not opened a newer window since.
            if w.open.get(&oldest).is_some_and(|(at, _)| *at == opened) {
                w.open.remove(&oldest);
            }
        }
        if let Some((_, n)) = w.open.get_mut(&key) {
            *n += 1;
            return *n <= self.per_minute;
        }
        w.open.insert(key, (now, 1));
        w.by_age.push_back((now, key));
        true
    }

    /// How many clients are remembered (for tests).
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.state.lock().expect("rate limiter lock").open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_each_ip_separately_and_an_ipv6_64_as_one() {
        let l = IpRateLimiter::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.allow(a) && l.allow(a));
        assert!(!l.allow(a));
        assert!(l.allow(b));
        assert!(IpRateLimiter::new(0).allow(a));
        let l = IpRateLimiter::new(2);
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(l.allow(v6("2001:db8:1:2::1")) && l.allow(v6("2001:db8:1:2:ffff::9")));
        assert!(!l.allow(v6("2001:db8:1:2:abcd::7")), "same /64");
        assert!(l.allow(v6("2001:db8:1:3::1")), "another /64");
        assert_eq!(
            ClientKey::from(v6("::ffff:192.0.2.1")),
            ClientKey::from(a),
            "an IPv4-mapped address is the IPv4 client"
        );
    }

    #[test]
    fn windows_are_forgotten_when_over_and_the_table_is_bounded() {
        let l = IpRateLimiter::new(1);
        let start = Instant::now();
        let key = |i: u32| ClientKey::V4(i.to_be_bytes());
        assert!(l.count(key(1), start));
        assert!(!l.count(key(1), start + Duration::from_secs(30)));
        // A minute on, the old window is gone: the client counts afresh and the table holds
        // only the clients of the last minute.
        for i in 2..1000 {
            l.count(key(i), start + Duration::from_secs(59));
        }
        assert!(l.count(key(1), start + Duration::from_secs(61)));
        assert!(l.count(key(5000), start + Duration::from_secs(122)));
        assert_eq!(l.remembered(), 1);
        // A flood of new clients within one minute costs at most MAX_CLIENTS entries.
        let flood = start + Duration::from_secs(200);
        for i in 0..(MAX_CLIENTS as u32 + 500) {
            l.count(key(10_000 + i), flood);
        }
        assert!(l.remembered() <= MAX_CLIENTS + 1);
    }

    #[test]
    fn the_client_is_the_entry_the_outermost_trusted_proxy_wrote() {
        let peer: Option<IpAddr> = Some("10.0.0.9".parse().unwrap());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // No trusted proxy: the header is the client's word and is ignored.
        assert_eq!(client_ip(peer, Some("203.0.113.7"), 0), ip("10.0.0.9"));
        // One proxy appended the client it saw: the rightmost entry. What the client wrote
        // to the left of it (rotated at will) changes nothing.
        for spoof in ["1.1.1.1", "2.2.2.2, 3.3.3.3", "junk"] {
            let header = format!("{spoof}, 198.51.100.4");
            assert_eq!(client_ip(peer, Some(&header), 1), ip("198.51.100.4"));
        }
        // A CDN then a load balancer: the second from the right.
        assert_eq!(
            client_ip(peer, Some("6.6.6.6, 198.51.100.4, 192.0.2.10"), 2),
            ip("198.51.100.4")
        );
        assert_eq!(
            client_ip(peer, Some("[2001:db8::1]:4711, 192.0.2.1:80"), 2),
            ip("2001:db8::1")
        );
        assert_eq!(client_ip(peer, None, 1), ip("10.0.0.9"));
        assert_eq!(client_ip(peer, Some("not-an-ip"), 1), ip("10.0.0.9"));
    }
}
