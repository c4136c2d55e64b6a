//! HTTP handlers. They parse input into domain types, call a use case in `subscriptions`, and
//! render a page or JSON; they hold no SQL.

pub mod api;
mod errors;
mod health;
pub mod public;

mod state;

pub use errors::{error_pages, PublicError};
pub use health::health;
pub use state::AppState;
