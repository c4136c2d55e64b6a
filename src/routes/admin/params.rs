//! A route's path parameters: one that does not parse names nothing, so it is a 404.

use super::AdminError;
use crate::domain::ListSlug;

/// A numeric id (`{id}`, `{job}`).
pub(super) fn id(raw: &str) -> Result<i64, AdminError> {
    raw.parse().map_err(|_| AdminError::NotFound)
}

/// A list's slug (`{slug}`, or `?list=`).
pub(super) fn slug(raw: &str) -> Result<ListSlug, AdminError> {
    ListSlug::parse(raw).map_err(|_| AdminError::NotFound)
}
