//! What the service may fetch from the network on someone's behalf (feeds now; article pages
//! and webhooks later): http(s) only, and never an address inside the operator's network
//! (loopback, private, link-local, unique-local, shared, cloud metadata) unless listed in
//! `outbound.allow`. The check is made on the address actually connected to: hostnames are
//! resolved by [`GuardedResolver`], which drops forbidden addresses, so a name that resolves
//! differently the second time (DNS rebinding) gains nothing; IP literals are checked on the
//! first URL and on every redirect ([`Policy::check_url`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use serde::Deserialize;

/// Why a fetch was refused. Deliberately says nothing about the host or its addresses.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("refused: not an address this service fetches from")]
pub struct Refused;

/// One entry of `outbound.allow`: a host name, an address, or a network (`10.0.0.0/8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    Host(String),
    Network(IpAddr, u8),
}

impl Allowed {
    pub fn parse(input: &str) -> Result<Self, String> {
        let input = input.trim();
        let (addr, bits) = match input.split_once('/') {
            Some((addr, bits)) => (addr, Some(bits)),
            None => (input, None),
        };
        match addr.parse::<IpAddr>() {
            Ok(ip) => {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let bits = match bits {
                    Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(|| {
                        format!("{input:?}: the prefix length must be 0 to {max}")
                    })?,
                    None => max,
                };
                Ok(Allowed::Network(ip, bits))
            }
            Err(_) => match (bits, crate::domain::DnsName::parse(input)) {
                (None, Ok(name)) => Ok(Allowed::Host(name.as_str().to_owned())),
                _ => Err(format!(
                    "{input:?} is not a host name, an address or a network"
                )),
            },
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Allowed::Network(IpAddr::V4(net), bits), IpAddr::V4(ip)) => {
                let (net, bits) = (*net, *bits);
                let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (Allowed::Network(IpAddr::V6(net), bits), IpAddr::V6(ip)) => {
                let (net, bits) = (*net, *bits);
                let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl<'de> Deserialize<'de> for Allowed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Allowed::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Whether `ip` is inside an operator's network rather than on the internet.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local() // 169.254/16, cloud metadata included
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00 // unique local, fd00:ec2::254 included
                    || (first & 0xffc0) == 0xfe80 // link local
                    || (first & 0xffc0) == 0xfec0 // site local (deprecated)
                    || first == 0x0064 && v6.segments()[1] == 0xff9b // NAT64 of anything
            }
        },
    }
}

/// The outbound policy: internal addresses refused unless allowed.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    allow: Arc<Vec<Allowed>>,
}

impl Policy {
    pub fn new(allow: Vec<Allowed>) -> Self {
        Self {
            allow: Arc::new(allow),
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allow
            .iter()
            .any(|a| matches!(a, Allowed::Host(h) if *h == host))
    }

    /// Whether the service may connect to `ip` for `host`.
    pub fn admits(&self, host: &str, ip: IpAddr) -> bool {
        !is_internal(ip) || self.host_allowed(host) || self.allow.iter().any(|a| a.contains(ip))
    }

    /// Checks a URL about to be fetched (the first, or a redirect's): an http(s) scheme, and
    /// for an IP literal, an admitted address. Host names are checked when resolved.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused);
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(Refused),
        };
        match self.admits(&ip.to_string(), ip) {
            true => Ok(()),
            false => Err(Refused),
        }
    }

    /// A resolver for reqwest that keeps only admitted addresses.
    pub fn resolver(&self) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver {
            policy: self.clone(),
        })
    }
}

/// Resolves host names and drops the addresses the policy refuses; none left is a refusal.
pub struct GuardedResolver {
    policy: Policy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| policy.admits(&host, a.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(Refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused_and_the_internet_is_not() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::",
        ] {
            assert!(is_internal(ip(internal)), "{internal}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1"] {
            assert!(!is_internal(ip(public)), "{public}");
        }
    }

    #[test]
    fn listed_hosts_and_networks_are_admitted() {
        let p = Policy::new(vec![
            Allowed::parse("127.0.0.1").unwrap(),
            Allowed::parse("10.0.0.0/8").unwrap(),
            Allowed::parse("Feeds.Intranet.example").unwrap(),
        ]);
        assert!(p.admits("x", ip("127.0.0.1")));
        assert!(!p.admits("x", ip("127.0.0.2")));
        assert!(p.admits("x", ip("10.200.1.1")));
        assert!(!p.admits("x", ip("192.168.0.1")));
        assert!(p.admits("feeds.intranet.example", ip("192.168.0.1")));
        assert!(Policy::default().admits("x", ip("93.184.216.34")));
        assert!(Allowed::parse("10.0.0.0/40").is_err());
        assert!(Allowed::parse("a b").is_err());
        assert!(Allowed::parse("example.org/8").is_err());
    }

    #[test]
    fn urls_must_be_http_and_ip_literals_admitted() {
        let p = Policy::default();
        let url = |s: &str| url::Url::parse(s).unwrap();
        assert!(p.check_url(&url("https://example.org/feed")).is_ok());
        assert!(p.check_url(&url("http://127.0.0.1:8080/internal")).is_err());
        assert!(p.check_url(&url("http://[::1]/x")).is_err());
        assert!(p
            .check_url(&url("http://169.254.169.254/latest/meta-data"))
            .is_err());
        assert!(p.check_url(&url("file:///etc/passwd")).is_err());
        assert!(p.check_url(&url("ftp://example.org/f")).is_err());
        assert_eq!(
            Refused.to_string(),
            "refused: not an address this service fetches from"
        );
    }
}
