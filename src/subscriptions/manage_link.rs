//! "Manage my subscription": a reader who has no valid preferences link (they expire) asks for
//! a fresh one by mail. The answer is the same whether or not the address is subscribed.

use chrono::Utc;

use super::limits::{over_limit, Limits};
use crate::app::{AppContext, UseCaseError};
use crate::db::{self, lists, outbox, subscribers, DbConnection};
use crate::domain::{mask_email, Lang, Sender, SubscriberEmail};
use crate::mail::{compose, MailParts};

/// The outbox kind of these mails.
pub const MANAGE_KIND: &str = "manage";

/// What happened (the person asking is told the same in every case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManageLink {
    Sent,
    /// No such subscriber, or a blocked one.
    Nobody,
    /// The mailbox or its domain had its quota of mail.
    RateLimited,
}

/// Mails `email` a fresh preferences link in the reader's language, if it is a subscriber's
/// address; signed by the sender of one of their lists.
pub async fn send_manage_link(
    ctx: &AppContext,
    email: SubscriberEmail,
) -> Result<ManageLink, UseCaseError> {
    let found = db::run(&ctx.pool, {
        let email = email.clone();
        move |conn| {
            let Some(s) = subscribers::by_email(conn, email.as_str())? else {
                return Ok::<_, UseCaseError>(None);
            };
            let on: Vec<i64> = subscribers::subscriptions_of(conn, s.id)?
                .iter()
                .map(|x| x.list_id)
                .collect();
            let list = lists::by_ids(conn, &on)?.into_iter().next();
            Ok((!s.blocked).then_some((s, list)))
        }
    })
    .await?;
    let Some((subscriber, list)) = found else {
        return Ok(ManageLink::Nobody);
    };
    let lang = Lang::parse(&subscriber.language).unwrap_or_default();
    let from = match &list {
        Some(l) => Sender::from_parts(&l.from_name, &l.from_address)
            .map_err(|e| UseCaseError::Mail(e.to_string()))?,
        None => ctx.settings.mail.from.clone(),
    };
    let days = ctx.settings.links.preferences_ttl_days.get();
    let rendered = ctx
        .templates
        .mail(
            "manage",
            lang,
            &minijinja::context! {
                name => subscriber.name,
                preferences_url => ctx.links.preferences(subscriber.id),
                expires_days => days,
            },
        )
        .map_err(|e| UseCaseError::Mail(e.to_string()))?;
    let mail = compose(&MailParts {
        from: &from,
        reply_to: None,
        to: email.as_str(),
        subject: &rendered.subject,
        text: &rendered.text,
        html: &rendered.html,
        headers: vec![],
        message_id: None,
        eight_bit: false,
        dkim: ctx.mail.dkim.as_deref(),
    })
    .map_err(|e| UseCaseError::Mail(e.to_string()))?;
    let limits = Limits::of(&ctx.settings.signup);
    let subscriber_id = subscriber.id;
    let masked = mask_email(email.as_str());
    let outcome = db::write(&ctx.pool, move |conn: &mut DbConnection| {
        if over_limit(conn, email.as_str(), &limits, Utc::now().naive_utc())? {
            return Ok::<_, UseCaseError>(ManageLink::RateLimited);
        }
        outbox::queue_transactional(
            conn,
            &outbox::Transactional {
                kind: MANAGE_KIND,
                subscriber_id: Some(subscriber_id),
                sender: from.address(),
                recipient: email.as_str(),
                message_id: &mail.message_id,
                body: &mail.content,
            },
        )?;
        Ok(ManageLink::Sent)
    })
    .await?;
    tracing::info!(to = %masked, ?outcome, "preferences link requested");
    if outcome == ManageLink::Sent {
        ctx.outbox_wake.notify_one();
    }
    Ok(outcome)
}
