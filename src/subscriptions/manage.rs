//! What a reader does from the links in their mail: leave a list, choose lists, erase data.

use chrono::Utc;

use crate::app::{AppContext, UseCaseError};
use crate::db::{self, lists, outbox, subscribers, suppressions};
use crate::domain::{Lang, ListSlug, SubscriptionStatus};

/// Unsubscribes from one list. Returns the list's name, or None when the list or subscriber is
/// gone (the reader is told they are unsubscribed either way: they are).
pub async fn unsubscribe(
    state: &AppContext,
    subscriber_id: i64,
    list_id: i64,
) -> Result<Option<String>, UseCaseError> {
    db::write(&state.pool, move |conn| {
        let list = lists::by_ids(conn, &[list_id])?.into_iter().next();
        let current = subscribers::subscriptions_of(conn, subscriber_id)?
            .into_iter()
            .find(|s| s.list_id == list_id);
        if let Some(sub) = current {
            if sub.status != SubscriptionStatus::Unsubscribed {
                subscribers::set_subscription(
                    conn,
                    subscriber_id,
                    list_id,
                    SubscriptionStatus::Unsubscribed,
                    &sub.source,
                    Utc::now().naive_utc(),
                )?;
                tracing::info!(subscriber_id, list_id, "unsubscribed");
            }
        }
        Ok(list.map(|l| l.name))
    })
    .await
}

/// What undoing an unsubscription did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undone {
    /// Back on the list.
    Resubscribed,
    /// Not unsubscribed (any more): nothing to undo.
    Nothing,
    /// Unsubscribed more than a day ago: a new signup, confirmed from the mailbox, is needed.
    TooLate,
}

/// How long after unsubscribing the unsubscribe link may undo it.
const UNDO_WITHIN: chrono::Duration = chrono::Duration::days(1);

/// Puts a reader who has just left a list back on it, from the same unsubscribe link (a
/// click by mistake): only shortly after, and only to where they were.
pub async fn undo_unsubscribe(
    state: &AppContext,
    subscriber_id: i64,
    list_id: i64,
) -> Result<Undone, UseCaseError> {
    db::write(&state.pool, move |conn| {
        let now = Utc::now().naive_utc();
        let current = subscribers::subscriptions_of(conn, subscriber_id)?
            .into_iter()
            .find(|s| s.list_id == list_id);
        let Some(sub) = current.filter(|s| s.status == SubscriptionStatus::Unsubscribed) else {
            return Ok(Undone::Nothing);
        };
        if !matches!(sub.unsubscribed_at, Some(at) if now - at <= UNDO_WITHIN) {
            return Ok(Undone::TooLate);
        }
        subscribers::set_subscription(
            conn,
            subscriber_id,
            list_id,
            SubscriptionStatus::Confirmed,
            &sub.source,
            now,
        )?;
        tracing::info!(subscriber_id, list_id, "unsubscription undone");
        Ok(Undone::Resubscribed)
    })
    .await
}

/// One list on the preferences page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PreferenceList {
    pub slug: String,
    pub name: String,
    pub subscribed: bool,
}

/// The preferences page: the public lists plus any the reader is on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Preferences {
    pub email: String,
    pub lang: Lang,
    pub lists: Vec<PreferenceList>,
}

fn load_preferences(
    conn: &mut db::DbConnection,
    subscriber_id: i64,
) -> Result<Option<(Preferences, Vec<lists::List>)>, UseCaseError> {
    let Some(subscriber) = subscribers::by_id(conn, subscriber_id)? else {
        return Ok(None);
    };
    let subs = subscribers::subscriptions_of(conn, subscriber_id)?;
    let active = |list_id| {
        subs.iter().any(|s| {
            s.list_id == list_id
                && matches!(
                    s.status,
                    SubscriptionStatus::Confirmed | SubscriptionStatus::Pending
                )
        })
    };
    let mut shown = lists::public_active(conn)?;
    let on: Vec<i64> = subs.iter().map(|s| s.list_id).collect();
    for list in lists::by_ids(conn, &on)? {
        if !shown.iter().any(|l| l.id == list.id) && active(list.id) {
            shown.push(list);
        }
    }
    let prefs = Preferences {
        email: subscriber.email,
        lang: Lang::parse(&subscriber.language).unwrap_or_default(),
        lists: shown
            .iter()
            .map(|l| PreferenceList {
                slug: l.slug.clone(),
                name: l.name.clone(),
                subscribed: active(l.id),
            })
            .collect(),
    };
    Ok(Some((prefs, shown)))
}

/// The reader's current preferences, or None if they erased their data.
pub async fn preferences(
    state: &AppContext,
    subscriber_id: i64,
) -> Result<Option<Preferences>, UseCaseError> {
    db::run(&state.pool, move |conn| {
        Ok(load_preferences(conn, subscriber_id)?.map(|(p, _)| p))
    })
    .await
}

/// Applies the reader's choice: chosen lists become confirmed (the reader proved they own the
/// address by opening the link), the others unsubscribed. Returns None if the reader is gone.
pub async fn update_preferences(
    state: &AppContext,
    subscriber_id: i64,
    chosen: Vec<ListSlug>,
    lang: Lang,
) -> Result<Option<Preferences>, UseCaseError> {
    db::write(&state.pool, move |conn| {
        let Some((prefs, shown)) = load_preferences(conn, subscriber_id)? else {
            return Ok(None);
        };
        if let Some(unknown) = chosen
            .iter()
            .find(|c| !shown.iter().any(|l| l.slug == c.as_str()))
        {
            tracing::debug!(
                slug = unknown.as_str(),
                "preferences named a list not offered"
            );
            return Err(UseCaseError::UnknownList);
        }
        let now = Utc::now().naive_utc();
        for (list, shown_pref) in shown.iter().zip(&prefs.lists) {
            let wanted = chosen.iter().any(|c| c.as_str() == list.slug);
            if wanted && !shown_pref.subscribed {
                subscribers::set_subscription(
                    conn,
                    subscriber_id,
                    list.id,
                    SubscriptionStatus::Confirmed,
                    "preferences",
                    now,
                )?;
            } else if !wanted && shown_pref.subscribed {
                subscribers::set_subscription(
                    conn,
                    subscriber_id,
                    list.id,
                    SubscriptionStatus::Unsubscribed,
                    "preferences",
                    now,
                )?;
            }
        }
        subscribers::set_language(conn, subscriber_id, lang.code(), now)?;
        Ok(load_preferences(conn, subscriber_id)?.map(|(p, _)| p))
    })
    .await
}

/// Erases a reader: the subscriber row, subscriptions, tokens, deliveries and everything of
/// the address in the outbox (the address, its mailbox, the bodies, the relay's replies) go;
/// a keyed hash of the address stays in the suppression list, so it comes back only by
/// confirming from its own mailbox. Returns false when there was nothing left to erase.
pub async fn erase(state: &AppContext, subscriber_id: i64) -> Result<bool, UseCaseError> {
    let key = state.suppression.clone();
    db::write(&state.pool, move |conn| {
        let Some(subscriber) = subscribers::by_id(conn, subscriber_id)? else {
            return Ok(false);
        };
        let now = Utc::now().naive_utc();
        let hash = key.entry(&subscriber.email);
        suppressions::add(conn, &hash, "erased", now)?;
        outbox::forget_subscriber(conn, subscriber_id)?;
        subscribers::delete(conn, subscriber_id)?;
        tracing::info!(subscriber_id, "subscriber erased on request");
        Ok(true)
    })
    .await
}
