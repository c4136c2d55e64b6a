use chrono::Utc;

use super::signup::CONFIRM_PURPOSE;
use crate::app::{AppContext, UseCaseError};
use crate::db::{self, subscribers, suppressions, tokens, DbConnection};
use crate::domain::{suppression_hash, Token};

/// What a confirmation link is worth right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Unused and not expired, or already used (confirming again is harmless).
    Usable,
    /// Past its expiry and never used.
    Expired,
    /// Not a token we issued (or the subscriber erased their data since).
    Unknown,
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
    let state = if row.used_at.is_none() && row.expires_at < Utc::now().naive_utc() {
        LinkState::Expired
    } else {
        LinkState::Usable
    };
    Ok((state, Some(row)))
}

/// Looks at a link without changing anything (what a GET may do).
pub async fn peek_confirm(state: &AppContext, token: Token) -> Result<LinkState, UseCaseError> {
    db::run(&state.pool, move |conn| Ok(state_of(conn, &token)?.0)).await
}

/// Confirms every pending subscription of the token's subscriber. Idempotent: a second use of
/// the same link confirms nothing new and succeeds.
pub async fn confirm(state: &AppContext, token: Token) -> Result<(), ConfirmError> {
    db::write(&state.pool, move |conn| {
        let (link, row) = state_of(conn, &token)?;
        let row = match (link, row) {
            (LinkState::Usable, Some(row)) => row,
            (LinkState::Expired, _) => return Err(ConfirmError::Expired),
            _ => return Err(ConfirmError::Unknown),
        };
        let now = Utc::now().naive_utc();
        let confirmed = subscribers::confirm_pending(conn, row.subscriber_id, now)?;
        tokens::mark_used(conn, &row.hash, now)?;
        if let Some(subscriber) = subscribers::by_id(conn, row.subscriber_id)? {
            // The reader proved again that they want mail: lift an old erasure.
            suppressions::remove(conn, &suppression_hash(&subscriber.email))?;
        }
        tracing::info!(
            subscriber_id = row.subscriber_id,
            confirmed,
            "subscription confirmed"
        );
        Ok(())
    })
    .await
}
