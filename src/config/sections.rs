//! The sections of the settings, each with its defaults. Every value is parsed into its type
//! when the settings are loaded: counts that cannot be zero, durations, addresses, DNS names.

use std::collections::BTreeMap;
use std::num::{NonZeroU32, NonZeroU64, NonZeroU8, NonZeroUsize};
use std::path::PathBuf;

use serde::Deserialize;

use super::values::{Millis, Secret, Secs};
use super::SmtpUrl;
use crate::domain::{DnsName, FeedInterval, Sender, SubscriberEmail};
use crate::outbound::Allowed;

/// `NonZero` from a constant (the defaults).
const fn nz32(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(n) => n,
        None => panic!("a default count is not zero"),
    }
}

const fn nzsize(n: usize) -> NonZeroUsize {
    match NonZeroUsize::new(n) {
        Some(n) => n,
        None => panic!("a default count is not zero"),
    }
}

/// How mail leaves the service.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// SMTP relay; when absent, mail is written as `.eml` files into `dir`.
    pub smtp_url: Option<SmtpUrl>,
    /// Folder for `.eml` files when there is no SMTP relay.
    pub dir: PathBuf,
    /// Sender of mail not tied to a list, and of the seeded default list.
    pub from: Sender,
    /// How long one exchange with the relay may take (each wait for a reply, for a group).
    pub send_timeout_secs: Secs,
    /// Concurrent SMTP connections per instance.
    pub connections: NonZeroUsize,
    /// Mailbox that also takes unsubscribe requests (`List-Unsubscribe: <mailto:...>`), for
    /// mail programs that do not do RFC 8058; an operator reads or scripts it.
    pub unsubscribe_mailto: Option<SubscriberEmail>,
    pub dkim: DkimSettings,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            dir: PathBuf::from("data/mail"),
            from: Sender::parse("Iscriviti <newsletter@localhost.localdomain>")
                .expect("a valid default sender"),
            send_timeout_secs: Secs::new(30),
            connections: nzsize(4),
            unsubscribe_mailto: None,
            dkim: DkimSettings::default(),
        }
    }
}

/// DKIM signing of every outgoing message; off until `key_file` is set.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct DkimSettings {
    /// The signing domain (`d=`): the domain of the lists' From addresses, for DMARC alignment.
    /// Required with a key.
    pub domain: Option<DnsName>,
    /// The selector (`s=`): the public key is published at `<selector>._domainkey.<domain>`.
    pub selector: DnsName,
    /// A PEM file (RSA as PKCS#1 or PKCS#8, Ed25519 as PKCS#8) or a file holding the base64
    /// Ed25519 seed.
    pub key_file: Option<PathBuf>,
}

impl Default for DkimSettings {
    fn default() -> Self {
        Self {
            domain: None,
            selector: DnsName::parse("iscriviti").expect("a valid default selector"),
            key_file: None,
        }
    }
}

/// Signup behaviour and abuse limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignupSettings {
    /// How long a confirmation link works.
    pub confirm_ttl_secs: Secs,
    /// Confirmation mails per mailbox per hour (an address and its `+tag` variants count as
    /// one); further signups are answered the same but change and send nothing.
    pub resend_per_hour: u32,
    /// Signup requests per client per minute (0 disables the limit), counted by each
    /// instance; an IPv6 client is its /64.
    pub per_ip_per_minute: u32,
    /// Confirmation mails per recipient domain per minute, whoever asks (0: no limit).
    pub per_domain_per_minute: u32,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy you trust).
    pub trust_proxy_headers: bool,
    /// How many trusted proxies stand in front and append to `X-Forwarded-For` (a load
    /// balancer: 1; a CDN then a load balancer: 2). The client is the entry that many from
    /// the right; what the client wrote further left is ignored.
    pub trusted_proxies: NonZeroU8,
}

impl SignupSettings {
    /// How many `X-Forwarded-For` entries from the right to look (0: use the peer address).
    pub fn proxies(&self) -> u8 {
        match self.trust_proxy_headers {
            true => self.trusted_proxies.get(),
            false => 0,
        }
    }
}

impl Default for SignupSettings {
    fn default() -> Self {
        Self {
            confirm_ttl_secs: Secs::new(48 * 3600),
            resend_per_hour: 3,
            per_ip_per_minute: 20,
            per_domain_per_minute: 120,
            trust_proxy_headers: false,
            trusted_proxies: NonZeroU8::MIN,
        }
    }
}

/// The outbox worker, and the retry policy digests share with it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Run the worker inside `serve`.
    pub enabled: bool,
    /// How often to look for due mail when nothing wakes the worker.
    pub poll_interval_ms: Millis,
    /// Rows leased per claim.
    pub batch_size: NonZeroU32,
    /// How long a lease lasts unless renewed (the heartbeat renews it while the instance
    /// lives): how soon a dead instance's mail is taken over.
    pub lease_secs: Secs,
    /// First retry delay after a temporary failure; doubles each attempt.
    pub retry_base_ms: Millis,
    /// Longest retry delay.
    pub retry_max_ms: Millis,
    /// Attempts before a temporarily failing message is given up as failed.
    pub max_attempts: NonZeroU32,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval_ms: Millis::new(1000),
            batch_size: nz32(32),
            lease_secs: Secs::new(30),
            retry_base_ms: Millis::new(30_000),
            retry_max_ms: Millis::new(3_600_000),
            max_attempts: nz32(12),
        }
    }
}

/// The digest delivery engine (retry policy shared with `worker`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliverySettings {
    /// Run the engine inside `serve`.
    pub enabled: bool,
    /// SMTP connections for digests, separate from transactional mail's so a running digest
    /// never delays a confirmation.
    pub connections: NonZeroUsize,
    /// Deliveries leased per claim.
    pub batch_size: NonZeroU32,
    /// How long a lease lasts unless renewed: the instance's heartbeat renews its leases
    /// three times per lease, so this is how soon another instance takes over the deliveries
    /// of one that died.
    pub lease_secs: Secs,
    /// Cap on digest messages per second for this instance (0: none).
    pub messages_per_second: u32,
    /// Cap on digest messages per second to one recipient domain (0: none).
    pub per_domain_per_second: u32,
    /// How often to look for work when idle (one read query; a digest started by another
    /// process begins within this).
    pub poll_interval_ms: Millis,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            connections: nzsize(8),
            batch_size: nz32(500),
            lease_secs: Secs::new(30),
            messages_per_second: 0,
            per_domain_per_second: 0,
            poll_interval_ms: Millis::new(250),
        }
    }
}

/// The keys of the links in mail, and how long preferences links work.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkSettings {
    /// Keys by id (a letter, then letters and digits): hex secrets of at least 32 bytes
    /// (`openssl rand -hex 32`). Every one verifies links; `sign_with` signs new ones.
    pub keys: BTreeMap<String, Secret<String>>,
    /// The key new links are signed with; by default the key stored in the database (`k0`).
    pub sign_with: Option<String>,
    /// Stop accepting links signed with the stored key (after rotating to a configured one,
    /// once the mail that carries them is old enough).
    pub retire_stored_key: bool,
    /// How long a preferences link (which shows the address and can erase it) works.
    pub preferences_ttl_days: NonZeroU32,
}

impl Default for LinkSettings {
    fn default() -> Self {
        Self {
            keys: BTreeMap::new(),
            sign_with: None,
            retire_stored_key: false,
            preferences_ttl_days: nz32(30),
        }
    }
}

impl LinkSettings {
    /// The configured keys as `(id, secret)`, or what is wrong with them.
    pub fn decoded_keys(&self) -> Result<Vec<(String, Vec<u8>)>, String> {
        let mut keys = Vec::with_capacity(self.keys.len());
        for (id, secret) in &self.keys {
            let id_ok = id.starts_with(|c: char| c.is_ascii_alphabetic())
                && id.len() <= 16
                && id.bytes().all(|b| b.is_ascii_alphanumeric());
            if !id_ok || id == crate::links::STORED_KEY_ID {
                return Err(format!(
                    "key id {id:?}: a letter then up to 15 letters or digits, not k0"
                ));
            }
            let bytes = hex::decode(secret.expose().trim())
                .ok()
                .filter(|b| b.len() >= 32)
                .ok_or_else(|| format!("key {id:?}: at least 32 bytes in hex"))?;
            keys.push((id.clone(), bytes));
        }
        let known = |id: &String| id == crate::links::STORED_KEY_ID || self.keys.contains_key(id);
        match &self.sign_with {
            Some(id) if !known(id) => Err(format!("sign_with {id:?} names no key")),
            None if self.retire_stored_key => Err("retire_stored_key needs sign_with".into()),
            Some(id) if self.retire_stored_key && id == crate::links::STORED_KEY_ID => {
                Err("cannot sign with the retired stored key".into())
            }
            _ => Ok(keys),
        }
    }
}

/// What the service may fetch on someone's behalf (feeds, later article pages and webhooks).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundSettings {
    /// Hosts, addresses or networks inside your own network that may still be fetched
    /// (e.g. `["feeds.intranet.example", "10.1.0.0/16"]`); everything internal is refused
    /// otherwise.
    pub allow: Vec<Allowed>,
}

/// Polling RSS and Atom feeds for articles.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedSettings {
    /// Run the poller inside `serve`.
    pub enabled: bool,
    /// How often a new feed is polled unless `feed add --interval` says otherwise (60 s to
    /// 7 days).
    pub default_interval_secs: FeedInterval,
    /// How often the poller looks for due feeds.
    pub check_every_secs: Secs,
    /// Feeds fetched at once by one instance.
    pub concurrency: NonZeroUsize,
    /// Time to open the connection (TLS included).
    pub connect_timeout_secs: Secs,
    /// Time a whole fetch may take, body included.
    pub timeout_secs: Secs,
    /// Largest feed document accepted, in bytes.
    pub max_bytes: NonZeroU64,
}

impl Default for FeedSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            default_interval_secs: FeedInterval::from_secs(30 * 60).expect("a valid default"),
            check_every_secs: Secs::new(30),
            concurrency: nzsize(4),
            connect_timeout_secs: Secs::new(10),
            timeout_secs: Secs::new(30),
            max_bytes: NonZeroU64::new(5 * 1024 * 1024).expect("not zero"),
        }
    }
}

/// Staff accounts and the admin pages.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaffSettings {
    /// A session unused this long ends (the person signs in again).
    pub session_idle_minutes: NonZeroU32,
    /// A session ends this long after sign-in, however busy.
    pub session_hours: NonZeroU32,
    /// How long the first start's set-up link and a new account's password link work.
    pub link_hours: NonZeroU32,
    /// Failed sign-ins per account, and per client address, in 15 minutes before further
    /// attempts are refused until the window has passed.
    pub failures_per_account: NonZeroU32,
    pub failures_per_ip: NonZeroU32,
    /// The largest CSV file an admin may upload for an import.
    pub max_upload_bytes: NonZeroU64,
    /// Where uploaded import files wait between upload and import (removed afterwards). With
    /// several instances behind a balancer, a folder they share.
    pub upload_dir: PathBuf,
}

impl Default for StaffSettings {
    fn default() -> Self {
        Self {
            session_idle_minutes: nz32(120),
            session_hours: nz32(12),
            link_hours: nz32(72),
            failures_per_account: nz32(5),
            failures_per_ip: nz32(20),
            max_upload_bytes: NonZeroU64::new(200 * 1024 * 1024).expect("not zero"),
            upload_dir: PathBuf::from("data/uploads"),
        }
    }
}
