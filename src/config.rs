//! Typed settings: defaults in code, then an optional TOML file, then environment variables.
//! Built once in `main` and passed down; secrets are wrapped so they never print.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::Url;

/// A value that must not reach logs: `Debug` prints `[redacted]`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Self(value)
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Everything the service can be told.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// Public URL readers reach the service at; links in mail start with it.
    pub base_url: Url,
    /// `sqlite://path` or `postgres://user:pass@host/db` (may hold a password).
    pub database_url: Secret<String>,
    /// Connections in the pool of each instance.
    pub db_pool_size: u32,
    /// On a database with no list at all, create a public list so the form is usable at once.
    pub seed_default_list: bool,
    /// `text` or `json`.
    pub log_format: LogFormat,
    pub mail: MailSettings,
    pub signup: SignupSettings,
    pub worker: WorkerSettings,
    pub delivery: DeliverySettings,
    /// Bearer token for the editors' JSON API (`POST /api/articles`); the API is off without.
    pub api_token: Option<Secret<String>>,
    pub feeds: FeedSettings,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
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
    pub from: String,
    /// Seconds a whole SMTP exchange for one message may take.
    pub send_timeout_secs: u64,
    /// Concurrent SMTP connections per instance.
    pub connections: usize,
    /// Mailbox that also takes unsubscribe requests (`List-Unsubscribe: <mailto:...>`), for
    /// mail programs that do not do RFC 8058; an operator reads or scripts it.
    pub unsubscribe_mailto: Option<String>,
    pub dkim: DkimSettings,
}

/// DKIM signing of every outgoing message; off until `key_file` is set.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct DkimSettings {
    /// The signing domain (`d=`): the domain of the lists' From addresses, for DMARC alignment.
    pub domain: Option<String>,
    /// The selector (`s=`): the public key is published at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// A PEM file (RSA as PKCS#1 or PKCS#8, Ed25519 as PKCS#8) or a file holding the base64
    /// Ed25519 seed.
    pub key_file: Option<PathBuf>,
}

impl Default for DkimSettings {
    fn default() -> Self {
        Self {
            domain: None,
            selector: "iscriviti".to_owned(),
            key_file: None,
        }
    }
}

/// Signup behaviour and abuse limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignupSettings {
    /// How long a confirmation link works.
    pub confirm_ttl_secs: i64,
    /// Confirmation mails per address per hour; further signups are answered the same but send
    /// nothing.
    pub resend_per_hour: i64,
    /// Signup requests per client per minute (0 disables the limit), counted by each
    /// instance; an IPv6 client is its /64.
    pub per_ip_per_minute: u32,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy you trust).
    pub trust_proxy_headers: bool,
    /// How many trusted proxies stand in front and append to `X-Forwarded-For` (a load
    /// balancer: 1; a CDN then a load balancer: 2). The client is the entry that many from
    /// the right; what the client wrote further left is ignored.
    pub trusted_proxies: u8,
}

impl SignupSettings {
    /// How many `X-Forwarded-For` entries from the right to look (0: use the peer address).
    pub fn proxies(&self) -> u8 {
        if self.trust_proxy_headers {
            self.trusted_proxies.max(1)
        } else {
            0
        }
    }
}

/// The outbox worker.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Run the worker inside `serve`.
    pub enabled: bool,
    /// How often to look for due mail when nothing wakes the worker.
    pub poll_interval_ms: u64,
    /// Rows leased per claim.
    pub batch_size: i64,
    /// How long a lease lasts unless renewed (the heartbeat renews it while the instance
    /// lives): how soon a dead instance's mail is taken over.
    pub lease_secs: i64,
    /// First retry delay after a temporary failure; doubles each attempt.
    pub retry_base_ms: i64,
    /// Longest retry delay.
    pub retry_max_ms: i64,
    /// Attempts before a temporarily failing message is given up as failed.
    pub max_attempts: i32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_url: Url::parse("http://127.0.0.1:8080").expect("static URL"),
            database_url: Secret::new("sqlite://data/iscriviti.db".to_owned()),
            db_pool_size: 8,
            seed_default_list: true,
            log_format: LogFormat::Text,
            mail: MailSettings::default(),
            signup: SignupSettings::default(),
            worker: WorkerSettings::default(),
            delivery: DeliverySettings::default(),
            api_token: None,
            feeds: FeedSettings::default(),
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
    pub connections: usize,
    /// Deliveries leased per claim.
    pub batch_size: i64,
    /// How long a lease lasts unless renewed: the instance's heartbeat renews its leases
    /// three times per lease, so this is how soon another instance takes over the deliveries
    /// of one that died.
    pub lease_secs: i64,
    /// Cap on digest messages per second for this instance (0: none).
    pub messages_per_second: u32,
    /// Cap on digest messages per second to one recipient domain (0: none).
    pub per_domain_per_second: u32,
    /// How often to look for work when idle (one read query; a digest started by another
    /// process begins within this).
    pub poll_interval_ms: u64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            connections: 8,
            batch_size: 500,
            lease_secs: 30,
            messages_per_second: 0,
            per_domain_per_second: 0,
            poll_interval_ms: 250,
        }
    }
}

/// Polling RSS and Atom feeds for articles.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedSettings {
    /// Run the poller inside `serve`.
    pub enabled: bool,
    /// How often a new feed is polled unless `feed add --interval` says otherwise.
    pub default_interval_secs: i64,
    /// How often the poller looks for due feeds.
    pub check_every_secs: u64,
    /// Feeds fetched at once by one instance.
    pub concurrency: usize,
    /// Seconds to open the connection (TLS included).
    pub connect_timeout_secs: u64,
    /// Seconds a whole fetch may take, body included.
    pub timeout_secs: u64,
    /// Largest feed document accepted, in bytes.
    pub max_bytes: u64,
}

impl Default for FeedSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            default_interval_secs: 30 * 60,
            check_every_secs: 30,
            concurrency: 4,
            connect_timeout_secs: 10,
            timeout_secs: 30,
            max_bytes: 5 * 1024 * 1024,
        }
    }
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            dir: PathBuf::from("data/mail"),
            from: "Iscriviti <newsletter@localhost.localdomain>".to_owned(),
            send_timeout_secs: 30,
            connections: 4,
            unsubscribe_mailto: None,
            dkim: DkimSettings::default(),
        }
    }
}

impl Default for SignupSettings {
    fn default() -> Self {
        Self {
            confirm_ttl_secs: 48 * 3600,
            resend_per_hour: 3,
            per_ip_per_minute: 20,
            trust_proxy_headers: false,
            trusted_proxies: 1,
        }
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval_ms: 1000,
            batch_size: 32,
            lease_secs: 30,
            retry_base_ms: 30_000,
            retry_max_ms: 3_600_000,
            max_attempts: 12,
        }
    }
}

/// TLS on an SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text (a relay on localhost or a test sink).
    None,
    /// Plain connection upgraded with STARTTLS, which must succeed.
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

/// A parsed SMTP relay URL: `smtp://[user:pass@]host[:port][?tls=starttls]` or `smtps://...`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Secret<String>>,
}

impl TryFrom<String> for SmtpUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        SmtpUrl::parse(&s)
    }
}

impl SmtpUrl {
    /// Parses the URL, saying what is wrong with it.
    pub fn parse(input: &str) -> Result<Self, String> {
        let url = Url::parse(input).map_err(|e| format!("invalid SMTP URL: {e}"))?;
        let tls_param = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let tls = match (url.scheme(), tls_param.as_deref()) {
            ("smtps", None | Some("implicit")) => SmtpTls::Implicit,
            ("smtp", None | Some("none")) => SmtpTls::None,
            ("smtp", Some("starttls")) => SmtpTls::StartTls,
            ("smtp" | "smtps", Some(other)) => {
                return Err(format!(
                    "unknown tls={other} in the SMTP URL (use starttls, none or smtps://)"
                ))
            }
            (scheme, _) => {
                return Err(format!(
                    "the SMTP URL must start with smtp:// or smtps:// (got {scheme}://)"
                ))
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("the SMTP URL has no host")?
            .trim_matches(['[', ']'])
            .to_owned();
        let default_port = match tls {
            SmtpTls::Implicit => 465,
            SmtpTls::StartTls => 587,
            SmtpTls::None => 25,
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|v| v.into_owned())
                .map_err(|_| "the SMTP URL's user or password is not valid UTF-8".to_owned())
        };
        let username = (!url.username().is_empty())
            .then(|| decode(url.username()))
            .transpose()?;
        let password = url.password().map(decode).transpose()?.map(Secret::new);
        Ok(Self {
            host,
            port: url.port().unwrap_or(default_port),
            tls,
            username,
            password,
        })
    }
}

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read the configuration file {path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error("the configuration file {path} is invalid: {cause}")]
    Parse {
        path: String,
        cause: Box<toml::de::Error>,
    },
    #[error("the environment variable {name} is invalid: {reason}")]
    Env { name: &'static str, reason: String },
}

impl Settings {
    /// Defaults, then `file` (or `./iscriviti.toml` when it exists), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let default_file = Path::new("iscriviti.toml");
        let file = file.or_else(|| default_file.exists().then_some(default_file));
        let mut settings = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        settings.apply_env(|name| std::env::var(name).ok())?;
        Ok(settings)
    }

    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.display().to_string(),
            cause,
        })?;
        toml::from_str(&text).map_err(|cause| ConfigError::Parse {
            path: path.display().to_string(),
            cause: Box::new(cause),
        })
    }

    /// Applies the environment overrides, read through `var` so tests need not touch the
    /// process environment.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parsed<T: std::str::FromStr>(name: &'static str, v: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            v.parse().map_err(|e: T::Err| ConfigError::Env {
                name,
                reason: e.to_string(),
            })
        }
        if let Some(v) = var("DATABASE_URL") {
            self.database_url = Secret::new(v);
        }
        if let Some(v) = var("ISCRIVITI_BIND") {
            self.bind = parsed("ISCRIVITI_BIND", v)?;
        }
        if let Some(v) = var("ISCRIVITI_BASE_URL") {
            self.base_url = parsed("ISCRIVITI_BASE_URL", v)?;
        }
        if let Some(v) = var("ISCRIVITI_SMTP_URL") {
            self.mail.smtp_url = Some(SmtpUrl::parse(&v).map_err(|reason| ConfigError::Env {
                name: "ISCRIVITI_SMTP_URL",
                reason,
            })?);
        }
        if let Some(v) = var("ISCRIVITI_MAIL_DIR") {
            self.mail.dir = PathBuf::from(v);
        }
        if let Some(v) = var("ISCRIVITI_MAIL_FROM") {
            self.mail.from = v;
        }
        if let Some(v) = var("ISCRIVITI_LOG_FORMAT") {
            self.log_format = match v.as_str() {
                "json" => LogFormat::Json,
                "text" => LogFormat::Text,
                _ => {
                    return Err(ConfigError::Env {
                        name: "ISCRIVITI_LOG_FORMAT",
                        reason: "use text or json".into(),
                    })
                }
            };
        }
        if let Some(v) = var("ISCRIVITI_SMTP_CONNECTIONS") {
            self.mail.connections = parsed("ISCRIVITI_SMTP_CONNECTIONS", v)?;
        }
        if let Some(v) = var("ISCRIVITI_DIGEST_CONNECTIONS") {
            self.delivery.connections = parsed("ISCRIVITI_DIGEST_CONNECTIONS", v)?;
        }
        if let Some(v) = var("ISCRIVITI_DIGEST_BATCH_SIZE") {
            self.delivery.batch_size = parsed("ISCRIVITI_DIGEST_BATCH_SIZE", v)?;
        }
        if let Some(v) = var("ISCRIVITI_DIGEST_MESSAGES_PER_SECOND") {
            self.delivery.messages_per_second = parsed("ISCRIVITI_DIGEST_MESSAGES_PER_SECOND", v)?;
        }
        if let Some(v) = var("ISCRIVITI_API_TOKEN") {
            self.api_token = Some(Secret::new(v));
        }
        if let Some(v) = var("ISCRIVITI_UNSUBSCRIBE_MAILTO") {
            self.mail.unsubscribe_mailto = Some(v);
        }
        if let Some(v) = var("ISCRIVITI_DKIM_DOMAIN") {
            self.mail.dkim.domain = Some(v);
        }
        if let Some(v) = var("ISCRIVITI_DKIM_SELECTOR") {
            self.mail.dkim.selector = v;
        }
        if let Some(v) = var("ISCRIVITI_DKIM_KEY_FILE") {
            self.mail.dkim.key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = var("ISCRIVITI_SIGNUPS_PER_IP_PER_MINUTE") {
            self.signup.per_ip_per_minute = parsed("ISCRIVITI_SIGNUPS_PER_IP_PER_MINUTE", v)?;
        }
        if let Some(v) = var("ISCRIVITI_FEEDS_ENABLED") {
            self.feeds.enabled = parsed("ISCRIVITI_FEEDS_ENABLED", v)?;
        }
        if let Some(v) = var("ISCRIVITI_FEED_INTERVAL_SECS") {
            self.feeds.default_interval_secs = parsed("ISCRIVITI_FEED_INTERVAL_SECS", v)?;
        }
        if let Some(v) = var("ISCRIVITI_FEED_TIMEOUT_SECS") {
            self.feeds.timeout_secs = parsed("ISCRIVITI_FEED_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = var("ISCRIVITI_FEED_MAX_BYTES") {
            self.feeds.max_bytes = parsed("ISCRIVITI_FEED_MAX_BYTES", v)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_parse_with_tls_modes_and_credentials() {
        let u = SmtpUrl::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.tls),
            ("127.0.0.1", 2525, SmtpTls::None)
        );
        let u =
            SmtpUrl::parse("smtp://mario%40x.it:p%C3%A0ss@relay.example.org?tls=starttls").unwrap();
        assert_eq!(u.tls, SmtpTls::StartTls);
        assert_eq!(u.port, 587);
        assert_eq!(u.username.as_deref(), Some("mario@x.it"));
        assert_eq!(u.password.as_ref().unwrap().expose(), "pàss");
        assert!(!format!("{u:?}").contains("pàss"));
        assert_eq!(
            SmtpUrl::parse("smtps://relay.example.org").unwrap().port,
            465
        );
        assert!(SmtpUrl::parse("http://x").is_err());
        assert!(SmtpUrl::parse("smtp://x?tls=maybe").is_err());
    }

    #[test]
    fn environment_overrides_defaults_and_file() {
        let mut s: Settings =
            toml::from_str("bind = \"0.0.0.0:9000\"\n[signup]\nresend_per_hour = 5\n").unwrap();
        s.apply_env(|k| (k == "DATABASE_URL").then(|| "postgres://u:secret@h/db".to_owned()))
            .unwrap();
        assert_eq!(s.bind.port(), 9000);
        assert_eq!(s.signup.resend_per_hour, 5);
        assert_eq!(s.database_url.expose(), "postgres://u:secret@h/db");
        assert!(!format!("{s:?}").contains("secret"));
        assert!(toml::from_str::<Settings>("nonsense = 1").is_err());
    }

    #[test]
    fn feed_settings_come_from_the_file_and_the_environment() {
        let mut s: Settings =
            toml::from_str("[feeds]\nenabled = false\nmax_bytes = 1000\n").unwrap();
        s.apply_env(|k| (k == "ISCRIVITI_FEED_TIMEOUT_SECS").then(|| "5".to_owned()))
            .unwrap();
        assert!(!s.feeds.enabled);
        assert_eq!((s.feeds.max_bytes, s.feeds.timeout_secs), (1000, 5));
        assert_eq!(s.feeds.default_interval_secs, 1800);
        assert!(s
            .apply_env(|k| (k == "ISCRIVITI_FEEDS_ENABLED").then(|| "maybe".to_owned()))
            .is_err());
    }
}
