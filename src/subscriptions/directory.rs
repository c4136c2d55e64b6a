//! The admin's subscriber directory: search, one subscriber's page and history, adding a
//! subscriber under the same consent rules as a signup or an import, editing, blocking.

use std::io::Cursor;

use chrono::{NaiveDateTime, Utc};
use serde::Serialize;

use super::import::{import, ImportReport, ImportRequest, TransferError, DEFAULT_CHUNK_ROWS};
use super::signup::{signup, SignupOutcome, SignupRequest};
use crate::app::{AppContext, UseCaseError};
use crate::db::{self, directory, lists, outbox, subscribers};
use crate::domain::{
    search_words, Lang, ListSlug, SubscriberEmail, SubscriberName, SubscriptionStatus,
};

/// Subscribers per search page.
pub const PAGE_ROWS: i64 = 50;

/// A search: free text (the start of an address, or of words of the name), a list, a status,
/// and where the page starts.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub text: String,
    pub list: Option<ListSlug>,
    pub status: Option<SubscriptionStatus>,
    /// The page after the subscriber with this id.
    pub before: Option<i64>,
}

/// A subscriber as the directory shows them.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub language: String,
    pub blocked: bool,
    pub created_at: NaiveDateTime,
    pub subscriptions: Vec<Membership>,
}

/// One of a subscriber's lists.
#[derive(Debug, Clone, Serialize)]
pub struct Membership {
    pub slug: String,
    pub list_name: String,
    pub status: SubscriptionStatus,
    pub source: String,
    pub created_at: NaiveDateTime,
    pub confirmed_at: Option<NaiveDateTime>,
    pub unsubscribed_at: Option<NaiveDateTime>,
}

/// A page of results; `next` starts the next page, if there is one.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub entries: Vec<Entry>,
    pub next: Option<i64>,
}

/// One search page, newest subscribers first.
pub async fn search(state: &AppContext, s: Search) -> Result<Page, UseCaseError> {
    db::run(&state.pool, move |conn| {
        let list_id = match &s.list {
            Some(slug) => Some(
                lists::by_slug(conn, slug.as_str())?
                    .ok_or(UseCaseError::UnknownList)?
                    .id,
            ),
            None => None,
        };
        let text = s.text.trim();
        let (address, words, lead) = match text.contains('@') {
            true => (SubscriberEmail::normalise_prefix(text), Vec::new(), None),
            false => {
                let words = search_words(text).into_iter().take(4).collect();
                let first = text.split_whitespace().next().unwrap_or_default();
                (None, words, SubscriberEmail::normalise_prefix(first))
            }
        };
        let query = directory::Query {
            words,
            lead,
            address,
            list_id,
            status: s.status,
            before_id: s.before,
            limit: PAGE_ROWS + 1,
        };
        let mut ids = directory::search(conn, &query)?;
        let next = (ids.len() as i64 > PAGE_ROWS).then(|| {
            ids.truncate(PAGE_ROWS as usize);
            ids.last().copied().unwrap_or_default()
        });
        Ok(Page {
            entries: entries(conn, &ids)?,
            next,
        })
    })
    .await
}

fn entries(conn: &mut db::DbConnection, ids: &[i64]) -> Result<Vec<Entry>, UseCaseError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut memberships = directory::subscriptions_of(conn, ids)?;
    Ok(directory::subscribers(conn, ids)?
        .into_iter()
        .map(|s| {
            let subscriptions = memberships
                .iter()
                .filter(|(m, _, _)| m.subscriber_id == s.id)
                .map(|(m, slug, list_name)| Membership {
                    slug: slug.clone(),
                    list_name: list_name.clone(),
                    status: m.status,
                    source: m.source.clone(),
                    created_at: m.created_at,
                    confirmed_at: m.confirmed_at,
                    unsubscribed_at: m.unsubscribed_at,
                })
                .collect();
            memberships.retain(|(m, _, _)| m.subscriber_id != s.id);
            Entry {
                id: s.id,
                email: s.email,
                name: s.name,
                language: s.language,
                blocked: s.blocked,
                created_at: s.created_at,
                subscriptions,
            }
        })
        .collect())
}

/// Something that happened to a subscriber.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub at: NaiveDateTime,
    /// `signup`, `confirmed`, `unsubscribed`, `mail` (a transactional mail) or `digest`.
    pub kind: &'static str,
    /// The list, the digest's subject, or the mail's kind.
    pub what: String,
    /// The consent's source, or the mail's status.
    pub detail: String,
}

/// A subscriber with their history, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    pub entry: Entry,
    pub history: Vec<Event>,
}

/// How many mails and digests a subscriber's history shows at most.
const HISTORY_ROWS: i64 = 200;

/// One subscriber's page.
pub async fn detail(state: &AppContext, id: i64) -> Result<Option<Detail>, UseCaseError> {
    db::run(&state.pool, move |conn| {
        let Some(entry) = entries(conn, &[id])?.pop() else {
            return Ok(None);
        };
        let mut history = Vec::new();
        for m in &entry.subscriptions {
            history.push(Event {
                at: m.created_at,
                kind: "signup",
                what: m.list_name.clone(),
                detail: m.source.clone(),
            });
            if let Some(at) = m.confirmed_at {
                let what = m.list_name.clone();
                history.push(Event {
                    at,
                    kind: "confirmed",
                    what,
                    detail: String::new(),
                });
            }
            if let Some(at) = m.unsubscribed_at {
                let what = m.list_name.clone();
                history.push(Event {
                    at,
                    kind: "unsubscribed",
                    what,
                    detail: String::new(),
                });
            }
        }
        for (kind, status, created, sent) in outbox::mails_of(conn, id, HISTORY_ROWS)? {
            history.push(Event {
                at: sent.unwrap_or(created),
                kind: "mail",
                what: kind,
                detail: status.as_str().to_owned(),
            });
        }
        for r in directory::received(conn, id, HISTORY_ROWS)? {
            history.push(Event {
                at: r.sent_at.or(r.started_at).unwrap_or_default(),
                kind: "digest",
                what: format!("{} ({})", r.subject, r.list_name),
                detail: r.status,
            });
        }
        history.sort_by_key(|e| std::cmp::Reverse(e.at));
        Ok(Some(Detail { entry, history }))
    })
    .await
}

/// A subscriber an admin adds.
#[derive(Debug, Clone)]
pub struct NewSubscriber {
    pub email: SubscriberEmail,
    pub name: Option<SubscriberName>,
    pub language: Lang,
    pub lists: Vec<ListSlug>,
    /// `Some(source)`: the reader gave their consent elsewhere (a paper form, an event), which
    /// `source` records, and is subscribed as confirmed, under the rules of an import (nobody
    /// who left a list or erased their data is subscribed again). `None`: they are sent a
    /// confirmation mail, as when they sign up themselves.
    pub consent: Option<String>,
}

/// What adding a subscriber did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// The reader was asked to confirm (or nothing was left to confirm).
    Signup(SignupOutcome),
    /// Subscribed as confirmed: the report of each list, in order.
    Confirmed(Vec<(String, ImportReport)>),
}

/// Adds a subscriber to lists (private ones included).
pub async fn add_subscriber(state: &AppContext, new: NewSubscriber) -> Result<Added, UseCaseError> {
    let Some(source) = new.consent else {
        let req = SignupRequest {
            email: new.email,
            name: new.name,
            lists: new.lists,
            lang: new.language,
            source: "admin",
            include_private: true,
        };
        return Ok(Added::Signup(signup(state, req).await?));
    };
    let mut csv = csv::Writer::from_writer(Vec::new());
    let name = new.name.as_ref().map_or("", SubscriberName::as_str);
    let row = csv
        .write_record(["email", "name"])
        .and_then(|_| csv.write_record([new.email.as_str(), name]));
    let bytes = row
        .map_err(|e| UseCaseError::Conflict(e.to_string()))
        .and_then(|_| {
            csv.into_inner()
                .map_err(|e| UseCaseError::Conflict(e.to_string()))
        })?;
    let mut reports = Vec::new();
    for list in new.lists {
        let req = ImportRequest {
            list: list.clone(),
            status: SubscriptionStatus::Confirmed,
            source: format!("admin: {source}"),
            chunk_rows: DEFAULT_CHUNK_ROWS,
            columns: None,
        };
        let report = import(&state.pool, Cursor::new(bytes.clone()), req, |_| {})
            .await
            .map_err(|e| match e {
                TransferError::UnknownList(_) => UseCaseError::UnknownList,
                TransferError::Db(e) => UseCaseError::Db(e),
                other => UseCaseError::Conflict(other.to_string()),
            })?;
        reports.push((list.as_str().to_owned(), report));
    }
    Ok(Added::Confirmed(reports))
}

/// Changes a subscriber's name and language; false when there is no such subscriber.
pub async fn update_subscriber(
    state: &AppContext,
    id: i64,
    name: Option<SubscriberName>,
    language: Lang,
) -> Result<bool, UseCaseError> {
    db::write(&state.pool, move |conn| {
        let name = name.as_ref().map(SubscriberName::as_str);
        let now = Utc::now().naive_utc();
        Ok(subscribers::update_profile(
            conn,
            id,
            name,
            language.code(),
            now,
        )?)
    })
    .await
}

/// Blocks a subscriber (no mail of any kind, no new signup) or unblocks them; false when there
/// is no such subscriber.
pub async fn set_blocked(state: &AppContext, id: i64, blocked: bool) -> Result<bool, UseCaseError> {
    db::write(&state.pool, move |conn| {
        let found = subscribers::set_blocked(conn, id, blocked, Utc::now().naive_utc())?;
        if found && blocked {
            // Not even a confirmation already on its way.
            outbox::cancel_queued(conn, id)?;
        }
        Ok(found)
    })
    .await
}

/// The id of the subscriber with this address.
pub async fn id_of(
    state: &AppContext,
    email: SubscriberEmail,
) -> Result<Option<i64>, UseCaseError> {
    db::run(&state.pool, move |conn| {
        Ok(subscribers::by_email(conn, email.as_str())?.map(|s| s.id))
    })
    .await
}
