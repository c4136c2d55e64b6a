//! Setting values that are more than their TOML type: secrets that never print, durations given
//! in seconds or milliseconds.

use std::time::Duration;

use serde::Deserialize;

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

/// Serialized (in an error report, say) as `[redacted]` too.
impl<T> serde::Serialize for Secret<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Defines a duration setting given as a positive whole number of `$unit`s.
macro_rules! duration_setting {
    ($(#[$meta:meta])* $name:ident, $from:ident, $unit:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
        #[serde(try_from = "u64")]
        pub struct $name(Duration);

        impl $name {
            /// `n` units; a default must not be zero.
            pub const fn new(n: u64) -> Self {
                assert!(n > 0, "a duration setting is at least one unit");
                Self(Duration::$from(n))
            }

            /// The duration.
            pub fn get(self) -> Duration {
                self.0
            }

            /// The duration for date arithmetic.
            pub fn chrono(self) -> chrono::Duration {
                chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
            }
        }

        impl TryFrom<u64> for $name {
            type Error = String;
            fn try_from(n: u64) -> Result<Self, String> {
                match n {
                    0 => Err(concat!("must be at least 1 ", $unit).to_owned()),
                    n => Ok(Self(Duration::$from(n))),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let n: u64 = s.trim().parse().map_err(|e| format!("{e}"))?;
                Self::try_from(n)
            }
        }
    };
}

duration_setting!(
    /// A duration set in whole seconds (the `*_secs` settings), at least one.
    Secs,
    from_secs,
    "second"
);

duration_setting!(
    /// A duration set in milliseconds (the `*_ms` settings), at least one.
    Millis,
    from_millis,
    "millisecond"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_refuse_zero_and_keep_their_unit() {
        assert_eq!(Secs::new(30).get(), Duration::from_secs(30));
        assert_eq!(
            "250".parse::<Millis>().unwrap().get(),
            Duration::from_millis(250)
        );
        assert_eq!(Secs::try_from(0).unwrap_err(), "must be at least 1 second");
        assert!("soon".parse::<Secs>().is_err());
        assert_eq!(Secs::new(2).chrono(), chrono::Duration::seconds(2));
    }
}
