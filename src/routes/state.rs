//! The state every handler gets.

use crate::app::AppContext;
use crate::ratelimit::IpRateLimiter;

/// What every handler gets: the application context the use cases take, and what only the
/// HTTP side needs.
pub struct AppState {
    pub ctx: AppContext,
    pub ip_limiter: IpRateLimiter,
}

impl std::ops::Deref for AppState {
    type Target = AppContext;
    fn deref(&self) -> &AppContext {
        &self.ctx
    }
}
