//! The dashboard's numbers: subscribers per list and status, and signups and unsubscribes per
//! day.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::app::{AppContext, UseCaseError};
use crate::db::{self, lists, stats};
use crate::domain::SubscriptionStatus;

/// One list's subscriptions by status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListCounts {
    pub slug: String,
    pub name: String,
    pub archived: bool,
    pub pending: i64,
    pub confirmed: i64,
    pub unsubscribed: i64,
}

/// One day of the chart.
#[derive(Debug, Clone, Serialize)]
pub struct DayCounts {
    pub day: NaiveDate,
    pub signups: i64,
    pub unsubscribes: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub lists: Vec<ListCounts>,
    /// The last `days` days, oldest first, today included (UTC).
    pub days: Vec<DayCounts>,
}

/// The dashboard over the last `days` days.
pub async fn dashboard(state: &AppContext, days: u32) -> Result<Dashboard, UseCaseError> {
    let today = Utc::now().date_naive();
    let first = today - Duration::days(i64::from(days.max(1)) - 1);
    db::run(&state.pool, move |conn| {
        let since = first.and_hms_opt(0, 0, 0).expect("midnight exists");
        let all = lists::all(conn)?;
        let mut counts: HashMap<i64, ListCounts> = all
            .iter()
            .map(|l| {
                let c = ListCounts {
                    slug: l.slug.clone(),
                    name: l.name.clone(),
                    archived: l.archived,
                    ..ListCounts::default()
                };
                (l.id, c)
            })
            .collect();
        for (list_id, status, n) in stats::by_list_and_status(conn)? {
            let Some(c) = counts.get_mut(&list_id) else {
                continue;
            };
            match SubscriptionStatus::parse(&status) {
                Ok(SubscriptionStatus::Pending) => c.pending += n,
                Ok(SubscriptionStatus::Confirmed) => c.confirmed += n,
                Ok(SubscriptionStatus::Unsubscribed) => c.unsubscribed += n,
                Err(_) => {}
            }
        }
        let signups: HashMap<String, i64> =
            stats::signups_per_day(conn, since)?.into_iter().collect();
        let left: HashMap<String, i64> = stats::unsubscribes_per_day(conn, since)?
            .into_iter()
            .collect();
        let days = first
            .iter_days()
            .take_while(|d| *d <= today)
            .map(|day| {
                let key = day.format("%Y-%m-%d").to_string();
                DayCounts {
                    day,
                    signups: signups.get(&key).copied().unwrap_or(0),
                    unsubscribes: left.get(&key).copied().unwrap_or(0),
                }
            })
            .collect();
        let lists = all.iter().filter_map(|l| counts.remove(&l.id)).collect();
        Ok(Dashboard { lists, days })
    })
    .await
}
