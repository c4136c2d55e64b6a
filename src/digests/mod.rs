//! What editors do with digests: compose one from the latest articles, preview it, send a test,
//! send it (now or at a time), watch it, pause, resume, cancel, retry the failures.

mod add;
mod archive;
mod article_edits;
mod assembly;
mod compose;
pub mod markdown;
mod render;
mod schedule;
mod stencil;

pub use add::{add_article, Added};
pub use archive::{archive_index, archived_digest, ArchivedDigest};
pub use article_edits::{article, articles_page, delete_article, update_article};
pub use compose::{
    candidates, compose, delivery_log, draft_view, history, revise, scheduled, Candidates,
    Composition, CompositionError, DraftView,
};
pub use render::{PreparedDigest, RecipientView};
pub use schedule::{run_due_schedules, schedules, set_schedule, unset_schedule};

use chrono::{NaiveDateTime, Utc};

use crate::app::{AppContext, UseCaseError};
use crate::db::{self, articles, digests, lists, outbox, Pool};
use crate::domain::{DigestStatus, ListSlug, SubscriberEmail};

/// The most articles one digest carries.
pub(crate) const MAX_ARTICLES: i64 = 50;

/// Composes a draft digest for a list: the articles published after `since`, by default after
/// the list's last digest started. Fails when there is nothing new to send.
pub async fn create(
    pool: &Pool,
    list: ListSlug,
    subject: Option<String>,
    since: Option<NaiveDateTime>,
) -> Result<digests::Digest, UseCaseError> {
    db::write(pool, move |conn| {
        let list = lists::by_slug(conn, list.as_str())?.ok_or(UseCaseError::UnknownList)?;
        let since = match since {
            Some(s) => Some(s),
            None => digests::last_started(conn, list.id)?,
        };
        draft(conn, &list, subject, since)?.ok_or_else(|| {
            UseCaseError::Conflict(match since {
                Some(s) => format!("no articles for {} published after {s}", list.slug),
                None => format!("no articles for {}", list.slug),
            })
        })
    })
    .await
}

/// A draft of the articles published after `since`, or None when there are none.
fn draft(
    conn: &mut db::DbConnection,
    list: &lists::List,
    subject: Option<String>,
    since: Option<NaiveDateTime>,
) -> Result<Option<digests::Digest>, UseCaseError> {
    let picked = articles::for_digest(conn, list.id, since, MAX_ARTICLES)?;
    if picked.is_empty() {
        return Ok(None);
    }
    let subject = subject
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("{}: {}", list.name, picked[0].title));
    let ids: Vec<i64> = picked.iter().map(|a| a.id).collect();
    Ok(Some(digests::create(
        conn,
        list.id,
        &subject,
        &ids,
        Utc::now().naive_utc(),
    )?))
}

/// The digest as one reader would get it (a sample reader, links that go nowhere).
pub async fn preview(
    state: &AppContext,
    id: i64,
) -> Result<(String, String, String), UseCaseError> {
    let (templates, links) = (state.templates.clone(), state.links.clone());
    let options = state.mail.clone();
    db::run(&state.pool, move |conn| {
        let prepared = PreparedDigest::load(conn, &templates, &links, &options, id)?;
        let sample = RecipientView {
            subscriber_id: 0,
            email: "lettore@example.org",
            name: Some("Lettore"),
            message_id: None,
        };
        let (text, html) = prepared.bodies(&templates, &links, &sample)?;
        Ok((prepared.subject.clone(), text, html))
    })
    .await
}

/// Sends one copy to `to` through the outbox, as transactional mail.
pub async fn send_test(
    state: &AppContext,
    id: i64,
    to: SubscriberEmail,
) -> Result<(), UseCaseError> {
    let (templates, links) = (state.templates.clone(), state.links.clone());
    let options = state.mail.clone();
    db::write(&state.pool, move |conn| {
        let prepared = PreparedDigest::load(conn, &templates, &links, &options, id)?;
        let view = RecipientView {
            subscriber_id: 0,
            email: to.as_str(),
            name: None,
            message_id: None,
        };
        let mail = prepared.compose(&templates, &links, &view)?;
        outbox::queue_transactional(
            conn,
            &outbox::Transactional {
                kind: "digest-test",
                subscriber_id: None,
                sender: prepared.sender.address(),
                recipient: to.as_str(),
                message_id: &mail.message_id,
                body: &mail.content,
            },
        )?;
        Ok::<_, UseCaseError>(())
    })
    .await?;
    state.outbox_wake.notify_one();
    Ok(())
}

/// Starts sending now: one delivery per confirmed reader. Returns the audience size.
pub async fn start(pool: &Pool, id: i64) -> Result<usize, UseCaseError> {
    db::write(pool, move |conn| {
        let digest = digests::by_id(conn, id)?.ok_or(UseCaseError::UnknownDigest)?;
        require_articles(conn, id)?;
        digests::start(conn, id, Utc::now().naive_utc())?.ok_or_else(|| {
            UseCaseError::Conflict(format!(
                "digest {id} is {}, not a draft or scheduled",
                digest.status
            ))
        })
    })
    .await
}

/// Schedules a draft to start at `at` (UTC).
pub async fn schedule(pool: &Pool, id: i64, at: NaiveDateTime) -> Result<(), UseCaseError> {
    db::write(pool, move |conn| {
        require_articles(conn, id)?;
        if digests::schedule(conn, id, at)? {
            Ok(())
        } else {
            Err(conflict_or_unknown(conn, id, "a draft"))
        }
    })
    .await
}

/// A digest without articles (its last one was deleted) does not go out.
fn require_articles(conn: &mut db::DbConnection, id: i64) -> Result<(), UseCaseError> {
    match db::digest_pages::article_ids(conn, id)?.is_empty() {
        true => Err(UseCaseError::Conflict(format!(
            "digest {id} has no articles: add one before sending it"
        ))),
        false => Ok(()),
    }
}

/// What can happen to a digest while it is out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Cancel,
    /// A scheduled digest back to a draft.
    Unschedule,
}

/// Pauses, resumes or cancels. Pausing stops new claims; messages in flight finish.
pub async fn control(pool: &Pool, id: i64, what: Control) -> Result<(), UseCaseError> {
    use DigestStatus::*;
    let (from, to, expected): (&[DigestStatus], _, _) = match what {
        Control::Pause => (&[Sending], Paused, "sending"),
        Control::Resume => (&[Paused], Sending, "paused"),
        Control::Cancel => (
            &[Draft, Scheduled, Sending, Paused],
            Cancelled,
            "not yet sent",
        ),
        Control::Unschedule => (&[Scheduled], Draft, "scheduled"),
    };
    db::write(pool, move |conn| {
        if digests::transition(conn, id, from, to)? {
            Ok(())
        } else {
            Err(conflict_or_unknown(conn, id, expected))
        }
    })
    .await
}

fn conflict_or_unknown(conn: &mut db::DbConnection, id: i64, expected: &str) -> UseCaseError {
    match digests::by_id(conn, id) {
        Ok(Some(d)) => {
            UseCaseError::Conflict(format!("digest {id} is {}, not {expected}", d.status))
        }
        Ok(None) => UseCaseError::UnknownDigest,
        Err(e) => e.into(),
    }
}

/// The digest and its delivery counts.
pub async fn status(
    pool: &Pool,
    id: i64,
) -> Result<(digests::Digest, digests::Progress), UseCaseError> {
    db::run(pool, move |conn| {
        let digest = digests::by_id(conn, id)?.ok_or(UseCaseError::UnknownDigest)?;
        let progress = digests::progress(conn, &digest, Utc::now().naive_utc())?;
        Ok((digest, progress))
    })
    .await
}

/// Queues the failed deliveries again; returns how many.
pub async fn retry_failed(pool: &Pool, id: i64) -> Result<usize, UseCaseError> {
    db::write(pool, move |conn| {
        let digest = digests::by_id(conn, id)?.ok_or(UseCaseError::UnknownDigest)?;
        // A cancelled digest's deliveries are never claimed again: nothing to retry there.
        if !matches!(
            digest.status,
            DigestStatus::Sending | DigestStatus::Paused | DigestStatus::Sent
        ) {
            return Err(UseCaseError::Conflict(format!(
                "digest {id} is {}: only a digest that went out can retry its failures",
                digest.status
            )));
        }
        Ok(digests::retry_failed(conn, id, Utc::now().naive_utc())?)
    })
    .await
}
