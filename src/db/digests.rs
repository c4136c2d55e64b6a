//! Digests: a subject and a frozen set of articles for one list, and their send state.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Text};

use super::articles::Article;
use super::schema::{
    articles, deliveries, delivery_ranges, digest_articles, digest_schedules, digests, subscribers,
    subscriptions,
};
use super::DbConnection;
use crate::domain::{DeliveryStatus, DigestStatus};

/// A digest as stored.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = digests)]
pub struct Digest {
    pub id: i64,
    pub list_id: i64,
    pub subject: String,
    pub status: DigestStatus,
    pub scheduled_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    /// The audience frozen at the start.
    pub recipients: i64,
    pub sent_count: i64,
    pub failed_count: i64,
    pub skipped_count: i64,
    /// Markdown shown above the articles; may be empty.
    pub intro: String,
}

/// Creates a draft digest with these articles (in this order) and returns it.
pub fn create(
    conn: &mut DbConnection,
    list_id: i64,
    subject: &str,
    article_ids: &[i64],
    now: NaiveDateTime,
) -> QueryResult<Digest> {
    let values = (
        digests::list_id.eq(list_id),
        digests::subject.eq(subject),
        digests::status.eq(DigestStatus::Draft),
        digests::created_at.eq(now),
    );
    // MultiConnection has no RETURNING; both concrete connections do.
    let id: i64 = match conn {
        DbConnection::Pg(c) => diesel::insert_into(digests::table)
            .values(values)
            .returning(digests::id)
            .get_result(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(digests::table)
            .values(values)
            .returning(digests::id)
            .get_result(c)?,
    };
    for (position, article_id) in article_ids.iter().enumerate() {
        diesel::insert_into(digest_articles::table)
            .values((
                digest_articles::digest_id.eq(id),
                digest_articles::article_id.eq(article_id),
                digest_articles::position.eq(position as i32),
            ))
            .execute(conn)?;
    }
    by_id(conn, id)?.ok_or(diesel::result::Error::NotFound)
}

/// The digest with this id.
pub fn by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Digest>> {
    digests::table
        .find(id)
        .select(Digest::as_select())
        .first(conn)
        .optional()
}

/// The articles of a digest, in order.
pub fn articles_of(conn: &mut DbConnection, digest_id: i64) -> QueryResult<Vec<Article>> {
    digest_articles::table
        .inner_join(articles::table)
        .filter(digest_articles::digest_id.eq(digest_id))
        .order(digest_articles::position.asc())
        .select(Article::as_select())
        .load(conn)
}

/// When the list's last digest started sending, if it ever did.
pub fn last_started(conn: &mut DbConnection, list_id: i64) -> QueryResult<Option<NaiveDateTime>> {
    digests::table
        .filter(digests::list_id.eq(list_id))
        .filter(digests::started_at.is_not_null())
        .select(diesel::dsl::max(digests::started_at))
        .first::<Option<NaiveDateTime>>(conn)
}

/// Moves a digest from one of `from` to `to`; false when it was in another state.
pub fn transition(
    conn: &mut DbConnection,
    id: i64,
    from: &[DigestStatus],
    to: DigestStatus,
) -> QueryResult<bool> {
    let changed = diesel::update(digests::table.find(id).filter(digests::status.eq_any(from)))
        .set(digests::status.eq(to))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Schedules a draft for `at`.
pub fn schedule(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        digests::table
            .find(id)
            .filter(digests::status.eq_any([DigestStatus::Draft, DigestStatus::Scheduled])),
    )
    .set((
        digests::status.eq(DigestStatus::Scheduled),
        digests::scheduled_at.eq(Some(at)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Starts sending a draft or scheduled digest: one delivery row per confirmed, unblocked
/// subscriber, created by one `INSERT ... SELECT` so the audience is frozen now. Returns the
/// number of recipients, or None when the digest was not startable.
pub fn start(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<Option<usize>> {
    let Some(digest) = by_id(conn, id)? else {
        return Ok(None);
    };
    let started = diesel::update(
        digests::table
            .find(id)
            .filter(digests::status.eq_any([DigestStatus::Draft, DigestStatus::Scheduled])),
    )
    .set((
        digests::status.eq(DigestStatus::Sending),
        digests::started_at.eq(Some(now)),
    ))
    .execute(conn)?;
    if started == 0 {
        return Ok(None);
    }
    let audience = subscriptions::table
        .inner_join(subscribers::table)
        .filter(subscriptions::list_id.eq(digest.list_id))
        .filter(subscriptions::status.eq("confirmed"))
        .filter(subscribers::blocked.eq(false))
        .select((
            id.into_sql::<BigInt>(),
            subscriptions::subscriber_id,
            DeliveryStatus::Queued.into_sql::<Text>(),
            0.into_sql::<Integer>(),
        ));
    let after = super::ranges::highest_id(conn)?;
    let n = diesel::insert_into(deliveries::table)
        .values(audience)
        .into_columns((
            deliveries::digest_id,
            deliveries::subscriber_id,
            deliveries::status,
            deliveries::attempts,
        ))
        .execute(conn)?;
    let through = super::ranges::highest_id(conn)?;
    super::ranges::open(conn, id, after, through)?;
    diesel::update(digests::table.find(id))
        .set(digests::recipients.eq(n as i64))
        .execute(conn)?;
    Ok(Some(n))
}

/// Drafts and scheduled digests due now.
pub fn due(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<Vec<i64>> {
    digests::table
        .filter(digests::status.eq(DigestStatus::Scheduled))
        .filter(digests::scheduled_at.le(now))
        .select(digests::id)
        .load(conn)
}

/// The predicates of the partial indexes of deliveries waiting for a retry and of those leased
/// one by one, written out as in the migration `deliveries_updated_in_place`: a query that
/// states them is matched to those indexes without the database having to prove them from
/// other conditions. They name only the columns set exactly in those states, never the status
/// an outcome changes. As SQL literals they also keep the idle check unprepared (diesel never
/// caches them), so it is planned with its values on every poll: prepared, an `EXISTS` on a
/// just-filled deliveries table got PostgreSQL's generic plan, a scan of every row (see
/// `deliveries::claimable`).
const RETRYING: &str = "deliveries.retry_at IS NOT NULL";
const LEASED: &str = "deliveries.lease_until IS NOT NULL";

/// Whether a digest (in a query on `digests`) looks finished from what is cheap to read: every
/// delivery handed out, no range leased, no retry waiting, none leased on its own. Untried
/// deliveries are always above the cursor or inside a range (`ranges`), so this holds only when
/// nothing is left; `finish_done` still confirms it against the deliveries. The idle check uses
/// this alone: confirming reads every delivery of the digest up to an open one, which, polled
/// while a large digest waits for a few retries, would read it all four times a second.
macro_rules! looks_finished {
    () => {{
        use diesel::dsl::{exists, not};
        // `digest_id + 0`: see engine_has_work.
        let retrying = deliveries::table
            .filter(sql::<Bool>(RETRYING))
            .filter((deliveries::digest_id + 0i64).eq(digests::id));
        let leased = deliveries::table
            .filter(sql::<Bool>(LEASED))
            .filter((deliveries::digest_id + 0i64).eq(digests::id));
        let ranges = delivery_ranges::table.filter(delivery_ranges::digest_id.eq(digests::id));
        digests::claimed_through
            .ge(digests::deliveries_through)
            .and(not(exists(ranges)))
            .and(not(exists(retrying)))
            .and(not(exists(leased)))
    }};
}

/// Whether the digest engine has anything to do now: deliveries it could claim (a retry due,
/// a lease expired, untried ones not handed out yet), a sending digest that looks finished
/// (to mark sent), a scheduled digest due, a list's cadence due. Read-only, so an idle
/// instance polls often without taking the write lock; a digest whose remaining deliveries
/// wait for a retry is not work until then.
pub fn engine_has_work(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<bool> {
    let sending = || {
        digests::table
            .filter(digests::status.eq(DigestStatus::Sending))
            .select(digests::id)
    };
    // The partial indexes' predicates (see RETRYING), and `digest_id + 0` so the database
    // does not prefer the (digest, subscriber) index: otherwise it reads every delivery of a
    // large digest to find none.
    let retry_due = deliveries::table
        .filter(sql::<Bool>(RETRYING))
        .filter(deliveries::retry_at.le(now))
        .filter((deliveries::digest_id + 0i64).eq_any(sending()));
    let expired = deliveries::table
        .filter(sql::<Bool>(LEASED))
        .filter(deliveries::lease_until.lt(now))
        .filter((deliveries::digest_id + 0i64).eq_any(sending()));
    let untried = digests::table
        .filter(digests::status.eq(DigestStatus::Sending))
        .filter(digests::claimed_through.lt(digests::deliveries_through));
    let range_expired = delivery_ranges::table
        .filter(delivery_ranges::lease_until.lt(now))
        .filter(delivery_ranges::digest_id.eq_any(sending()));
    let finished = digests::table
        .filter(digests::status.eq(DigestStatus::Sending))
        .filter(looks_finished!());
    let scheduled = digests::table
        .filter(digests::status.eq(DigestStatus::Scheduled))
        .filter(digests::scheduled_at.le(now));
    let cadence = digest_schedules::table.filter(digest_schedules::next_run_at.le(now));
    use diesel::dsl::{exists, select};
    // One statement: an idle poll is one round trip.
    select(
        exists(retry_due)
            .or(exists(expired))
            .or(exists(untried))
            .or(exists(range_expired))
            .or(exists(finished))
            .or(exists(scheduled))
            .or(exists(cadence)),
    )
    .get_result(conn)
}

/// Marks sending digests with nothing left to deliver as sent: those that look finished, once
/// their deliveries confirm it (none queued or in flight).
pub fn finish_done(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    let open = deliveries::table
        .filter(deliveries::digest_id.eq(digests::id))
        .filter(deliveries::status.eq_any([DeliveryStatus::Queued, DeliveryStatus::Sending]));
    diesel::update(
        digests::table
            .filter(digests::status.eq(DigestStatus::Sending))
            .filter(looks_finished!())
            .filter(diesel::dsl::not(diesel::dsl::exists(open))),
    )
    .set((
        digests::status.eq(DigestStatus::Sent),
        digests::finished_at.eq(Some(now)),
    ))
    .execute(conn)
}

/// Delivery counts of one digest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    /// Not sent: the reader left the list after the digest started.
    pub skipped: i64,
    /// Queued after at least one failed attempt.
    pub retrying: i64,
}

impl Progress {
    pub fn total(&self) -> i64 {
        self.queued + self.sending + self.sent + self.failed + self.skipped
    }
}

/// How far a digest's delivery is at `now`, read without visiting its finished deliveries:
/// the outcomes from the digest's counts, retries and single leases from the partial indexes,
/// the range leases from their few rows. Cheap at any audience size.
pub fn progress(
    conn: &mut DbConnection,
    digest: &Digest,
    now: NaiveDateTime,
) -> QueryResult<Progress> {
    // `digest_id + 0` and the partial indexes' predicates: see engine_has_work.
    let retrying: i64 = deliveries::table
        .filter(sql::<Bool>(RETRYING))
        .filter((deliveries::digest_id + 0i64).eq(digest.id))
        .count()
        .get_result(conn)?;
    let leased: i64 = deliveries::table
        .filter(sql::<Bool>(LEASED))
        .filter((deliveries::digest_id + 0i64).eq(digest.id))
        .count()
        .get_result(conn)?;
    // Untried deliveries in a range whose lease runs are in flight, though their rows still
    // say queued (a range's rows are written only with their outcome).
    let sending = leased + super::ranges::in_flight(conn, digest.id, now)?;
    let (sent, failed, skipped) = (digest.sent_count, digest.failed_count, digest.skipped_count);
    Ok(Progress {
        queued: (digest.recipients - sent - failed - skipped - sending).max(0),
        sending,
        sent,
        failed,
        skipped,
        retrying,
    })
}

/// Queues the failed deliveries of a digest again and reopens it; returns how many. They go
/// as retries, due now, with a new round of attempts (the count restarts at one).
pub fn retry_failed(
    conn: &mut DbConnection,
    digest_id: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let n = diesel::update(
        deliveries::table
            .filter(deliveries::digest_id.eq(digest_id))
            .filter(deliveries::status.eq(DeliveryStatus::Failed)),
    )
    .set((
        deliveries::status.eq(DeliveryStatus::Queued),
        deliveries::attempts.eq(1),
        deliveries::retry_at.eq(now),
    ))
    .execute(conn)?;
    if n > 0 {
        diesel::update(digests::table.find(digest_id))
            .set(digests::failed_count.eq(digests::failed_count - n as i64))
            .execute(conn)?;
        diesel::update(
            digests::table
                .find(digest_id)
                .filter(digests::status.eq(DigestStatus::Sent)),
        )
        .set((
            digests::status.eq(DigestStatus::Sending),
            digests::finished_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    }
    Ok(n)
}
