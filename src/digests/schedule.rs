//! Automatic digests: a list's cadence ("weekly mon 08:00" in its time zone) builds and sends a
//! digest at each run time, only when there are new articles.

use chrono::{NaiveDateTime, Utc};
use chrono_tz::Tz;

use crate::app::UseCaseError;
use crate::db::{self, digests, lists, schedules, DbConnection, Pool};
use crate::domain::{parse_time_zone, Cadence, ListSlug};

/// Gives a list a cadence; returns the first run time (UTC).
pub async fn set_schedule(
    pool: &Pool,
    list: ListSlug,
    cadence: Cadence,
    tz: Tz,
) -> Result<NaiveDateTime, UseCaseError> {
    db::write(pool, move |conn| {
        let list = lists::by_slug(conn, list.as_str())?.ok_or(UseCaseError::UnknownList)?;
        let now = Utc::now().naive_utc();
        let next = cadence.next_after(tz, now);
        schedules::set(conn, list.id, &cadence.to_string(), tz.name(), next, now)?;
        Ok(next)
    })
    .await
}

/// Stops a list's automatic digests; returns whether it had a cadence.
pub async fn unset_schedule(pool: &Pool, list: ListSlug) -> Result<bool, UseCaseError> {
    db::write(pool, move |conn| {
        let list = lists::by_slug(conn, list.as_str())?.ok_or(UseCaseError::UnknownList)?;
        Ok(schedules::remove(conn, list.id)?)
    })
    .await
}

/// Every list's cadence, by slug.
pub async fn schedules(pool: &Pool) -> Result<Vec<(String, schedules::Schedule)>, UseCaseError> {
    db::run(pool, |conn| Ok(schedules::all(conn)?)).await
}

/// Runs the schedules that are due, inside the caller's write transaction: each one moves to
/// its next run time (compare-and-set, so one instance wins) and, when the list has articles
/// published since its last digest, a digest is created and started. Returns the digests
/// started.
pub fn run_due_schedules(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<Vec<i64>, UseCaseError> {
    let mut started = Vec::new();
    for s in schedules::due(conn, now)? {
        let (cadence, tz) = match (Cadence::parse(&s.cadence), parse_time_zone(&s.time_zone)) {
            (Ok(c), Ok(tz)) => (c, tz),
            // Only valid values are written; a hand-edited row is reported and looked at again
            // in a day, not retried hot.
            _ => {
                tracing::error!(
                    list_id = s.list_id,
                    "unreadable digest schedule; skipped for a day"
                );
                schedules::advance(
                    conn,
                    s.list_id,
                    s.next_run_at,
                    now + chrono::Duration::days(1),
                )?;
                continue;
            }
        };
        // Missed runs (the service was down) collapse into this one.
        let next = cadence.next_after(tz, now);
        if !schedules::advance(conn, s.list_id, s.next_run_at, next)? {
            continue;
        }
        let Some(list) = lists::by_ids(conn, &[s.list_id])?.into_iter().next() else {
            continue;
        };
        let since = digests::last_started(conn, list.id)?;
        match super::draft(conn, &list, None, since)? {
            Some(digest) => {
                let recipients = digests::start(conn, digest.id, now)?.unwrap_or(0);
                tracing::info!(
                    list = %list.slug,
                    digest_id = digest.id,
                    recipients,
                    "automatic digest started"
                );
                started.push(digest.id);
            }
            None => tracing::info!(list = %list.slug, "no new articles: no automatic digest"),
        }
    }
    Ok(started)
}
