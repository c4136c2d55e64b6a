use chrono::Utc;

use super::signup::CONFIRM_PURPOSE;
use crate::app::{AppContext, UseCaseError};
use crate::db::{self, subscribers, suppressions, tokens, DbConnection};
use crate::domain::Token;

/// What a confirmation link is worth right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not used yet and not expired.
    Usable,
    /// Used already, and not expired: it confirms nothing more (the page says so).
    Used,
    /// Past its expiry, used or not.
    Expired,
    /// Not a token we issued (or the subscriber erased their data since).
    Unknown,
}

/// What a confirmation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// The subscriptions the link was sent for are confirmed.
    Now,
    /// The link had been used: nothing changed.
    Already,
}

/// Why a confirmation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("the confirmation link has expired")]
    Expired,
    #[error("the confirmation link is not valid")]
    Unknown,
    #[error(transparent)]
    Other(#[from] UseCaseError),
}

impl From<db::DbError> for ConfirmError {
    fn from(e: db::DbError) -> Self {
        ConfirmError::Other(e.into())
    }
}

impl From<diesel::result::Error> for ConfirmError {
    fn from(e: diesel::result::Error) -> Self {
        ConfirmError::Other(e.into())
    }
}

fn state_of(
    conn: &mut DbConnection,
    token: &Token,
) -> Result<(LinkState, Option<tokens::TokenRow>), diesel::result::Error> {
    let Some(row) = tokens::find(conn, &token.hash(), CONFIRM_PURPOSE)? else {
        return Ok((LinkState::Unknown, None));
    };
    // The expiry holds after use too: an old mail's link does nothing, even "again".
    let state = match (row.expires_at < Utc::now().naive_utc(), row.used_at) {
        (true, _) => LinkState::Expired,
        (false, Some(_)) => LinkState::Used,
        (false, None) => LinkState::Usable,
    };
    Ok((state, Some(row)))
}

/// Looks at a link without changing anything (what a GET may do).
pub async fn peek_confirm(state: &AppContext, token: Token) -> Result<LinkState, UseCaseError> {
    db::run(&state.pool, move |conn| Ok(state_of(conn, &token)?.0)).await
}

/// Confirms the pending subscriptions the link was sent for, once. A second use confirms
/// nothing (a subscription requested since, on this or another list, needs its own link).
pub async fn confirm(state: &AppContext, token: Token) -> Result<Confirmed, ConfirmError> {
    let key = state.suppression.clone();
    db::write(&state.pool, move |conn| {
        let (link, row) = state_of(conn, &token)?;
        let row = match (link, row) {
            (LinkState::Usable, Some(row)) => row,
            (LinkState::Used, _) => return Ok(Confirmed::Already),
            (LinkState::Expired, _) => return Err(ConfirmError::Expired),
            _ => return Err(ConfirmError::Unknown),
        };
        let now = Utc::now().naive_utc();
        let lists = tokens::lists_of(conn, &row.hash)?;
        // A link issued before links were bound to lists confirms what was pending then.
        let bound = (!lists.is_empty()).then_some(lists.as_slice());
        let confirmed = subscribers::confirm_pending(conn, row.subscriber_id, bound, now)?;
        tokens::mark_used(conn, &row.hash, now)?;
        if let Some(subscriber) = subscribers::by_id(conn, row.subscriber_id)? {
            // The reader proved again that they want mail: lift an old erasure.
            suppressions::remove(conn, &key.entry(&subscriber.email))?;
        }
        tracing::info!(
            subscriber_id = row.subscriber_id,
            confirmed,
            "subscription confirmed"
        );
        Ok(Confirmed::Now)
    })
    .await
}
