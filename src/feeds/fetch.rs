//! Fetching a feed document: connect and total timeouts, a size cap, a conditional GET.

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;

use crate::config::FeedSettings;
use crate::db::feeds::Validators;
use crate::outbound::{Policy, Refused};

/// What the server sent.
#[derive(Debug)]
pub enum Fetched {
    /// 304: nothing changed since the validators we sent.
    NotModified,
    /// A full document, its address after redirects, and its validators.
    Document {
        body: Vec<u8>,
        url: String,
        validators: Validators,
    },
}

/// Why a fetch failed. Messages never carry the feed's URL (it may hold an access token).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the server answered HTTP {0}")]
    Status(StatusCode),
    #[error("no complete answer within {0} s")]
    Timeout(u64),
    #[error("the feed is larger than {0} bytes")]
    TooLarge(u64),
    /// The address is inside the operator's network (or the scheme is not http(s)); the
    /// message says no more than that about it.
    #[error("{0}")]
    Refused(Refused),
    #[error("{0}")]
    Transport(String),
}

/// An HTTP client configured for feeds; cheap to share.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Policy,
    timeout_secs: u64,
    max_bytes: u64,
}

impl Fetcher {
    /// `contact` (the service's public URL) goes into the User-Agent, so a feed's publisher
    /// can tell who polls them.
    pub fn new(settings: &FeedSettings, policy: Policy, contact: &str) -> reqwest::Result<Self> {
        let on_redirect = policy.clone();
        let client = reqwest::Client::builder()
            .user_agent(format!(
                "Iscriviti/{} (+{contact})",
                env!("CARGO_PKG_VERSION")
            ))
            .connect_timeout(settings.connect_timeout_secs.get())
            .timeout(settings.timeout_secs.get())
            // Every hop checked; host names are checked where they are resolved.
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 {
                    attempt.error("too many redirects")
                } else if let Err(refused) = on_redirect.check_url(attempt.url()) {
                    attempt.error(refused)
                } else {
                    attempt.follow()
                }
            }))
            .dns_resolver(policy.resolver())
            // Straight to the address checked: a proxy from the environment would connect
            // elsewhere on our behalf.
            .no_proxy()
            .build()?;
        Ok(Self {
            client,
            policy,
            timeout_secs: settings.timeout_secs.get().as_secs(),
            max_bytes: settings.max_bytes.get(),
        })
    }

    /// GETs `url`, sending `known` validators so an unchanged feed costs a 304.
    pub async fn fetch(&self, url: &str, known: &Validators) -> Result<Fetched, FetchError> {
        let parsed = url::Url::parse(url).map_err(|e| FetchError::Transport(e.to_string()))?;
        self.policy
            .check_url(&parsed)
            .map_err(FetchError::Refused)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/rss+xml, application/atom+xml, application/xml;q=0.9, \
                 text/xml;q=0.9, */*;q=0.5",
            ),
        );
        let conditional = [
            (header::IF_NONE_MATCH, &known.etag),
            (header::IF_MODIFIED_SINCE, &known.last_modified),
        ];
        for (name, value) in conditional {
            if let Some(v) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                headers.insert(name, v);
            }
        }
        let mut res = self
            .client
            .get(url)
            .headers(headers)
            .send()
            .await
            .map_err(|e| self.error(e))?;
        let status = res.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status(status));
        }
        if res.content_length().is_some_and(|n| n > self.max_bytes) {
            return Err(FetchError::TooLarge(self.max_bytes));
        }
        let header_text = |name| {
            res.headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let validators = Validators {
            etag: header_text(header::ETAG),
            last_modified: header_text(header::LAST_MODIFIED),
        };
        let final_url = res.url().to_string();
        // Read in chunks so a server that lies about (or omits) its length cannot make us
        // buffer more than the cap.
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| self.error(e))? {
            if (body.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Document {
            body,
            url: final_url,
            validators,
        })
    }

    fn error(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            return FetchError::Timeout(self.timeout_secs);
        }
        // reqwest's own message is vague ("error sending request"); the causes say what
        // happened (refused, DNS, TLS...).
        let e = e.without_url();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<Refused>() {
                return FetchError::Refused(*refused);
            }
            source = cause.source();
        }
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        FetchError::Transport(message)
    }
}
