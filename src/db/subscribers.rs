//! Subscribers and their subscriptions to lists.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{deliveries, digests, lists, subscribers, subscriptions};
use super::DbConnection;
use crate::domain::{DeliveryStatus, SubscriptionStatus};

/// A subscriber as stored; `email` is already normalised.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = subscribers)]
pub struct Subscriber {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub language: String,
    pub blocked: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// One subscriber's relation to one list.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = subscriptions)]
pub struct Subscription {
    pub subscriber_id: i64,
    pub list_id: i64,
    pub status: SubscriptionStatus,
    pub source: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub confirmed_at: Option<NaiveDateTime>,
    pub unsubscribed_at: Option<NaiveDateTime>,
}

/// The subscriber with this (normalised) address.
pub fn by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<Subscriber>> {
    subscribers::table
        .filter(subscribers::email.eq(email))
        .select(Subscriber::as_select())
        .first(conn)
        .optional()
}

/// The subscriber with this address, locked until the transaction ends so that concurrent
/// signups of one address take turns (the per-address mail limit counts what the other wrote).
/// SQLite's write transactions are already serialised.
pub fn by_email_locked(conn: &mut DbConnection, email: &str) -> QueryResult<Option<Subscriber>> {
    match conn {
        DbConnection::Pg(c) => subscribers::table
            .filter(subscribers::email.eq(email))
            .select(Subscriber::as_select())
            .for_update()
            .first(c)
            .optional(),
        DbConnection::Sqlite(_) => by_email(conn, email),
    }
}

/// The subscriber with this id.
pub fn by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Subscriber>> {
    subscribers::table
        .find(id)
        .select(Subscriber::as_select())
        .first(conn)
        .optional()
}

/// Inserts a subscriber and returns it; an address already present is a unique violation.
pub fn insert(
    conn: &mut DbConnection,
    email: &str,
    name: Option<&str>,
    language: &str,
    now: NaiveDateTime,
) -> QueryResult<Subscriber> {
    let values = (
        subscribers::email.eq(email),
        subscribers::name.eq(name),
        subscribers::language.eq(language),
        subscribers::blocked.eq(false),
        subscribers::created_at.eq(now),
        subscribers::updated_at.eq(now),
    );
    // MultiConnection has no RETURNING; both concrete connections do (one round trip fewer).
    let subscriber = match conn {
        DbConnection::Pg(c) => diesel::insert_into(subscribers::table)
            .values(values)
            .returning(Subscriber::as_returning())
            .get_result(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(subscribers::table)
            .values(values)
            .returning(Subscriber::as_returning())
            .get_result(c)?,
    };
    if let Some(name) = name {
        super::terms::add(conn, &[(subscriber.id, name)])?;
    }
    Ok(subscriber)
}

/// Sets the language a subscriber reads their mail in.
pub fn set_language(
    conn: &mut DbConnection,
    id: i64,
    language: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(subscribers::table.find(id))
        .set((
            subscribers::language.eq(language),
            subscribers::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Changes a subscriber's name (and the words it is found by) and language.
pub fn update_profile(
    conn: &mut DbConnection,
    id: i64,
    name: Option<&str>,
    language: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(subscribers::table.find(id))
        .set((
            subscribers::name.eq(name),
            subscribers::language.eq(language),
            subscribers::updated_at.eq(now),
        ))
        .execute(conn)?;
    super::terms::replace(conn, id, name)?;
    Ok(n == 1)
}

/// Blocks a subscriber (no mail of any kind, no signup) or unblocks them.
pub fn set_blocked(
    conn: &mut DbConnection,
    id: i64,
    blocked: bool,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(subscribers::table.find(id))
        .set((
            subscribers::blocked.eq(blocked),
            subscribers::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Deletes a subscriber and their deliveries; subscriptions and tokens go with it (ON DELETE
/// CASCADE). Deliveries have no foreign key on PostgreSQL (its per-row check locked every
/// reader when a digest started), so they are deleted here. A digest starting at the same
/// moment may still write a delivery for the erased reader: it names no one, and the engine
/// skips it (the reader is not found).
pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
    // One lookup per digest in the (digest, subscriber) index, rather than reading every
    // delivery ever made to find this reader's (there is no index on the reader alone).
    let theirs = deliveries::table
        .filter(deliveries::digest_id.eq_any(digests::table.select(digests::id)))
        .filter(deliveries::subscriber_id.eq(id));
    // A delivery not yet made will not be: it counts as skipped, as for a reader who left.
    let unsent: Vec<i64> = theirs
        .filter(deliveries::status.eq_any([DeliveryStatus::Queued, DeliveryStatus::Sending]))
        .select(deliveries::digest_id)
        .load(conn)?;
    for digest_id in unsent {
        let skipped = super::counts::Counted {
            skipped: 1,
            ..Default::default()
        };
        super::counts::add_counts(conn, digest_id, skipped)?;
    }
    diesel::delete(theirs).execute(conn)?;
    super::terms::delete(conn, id)?;
    diesel::delete(subscribers::table.find(id)).execute(conn)
}

/// All subscriptions of one subscriber.
pub fn subscriptions_of(
    conn: &mut DbConnection,
    subscriber_id: i64,
) -> QueryResult<Vec<Subscription>> {
    subscriptions::table
        .filter(subscriptions::subscriber_id.eq(subscriber_id))
        .select(Subscription::as_select())
        .load(conn)
}

/// Creates or updates the subscription of `subscriber_id` to `list_id` with `status`.
/// Timestamps follow the status: `confirmed_at` is set when it becomes confirmed,
/// `unsubscribed_at` when it becomes unsubscribed.
pub fn set_subscription(
    conn: &mut DbConnection,
    subscriber_id: i64,
    list_id: i64,
    status: SubscriptionStatus,
    source: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let (confirmed_at, unsubscribed_at) = status_times(status, now);
    let updated = diesel::update(subscriptions::table.find((subscriber_id, list_id)))
        .set((
            subscriptions::status.eq(status.as_str()),
            subscriptions::source.eq(source),
            subscriptions::updated_at.eq(now),
            subscriptions::confirmed_at.eq(confirmed_at),
            subscriptions::unsubscribed_at.eq(unsubscribed_at),
        ))
        .execute(conn)?;
    if updated == 0 {
        insert_subscription(conn, subscriber_id, list_id, status, source, now)?;
    }
    Ok(())
}

/// `confirmed_at` and `unsubscribed_at` for a subscription entering `status` at `now`.
fn status_times(
    status: SubscriptionStatus,
    now: NaiveDateTime,
) -> (Option<NaiveDateTime>, Option<NaiveDateTime>) {
    (
        (status == SubscriptionStatus::Confirmed).then_some(now),
        (status == SubscriptionStatus::Unsubscribed).then_some(now),
    )
}

/// Adds a subscription the caller knows is not there (a subscriber created in this
/// transaction); a duplicate is a unique violation.
pub fn insert_subscription(
    conn: &mut DbConnection,
    subscriber_id: i64,
    list_id: i64,
    status: SubscriptionStatus,
    source: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let (confirmed_at, unsubscribed_at) = status_times(status, now);
    diesel::insert_into(subscriptions::table)
        .values((
            subscriptions::subscriber_id.eq(subscriber_id),
            subscriptions::list_id.eq(list_id),
            subscriptions::status.eq(status.as_str()),
            subscriptions::source.eq(source),
            subscriptions::created_at.eq(now),
            subscriptions::updated_at.eq(now),
            subscriptions::confirmed_at.eq(confirmed_at),
            subscriptions::unsubscribed_at.eq(unsubscribed_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Confirms the pending subscriptions of a subscriber to `lists` (all of them when None);
/// returns how many changed.
pub fn confirm_pending(
    conn: &mut DbConnection,
    subscriber_id: i64,
    lists: Option<&[i64]>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let pending = subscriptions::table
        .filter(subscriptions::subscriber_id.eq(subscriber_id))
        .filter(subscriptions::status.eq(SubscriptionStatus::Pending.as_str()));
    let changes = || {
        (
            subscriptions::status.eq(SubscriptionStatus::Confirmed.as_str()),
            subscriptions::confirmed_at.eq(Some(now)),
            subscriptions::updated_at.eq(now),
        )
    };
    match lists {
        Some(lists) => diesel::update(pending.filter(subscriptions::list_id.eq_any(lists)))
            .set(changes())
            .execute(conn),
        None => diesel::update(pending).set(changes()).execute(conn),
    }
}

/// One row of `subscriber ls`: the subscriber and, per list, the subscription.
#[derive(Debug, Clone)]
pub struct SubscriberRow {
    pub subscriber: Subscriber,
    pub list_slug: String,
    pub subscription: Subscription,
}

/// Up to `limit` subscribers with a pending subscription to `list_id`, by id after `after_id`
/// (a page of a walk through them all).
pub fn pending_on_list(
    conn: &mut DbConnection,
    list_id: i64,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<Subscriber>> {
    subscriptions::table
        .inner_join(subscribers::table)
        .filter(subscriptions::list_id.eq(list_id))
        .filter(subscriptions::status.eq(SubscriptionStatus::Pending.as_str()))
        .filter(subscribers::id.gt(after_id))
        .order(subscribers::id.asc())
        .limit(limit)
        .select(Subscriber::as_select())
        .load(conn)
}

/// Subscriptions with their subscriber and list slug, filtered, newest first.
pub fn search(
    conn: &mut DbConnection,
    list_id: Option<i64>,
    status: Option<SubscriptionStatus>,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<SubscriberRow>> {
    let mut query = subscriptions::table
        .inner_join(subscribers::table)
        .inner_join(lists::table)
        .select((
            Subscriber::as_select(),
            lists::slug,
            Subscription::as_select(),
        ))
        .order((subscribers::id.desc(), lists::slug.asc()))
        .limit(limit)
        .offset(offset)
        .into_boxed();
    if let Some(list_id) = list_id {
        query = query.filter(subscriptions::list_id.eq(list_id));
    }
    if let Some(status) = status {
        query = query.filter(subscriptions::status.eq(status.as_str()));
    }
    let rows: Vec<(Subscriber, String, Subscription)> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(subscriber, list_slug, subscription)| SubscriberRow {
            subscriber,
            list_slug,
            subscription,
        })
        .collect())
}
