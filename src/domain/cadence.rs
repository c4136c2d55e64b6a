use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;

use super::DomainError;

/// When a list's automatic digest goes out: every day, or on some weekdays, at a local time in
/// the list's time zone. Written `daily 08:00` or `weekly mon,thu 07:30`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cadence {
    /// Empty for daily.
    days: Vec<Weekday>,
    at: NaiveTime,
}

const HELP: &str = "a cadence is \"daily HH:MM\" or \"weekly mon[,tue...] HH:MM\"";

impl Cadence {
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::InvalidCadence(HELP);
        let words: Vec<String> = input
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        let (days, time) = match words.as_slice() {
            [kind, time] if kind == "daily" => (Vec::new(), time),
            [kind, days, time] if kind == "weekly" => {
                let mut parsed = Vec::new();
                for d in days.split(',') {
                    let day: Weekday = d.parse().map_err(|_| bad())?;
                    if !parsed.contains(&day) {
                        parsed.push(day);
                    }
                }
                parsed.sort_by_key(Weekday::num_days_from_monday);
                (parsed, time)
            }
            _ => return Err(bad()),
        };
        let at = NaiveTime::parse_from_str(time, "%H:%M").map_err(|_| bad())?;
        Ok(Self { days, at })
    }

    /// The first time after `after` (naive UTC) at which the digest goes out, as naive UTC.
    /// A local time skipped by a daylight-saving change moves on by an hour; a repeated one
    /// takes its first occurrence.
    pub fn next_after(&self, tz: Tz, after: NaiveDateTime) -> NaiveDateTime {
        let local_today: NaiveDate = tz.from_utc_datetime(&after).date_naive();
        (0..=8u64)
            .filter_map(|n| local_today.checked_add_days(Days::new(n)))
            .filter(|d| self.days.is_empty() || self.days.contains(&d.weekday()))
            .filter_map(|d| {
                let local = d.and_time(self.at);
                tz.from_local_datetime(&local)
                    .earliest()
                    .or_else(|| {
                        tz.from_local_datetime(&(local + chrono::Duration::hours(1)))
                            .earliest()
                    })
                    .map(|t| t.naive_utc())
            })
            .find(|t| *t > after)
            .expect("a matching day comes within eight days")
    }
}

impl std::fmt::Display for Cadence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.at.format("%H:%M");
        if self.days.is_empty() {
            return write!(f, "daily {at}");
        }
        let days: Vec<String> = self
            .days
            .iter()
            .map(|d| d.to_string().to_ascii_lowercase())
            .collect();
        write!(f, "weekly {} {at}", days.join(","))
    }
}

/// An IANA time zone name such as `Europe/Rome`.
pub fn parse_time_zone(name: &str) -> Result<Tz, DomainError> {
    name.trim().parse().map_err(|_| {
        DomainError::InvalidCadence("the time zone must be an IANA name such as Europe/Rome")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn cadences_parse_and_print_back() {
        let c = Cadence::parse("Weekly thu,MON 07:30").unwrap();
        assert_eq!(c.to_string(), "weekly mon,thu 07:30");
        assert_eq!(
            Cadence::parse("daily 8:05").unwrap().to_string(),
            "daily 08:05"
        );
        for bad in [
            "",
            "weekly 08:00",
            "monthly 1 08:00",
            "daily 25:00",
            "weekly xyz 08:00",
        ] {
            assert!(Cadence::parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse_time_zone("Europe/Rome").is_ok());
        assert!(parse_time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn the_next_run_is_local_time_in_the_list_time_zone() {
        let rome: Tz = "Europe/Rome".parse().unwrap();
        let monday_8 = Cadence::parse("weekly mon 08:00").unwrap();
        // Saturday 28 November 2026, noon UTC: next Monday 08:00 in Rome is 07:00 UTC (CET).
        assert_eq!(
            monday_8.next_after(rome, utc("2026-11-28 12:00")),
            utc("2026-11-30 07:00")
        );
        // Exactly at the run time, the next one is a week later.
        assert_eq!(
            monday_8.next_after(rome, utc("2026-11-30 07:00")),
            utc("2026-12-07 07:00")
        );
        // Summer time (CEST): 08:00 in Rome is 06:00 UTC.
        assert_eq!(
            monday_8.next_after(rome, utc("2026-06-01 05:00")),
            utc("2026-06-01 06:00")
        );
        // 02:30 does not exist on 29 March 2026 in Rome: it moves to 03:30 CEST (01:30 UTC).
        let night = Cadence::parse("daily 02:30").unwrap();
        assert_eq!(
            night.next_after(rome, utc("2026-03-28 23:00")),
            utc("2026-03-29 01:30")
        );
    }
}
