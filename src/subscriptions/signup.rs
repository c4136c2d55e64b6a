use chrono::{Duration, Utc};

use super::limits::{over_limit, Limits};
use crate::app::{AppContext, UseCaseError};
use crate::db::{self, lists, outbox, subscribers, suppressions, tokens, DbConnection};
use crate::domain::{
    mask_email, Lang, ListSlug, Sender, SubscriberEmail, SubscriberName, SubscriptionStatus,
    SuppressionKey, Token,
};
use crate::mail::{compose, ComposedMail, MailParts};

/// The outbox kind of confirmation mail.
pub const CONFIRM_KIND: &str = "confirm";
/// Token purpose of confirmation links.
pub const CONFIRM_PURPOSE: &str = "confirm";

/// A validated signup.
#[derive(Debug, Clone)]
pub struct SignupRequest {
    pub email: SubscriberEmail,
    pub name: Option<SubscriberName>,
    pub lists: Vec<ListSlug>,
    pub lang: Lang,
    /// Where consent came from: `form`, `api`...
    pub source: &'static str,
    /// Private lists may be chosen too (an admin adds the reader); readers pick public ones.
    pub include_private: bool,
}

/// What happened; the reader is told the same thing in every case (no enumeration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupOutcome {
    /// A confirmation mail is in the outbox.
    ConfirmationQueued,
    /// Every chosen list is single opt-in, or already confirmed: nothing to confirm.
    NothingToConfirm,
    /// Confirmation needed, but the mailbox had its quota of mail this hour, or its domain
    /// this minute: nothing was written.
    RateLimited,
    /// The subscriber is blocked by an admin.
    Blocked,
}

/// Records a signup: the subscriber, a subscription per list, and (for lists that need the
/// reader's confirmation: double opt-in, or an address that left the list or was erased) a
/// confirmation token bound to those lists and its mail, all in one transaction.
pub async fn signup(state: &AppContext, req: SignupRequest) -> Result<SignupOutcome, UseCaseError> {
    if req.lists.is_empty() {
        return Err(UseCaseError::NoList);
    }
    let ttl = state.settings.signup.confirm_ttl_secs.chrono();
    let limits = Limits::of(&state.settings.signup);
    let token = Token::generate();
    let confirm_url = state.links.confirm(&token, req.lang);
    let chosen = match req.include_private {
        true => {
            let open: Vec<lists::List> =
                db::run(&state.pool, |conn| Ok::<_, UseCaseError>(lists::all(conn)?))
                    .await?
                    .into_iter()
                    .filter(|l| !l.archived)
                    .collect();
            pick_lists(&open, &req.lists)?
        }
        false => match pick_lists(
            &state.public_lists.get(&state.pool, false).await?,
            &req.lists,
        ) {
            Err(UseCaseError::UnknownList) => pick_lists(
                &state.public_lists.get(&state.pool, true).await?,
                &req.lists,
            )?,
            other => other?,
        },
    };
    // The mail is composed before the transaction so the write lock is held only for writes.
    let (from, mail) = confirmation_mail(
        state,
        &chosen,
        req.email.as_str(),
        req.name.as_ref().map(SubscriberName::as_str),
        req.lang,
        &confirm_url,
    )?;

    let masked = mask_email(req.email.as_str());
    let pending = std::sync::Arc::new(Pending {
        req,
        chosen,
        from,
        mail,
        token_hash: token.hash(),
        ttl,
        limits,
        suppression: state.suppression.clone(),
    });
    let mut retried = false;
    let outcome = loop {
        let p = pending.clone();
        match db::write(&state.pool, move |conn| record(conn, &p)).await {
            // Two signups for the same new address raced and this one lost the insert: the
            // second attempt finds the subscriber the other created.
            Err(UseCaseError::Db(db::DbError::Query(e)))
                if !retried && db::is_unique_violation(&e) =>
            {
                retried = true;
            }
            other => break other,
        }
    }
    .inspect(|&outcome| {
        tracing::info!(to = %masked, ?outcome, "signup recorded");
        if outcome == SignupOutcome::ConfirmationQueued && state.log_links {
            // Only with the local-files transport, where nobody gets real mail: the link
            // lets a newcomer try the whole journey from the terminal.
            tracing::info!(%confirm_url, "confirmation link (development mail transport)");
        }
    })?;
    if outcome == SignupOutcome::ConfirmationQueued {
        state.outbox_wake.notify_one();
    }
    Ok(outcome)
}

/// The mail asking `email` to confirm their subscription to `lists` (the first one's sender
/// signs it) through `confirm_url`.
pub(crate) fn confirmation_mail(
    state: &AppContext,
    lists: &[lists::List],
    email: &str,
    name: Option<&str>,
    lang: Lang,
    confirm_url: &str,
) -> Result<(Sender, ComposedMail), UseCaseError> {
    let mail_error = |e: &dyn std::fmt::Display| UseCaseError::Mail(e.to_string());
    let names = lists
        .iter()
        .map(|l| l.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let first = lists.first().ok_or(UseCaseError::NoList)?;
    let from =
        Sender::from_parts(&first.from_name, &first.from_address).map_err(|e| mail_error(&e))?;
    let reply_to = first
        .reply_to
        .as_deref()
        .and_then(|r| Sender::parse(r).ok());
    let ttl = state.settings.signup.confirm_ttl_secs.chrono();
    let rendered = state
        .templates
        .mail(
            "confirm",
            lang,
            &minijinja::context! {
                name,
                list_names => names,
                confirm_url,
                expires_hours => ttl.num_hours(),
            },
        )
        .map_err(|e| mail_error(&e))?;
    let mail = compose(&MailParts {
        from: &from,
        reply_to: reply_to.as_ref(),
        to: email,
        subject: &rendered.subject,
        text: &rendered.text,
        html: &rendered.html,
        headers: vec![],
        message_id: None,
        eight_bit: false,
        dkim: state.mail.dkim.as_deref(),
    })
    .map_err(|e| mail_error(&e))?;
    Ok((from, mail))
}

/// Everything a signup writes, prepared before the transaction.
struct Pending {
    req: SignupRequest,
    chosen: Vec<lists::List>,
    from: Sender,
    mail: ComposedMail,
    token_hash: String,
    ttl: Duration,
    limits: Limits,
    suppression: SuppressionKey,
}

/// The signup's one write transaction. Nothing is written when the request is refused
/// (blocked reader, limit reached): the reader is told the same either way.
fn record(conn: &mut DbConnection, p: &Pending) -> Result<SignupOutcome, UseCaseError> {
    let Pending {
        req,
        chosen,
        from,
        mail,
        token_hash,
        ttl,
        limits,
        suppression,
    } = p;
    let now = Utc::now().naive_utc();
    let existing = subscribers::by_email_locked(conn, req.email.as_str())?;
    if existing.as_ref().is_some_and(|s| s.blocked) {
        return Ok(SignupOutcome::Blocked);
    }
    // An address erased before comes back only by confirming from its own mailbox.
    let suppressed =
        existing.is_none() && suppressions::contains(conn, &suppression.entry(req.email.as_str()))?;
    let current = match &existing {
        Some(s) => subscribers::subscriptions_of(conn, s.id)?,
        None => Vec::new(),
    };
    let mut changes = Vec::with_capacity(chosen.len());
    for list in chosen {
        let status = current
            .iter()
            .find(|s| s.list_id == list.id)
            .map(|s| s.status);
        // Consent is never assumed: a single opt-in list skips the mail only for an address
        // that neither left it nor was erased.
        let next = match status {
            Some(SubscriptionStatus::Confirmed) => continue,
            Some(SubscriptionStatus::Unsubscribed) => SubscriptionStatus::Pending,
            _ if list.double_opt_in || suppressed => SubscriptionStatus::Pending,
            _ => SubscriptionStatus::Confirmed,
        };
        changes.push((list.id, status, next));
    }
    let asked: Vec<i64> = changes
        .iter()
        .filter(|(_, _, next)| *next == SubscriptionStatus::Pending)
        .map(|(list, _, _)| *list)
        .collect();
    if !asked.is_empty() && over_limit(conn, req.email.as_str(), limits, now)? {
        return Ok(SignupOutcome::RateLimited);
    }
    let subscriber = match existing {
        Some(s) => s,
        None => {
            let name = req.name.as_ref().map(SubscriberName::as_str);
            subscribers::insert(conn, req.email.as_str(), name, req.lang.code(), now)?
        }
    };
    for (list_id, status, next) in changes {
        match status {
            None => subscribers::insert_subscription(
                conn,
                subscriber.id,
                list_id,
                next,
                req.source,
                now,
            )?,
            Some(s) if s != next => {
                subscribers::set_subscription(conn, subscriber.id, list_id, next, req.source, now)?
            }
            Some(_) => {}
        }
    }
    if asked.is_empty() {
        return Ok(SignupOutcome::NothingToConfirm);
    }
    let expires = now + *ttl;
    tokens::insert(
        conn,
        token_hash,
        subscriber.id,
        CONFIRM_PURPOSE,
        &asked,
        now,
        expires,
    )?;
    outbox::queue_transactional(
        conn,
        &outbox::Transactional {
            kind: CONFIRM_KIND,
            subscriber_id: Some(subscriber.id),
            sender: from.address(),
            recipient: req.email.as_str(),
            message_id: &mail.message_id,
            body: &mail.content,
        },
    )?;
    Ok(SignupOutcome::ConfirmationQueued)
}

/// The public, active lists with these slugs; any slug that is not one is an error.
fn pick_lists(
    public: &[lists::List],
    slugs: &[ListSlug],
) -> Result<Vec<lists::List>, UseCaseError> {
    let mut chosen = Vec::with_capacity(slugs.len());
    for slug in slugs {
        let list = public
            .iter()
            .find(|l| l.slug == slug.as_str())
            .ok_or(UseCaseError::UnknownList)?;
        if !chosen.iter().any(|c: &lists::List| c.id == list.id) {
            chosen.push(list.clone());
        }
    }
    if chosen.is_empty() {
        return Err(UseCaseError::NoList);
    }
    Ok(chosen)
}
