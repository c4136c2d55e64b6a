use std::fmt;

use super::DomainError;

const MAX_URL: usize = 2_048;
const MIN_INTERVAL_SECS: i64 = 60;
const MAX_INTERVAL_SECS: i64 = 7 * 24 * 3600;

/// The address of an RSS or Atom feed: an absolute http(s) URL of at most 2,048 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedUrl(String);

impl FeedUrl {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let s = s.trim();
        let url = url::Url::parse(s)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .filter(|_| s.len() <= MAX_URL)
            .ok_or(DomainError::InvalidFeed(
                "the feed address must be an http(s) URL of at most 2,048 characters",
            ))?;
        Ok(Self(url.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How often a feed is polled: one minute to seven days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedInterval(i64);

impl FeedInterval {
    /// Parses `90s`, `30m`, `2h`, `1d` or a plain number of seconds.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let s = s.trim();
        let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => s.split_at(i),
            None => (s, "s"),
        };
        let factor = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(Self::invalid()),
        };
        let n: i64 = digits.parse().map_err(|_| Self::invalid())?;
        Self::from_secs(n.checked_mul(factor).ok_or_else(Self::invalid)?)
    }

    /// Checks a number of seconds (from the settings).
    pub fn from_secs(secs: i64) -> Result<Self, DomainError> {
        if (MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(Self::invalid())
        }
    }

    pub fn secs(self) -> i64 {
        self.0
    }

    fn invalid() -> DomainError {
        DomainError::InvalidFeed("the interval must be 1m to 7d, written like 90s, 30m, 2h or 1d")
    }
}

/// The largest whole unit: `30m`, `2h`, `90s`.
impl fmt::Display for FeedInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        match s {
            _ if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            _ if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            _ if s % 60 == 0 => write!(f, "{}m", s / 60),
            _ => write!(f, "{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_with_units_and_stay_in_range() {
        assert_eq!(FeedInterval::parse("30m").unwrap().secs(), 1800);
        assert_eq!(FeedInterval::parse("90").unwrap().secs(), 90);
        assert_eq!(FeedInterval::parse("1d").unwrap().to_string(), "1d");
        assert_eq!(FeedInterval::parse("90s").unwrap().to_string(), "90s");
        for bad in ["", "30", "10x", "m", "8d", "-5m", "99999999999999999d"] {
            assert!(FeedInterval::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn feed_urls_must_be_http() {
        assert_eq!(
            FeedUrl::parse(" https://example.org/feed.xml ")
                .unwrap()
                .as_str(),
            "https://example.org/feed.xml"
        );
        for bad in [
            "example.org/feed",
            "ftp://example.org/f",
            "file:///etc/passwd",
        ] {
            assert!(FeedUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
