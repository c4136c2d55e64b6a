//! Asking a list's pending subscribers to confirm: what makes an import with `--status pending`
//! useful, since those readers never went through the signup form.

use chrono::Utc;

use super::signup::{confirmation_mail, CONFIRM_KIND, CONFIRM_PURPOSE};
use crate::app::{AppContext, UseCaseError};
use crate::db::{self, lists, outbox, subscribers, tokens};
use crate::domain::{Lang, ListSlug, Token};

/// Subscribers handled per transaction; their mails are composed before it opens.
const PAGE: i64 = 500;

/// What `remind_pending` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reminded {
    /// Confirmation mails queued.
    pub asked: usize,
    /// Pending subscribers skipped: a confirmation link sent to them is still valid.
    pub recently: usize,
    /// Pending subscribers skipped: blocked by an admin.
    pub blocked: usize,
    /// Pending subscribers whose stored address no mail can be built for.
    pub unmailable: usize,
}

/// Queues a confirmation mail (a fresh link, in the subscriber's language) for every pending
/// subscriber of `slug`, except those blocked and those whose last link has not expired yet,
/// so running it twice does not mail anyone twice.
pub async fn remind_pending(state: &AppContext, slug: ListSlug) -> Result<Reminded, UseCaseError> {
    let list = db::run(&state.pool, move |conn| {
        Ok::<_, db::DbError>(lists::by_slug(conn, slug.as_str())?)
    })
    .await?
    .ok_or(UseCaseError::UnknownList)?;
    let ttl = state.settings.signup.confirm_ttl_secs.chrono();
    let mut done = Reminded::default();
    let mut after = 0;
    loop {
        let list_id = list.id;
        let since = Utc::now().naive_utc() - ttl;
        // Who was mailed a link that is still valid is known before composing; the write
        // transaction checks again (a signup may have mailed one since).
        let page = db::run(&state.pool, move |conn| {
            let page = subscribers::pending_on_list(conn, list_id, after, PAGE)?;
            let mut fresh = Vec::with_capacity(page.len());
            for s in page {
                let recent = outbox::count_recent(conn, s.id, CONFIRM_KIND, since)? > 0;
                fresh.push((s, recent));
            }
            Ok::<_, db::DbError>(fresh)
        })
        .await?;
        let Some((last, _)) = page.last() else { break };
        after = last.id;
        let mut mails = Vec::with_capacity(page.len());
        for (s, recent) in page {
            if s.blocked {
                done.blocked += 1;
                continue;
            }
            if recent {
                done.recently += 1;
                continue;
            }
            // As stored: a row written under older rules is mailed if the relay takes it.
            let lang = Lang::parse(&s.language).unwrap_or_default();
            let token = Token::generate();
            let url = state.links.confirm(&token, lang);
            let lists = std::slice::from_ref(&list);
            match confirmation_mail(state, lists, &s.email, s.name.as_deref(), lang, &url) {
                Ok((from, mail)) => mails.push((s.id, s.email, token.hash(), from, mail)),
                Err(e) => {
                    tracing::warn!(subscriber_id = s.id, error = %e, "no reminder for this subscriber");
                    done.unmailable += 1;
                }
            }
        }
        if mails.is_empty() {
            continue;
        }
        let (asked, recently) = db::write(&state.pool, move |conn| {
            let now = Utc::now().naive_utc();
            let (mut asked, mut recently) = (0, 0);
            for (id, email, token_hash, from, mail) in &mails {
                if outbox::count_recent(conn, *id, CONFIRM_KIND, now - ttl)? > 0 {
                    recently += 1;
                    continue;
                }
                let lists = [list_id];
                tokens::insert(
                    conn,
                    token_hash,
                    *id,
                    CONFIRM_PURPOSE,
                    &lists,
                    now,
                    now + ttl,
                )?;
                outbox::queue_transactional(
                    conn,
                    &outbox::Transactional {
                        kind: CONFIRM_KIND,
                        subscriber_id: Some(*id),
                        sender: from.address(),
                        recipient: email,
                        message_id: &mail.message_id,
                        body: &mail.content,
                    },
                )?;
                asked += 1;
            }
            Ok::<_, UseCaseError>((asked, recently))
        })
        .await?;
        done.asked += asked;
        done.recently += recently;
    }
    if done.asked > 0 {
        state.outbox_wake.notify_one();
    }
    Ok(done)
}
