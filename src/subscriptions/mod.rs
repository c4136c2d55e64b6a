//! What readers and admins do with lists and subscriptions, independent of HTTP or the CLI.
//! Each use case validates nothing (its inputs are domain types), runs its writes in one
//! transaction through `db`, and records any mail in the outbox inside that transaction.

mod confirm;
mod export;
mod import;
mod limits;
mod lists;
mod manage;
mod manage_link;
mod remind;
mod signup;

pub use confirm::{confirm, peek_confirm, ConfirmError, Confirmed, LinkState};
pub use export::{export, DEFAULT_PAGE_ROWS, EXPORT_HEADER};
pub use import::{
    import, ImportEvent, ImportReport, ImportRequest, TransferError, DEFAULT_CHUNK_ROWS,
};
pub use lists::{create_list, public_lists, seed_default_list, unsubscribe_view, ListInput};
pub use manage::{
    erase, preferences, undo_unsubscribe, unsubscribe, update_preferences, PreferenceList,
    Preferences, Undone,
};
pub use manage_link::{send_manage_link, ManageLink};
pub use remind::{remind_pending, Reminded};
pub use signup::{signup, SignupOutcome, SignupRequest};
