//! The SMTP relay's URL.

use serde::Deserialize;
use url::Url;

use super::Secret;

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
}
