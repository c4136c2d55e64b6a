//! Typed settings: defaults in code, then an optional TOML file, then environment variables.
//! Built once in `main` and passed down; every value is parsed into its type at load, and an
//! invalid one stops the start with an error that names the setting. Secrets never print.

mod sections;
mod smtp;
mod values;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;
use url::Url;
use validator::Validate;

pub use sections::{
    DeliverySettings, DkimSettings, FeedSettings, LinkSettings, MailSettings, OutboundSettings,
    SignupSettings, StaffSettings, WorkerSettings,
};
pub use smtp::{SmtpTls, SmtpUrl};
pub use values::{Millis, Secret, Secs};

use crate::domain::{DnsName, FeedInterval, Sender, SubscriberEmail};

/// Everything the service can be told.
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// Public URL readers reach the service at; links in mail start with it.
    pub base_url: Url,
    /// `sqlite://path` or `postgres://user:pass@host/db` (may hold a password).
    pub database_url: Secret<String>,
    /// Connections in the pool of each instance: at least 2 (the engine's lanes, the outbox
    /// worker and the heartbeat each hold one at times).
    #[validate(range(min = 2, message = "must be at least 2"))]
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
    #[validate(custom(function = "long_enough_token"))]
    pub api_token: Option<Secret<String>>,
    pub feeds: FeedSettings,
    pub outbound: OutboundSettings,
    pub links: LinkSettings,
    pub staff: StaffSettings,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
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
            outbound: OutboundSettings::default(),
            links: LinkSettings::default(),
            staff: StaffSettings::default(),
        }
    }
}

fn long_enough_token(token: &Secret<String>) -> Result<(), validator::ValidationError> {
    match token.expose().trim().len() >= 24 {
        true => Ok(()),
        false => Err(validator::ValidationError::new("length")
            .with_message("must be at least 24 characters (e.g. `openssl rand -hex 24`)".into())),
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
    #[error("the setting {setting} {reason}")]
    Invalid { setting: String, reason: String },
}

impl Settings {
    /// Defaults, then `file` (or `./iscriviti.toml` when it exists), then the environment;
    /// then the checks that span settings.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let default_file = Path::new("iscriviti.toml");
        let file = file.or_else(|| default_file.exists().then_some(default_file));
        let mut settings = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        settings.apply_env(|name| std::env::var(name).ok())?;
        settings.check()?;
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

    /// What no single value's type can say: ranges, and settings that need one another.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Err(errors) = self.validate() {
            let (field, problems) = errors
                .field_errors()
                .into_iter()
                .next()
                .expect("an error names its field");
            let reason = problems
                .iter()
                .filter_map(|p| p.message.as_deref())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(ConfigError::Invalid {
                setting: field.to_string(),
                reason,
            });
        }
        if self.mail.dkim.key_file.is_some() && self.mail.dkim.domain.is_none() {
            return Err(ConfigError::Invalid {
                setting: "mail.dkim.domain (ISCRIVITI_DKIM_DOMAIN)".into(),
                reason: "is required with a key file".into(),
            });
        }
        if let Err(reason) = self.links.decoded_keys() {
            return Err(ConfigError::Invalid {
                setting: "links".into(),
                reason,
            });
        }
        if self.worker.retry_max_ms.get() < self.worker.retry_base_ms.get() {
            return Err(ConfigError::Invalid {
                setting: "worker.retry_max_ms".into(),
                reason: "must not be shorter than worker.retry_base_ms".into(),
            });
        }
        Ok(())
    }

    /// Applies the environment overrides, read through `var` so tests need not touch the
    /// process environment.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn typed<T>(
            name: &'static str,
            v: String,
            parse: impl FnOnce(&str) -> Result<T, String>,
        ) -> Result<T, ConfigError> {
            parse(v.trim()).map_err(|reason| ConfigError::Env { name, reason })
        }
        fn parsed<T: FromStr>(name: &'static str, v: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            typed(name, v, |s| s.parse().map_err(|e: T::Err| e.to_string()))
        }
        let env = |name: &'static str| var(name).map(|v| (name, v));
        if let Some((_, v)) = env("DATABASE_URL") {
            self.database_url = Secret::new(v);
        }
        if let Some((n, v)) = env("ISCRIVITI_BIND") {
            self.bind = parsed(n, v)?;
        }
        if let Some((n, v)) = env("ISCRIVITI_BASE_URL") {
            self.base_url = parsed(n, v)?;
        }
        if let Some((n, v)) = env("ISCRIVITI_SMTP_URL") {
            self.mail.smtp_url = Some(typed(n, v, SmtpUrl::parse)?);
        }
        if let Some((_, v)) = env("ISCRIVITI_MAIL_DIR") {
            self.mail.dir = PathBuf::from(v);
        }
        if let Some((n, v)) = env("ISCRIVITI_MAIL_FROM") {
            self.mail.from = typed(n, v, |s| Sender::parse(s).map_err(|e| e.to_string()))?;
        }
        if let Some((n, v)) = env("ISCRIVITI_LOG_FORMAT") {
            self.log_format = typed(n, v, |s| match s {
                "json" => Ok(LogFormat::Json),
                "text" => Ok(LogFormat::Text),
                _ => Err("use text or json".into()),
            })?;
        }
        if let Some((n, v)) = env("ISCRIVITI_SMTP_CONNECTIONS") {
            self.mail.connections = parsed(n, v)?;
        }
        if let Some((n, v)) = env("ISCRIVITI_DIGEST_CONNECTIONS") {
            self.delivery.connections = parsed(n, v)?;
        }
        if let Some((n, v)) = env("ISCRIVITI_DIGEST_BATCH_SIZE") {
            self.delivery.batch_size = parsed(n, v)?;
        }
        if let Some((n, v)) = env("ISCRIVITI_DIGEST_MESSAGES_PER_SECOND") {
            self.delivery.messages_per_second = parsed(n, v)?;
        }
        if let Some((_, v)) = env("ISCRIVITI_API_TOKEN") {
            self.api_token = Some(Secret::new(v));
        }
        if let Some((n, v)) = env("ISCRIVITI_UNSUBSCRIBE_MAILTO") {
            let address = typed(n, v, |s| {
                SubscriberEmail::parse(s).map_err(|e| e.to_string())
            })?;
            self.mail.unsubscribe_mailto = Some(address);
        }
        let dns = |s: &str| DnsName::parse(s).map_err(|e| e.to_string());
        if let Some((n, v)) = env("ISCRIVITI_DKIM_DOMAIN") {
            self.mail.dkim.domain = Some(typed(n, v, dns)?);
        }
        if let Some((n, v)) = env("ISCRIVITI_DKIM_SELECTOR") {
            self.mail.dkim.selector = typed(n, v, dns)?;
        }
        if let Some((_, v)) = env("ISCRIVITI_DKIM_KEY_FILE") {
            self.mail.dkim.key_file = Some(PathBuf::from(v));
        }
        if let Some((n, v)) = env("ISCRIVITI_SIGNUPS_PER_IP_PER_MINUTE") {
            self.signup.per_ip_per_minute = parsed(n, v)?;
        }
        if let Some((n, v)) = env("ISCRIVITI_FEEDS_ENABLED") {
            self.feeds.enabled = parsed(n, v)?;
        }
        if let Some((n, v)) = env("ISCRIVITI_FEED_INTERVAL_SECS") {
            self.feeds.default_interval_secs = typed(n, v, |s| {
                let secs: i64 = s.parse().map_err(|e| format!("{e}"))?;
                FeedInterval::from_secs(secs).map_err(|e| e.to_string())
            })?;
        }
        if let Some((n, v)) = env("ISCRIVITI_FEED_TIMEOUT_SECS") {
            self.feeds.timeout_secs = parsed(n, v)?;
        }
        if let Some((n, v)) = env("ISCRIVITI_FEED_MAX_BYTES") {
            self.feeds.max_bytes = parsed(n, v)?;
        }
        if let Some((n, v)) = env("ISCRIVITI_OUTBOUND_ALLOW") {
            self.outbound.allow = typed(n, v, |s| {
                s.split(',')
                    .filter(|e| !e.trim().is_empty())
                    .map(crate::outbound::Allowed::parse)
                    .collect()
            })?;
        }
        if let Some((_, v)) = env("ISCRIVITI_UPLOAD_DIR") {
            self.staff.upload_dir = v.into();
        }
        if let Some((n, v)) = env("ISCRIVITI_MAX_UPLOAD_BYTES") {
            self.staff.max_upload_bytes = parsed(n, v)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(s.feeds.max_bytes.get(), 1000);
        assert_eq!(s.feeds.timeout_secs, Secs::new(5));
        assert_eq!(s.feeds.default_interval_secs.secs(), 1800);
        assert!(s
            .apply_env(|k| (k == "ISCRIVITI_FEEDS_ENABLED").then(|| "maybe".to_owned()))
            .is_err());
    }

    /// Each value is parsed at load: a bad one is refused with its setting's name, in the
    /// file as in the environment.
    #[test]
    fn invalid_values_are_refused_at_load_naming_the_setting() {
        let file_error = |toml: &str| toml::from_str::<Settings>(toml).unwrap_err().to_string();
        for (toml, expect) in [
            ("[delivery]\nbatch_size = 0\n", "batch_size"),
            ("[worker]\nlease_secs = 0\n", "must be at least 1 second"),
            ("[mail]\nfrom = \"nobody\"\n", "from"),
            (
                "[mail]\nunsubscribe_mailto = \"not an address\"\n",
                "unsubscribe_mailto",
            ),
            ("[mail.dkim]\ndomain = \"exa mple.org\"\n", "domain"),
            (
                "[feeds]\ndefault_interval_secs = 5\n",
                "default_interval_secs",
            ),
        ] {
            let e = file_error(toml);
            assert!(e.contains(expect), "{toml:?}: {e}");
        }
        let env_error = |name: &'static str, value: &'static str| {
            let mut s = Settings::default();
            s.apply_env(|k| (k == name).then(|| value.to_owned()))
                .unwrap_err()
                .to_string()
        };
        assert!(env_error("ISCRIVITI_MAIL_FROM", "nobody").contains("ISCRIVITI_MAIL_FROM"));
        assert!(env_error("ISCRIVITI_DIGEST_BATCH_SIZE", "0").contains("BATCH_SIZE"));
        assert!(env_error("ISCRIVITI_DKIM_DOMAIN", "a b").contains("ISCRIVITI_DKIM_DOMAIN"));
        let checked = |toml: &str| {
            let s: Settings = toml::from_str(toml).unwrap();
            s.check().map_err(|e| e.to_string())
        };
        assert_eq!(
            checked("db_pool_size = 1\n").unwrap_err(),
            "the setting db_pool_size must be at least 2"
        );
        assert!(checked("api_token = \"short\"\n")
            .unwrap_err()
            .contains("api_token must be at least 24 characters"));
        assert!(checked("[mail.dkim]\nkey_file = \"k.pem\"\n")
            .unwrap_err()
            .contains("mail.dkim.domain"));
        assert!(checked("[worker]\nretry_base_ms = 500\nretry_max_ms = 100\n").is_err());
        assert!(checked("").is_ok());
    }
}
