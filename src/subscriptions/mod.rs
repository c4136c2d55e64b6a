//! What readers and admins do with lists and subscriptions, independent of HTTP or the CLI.
//! Each use case validates nothing (its inputs are domain types), runs its writes in one
//! transaction through `db`, and records any mail in the outbox inside that transaction.

mod confirm;
mod directory;
mod export;
mod import;
mod limits;
mod lists;
mod manage;
mod manage_link;
mod remind;
mod signup;
mod stats;

pub use confirm::{confirm, peek_confirm, ConfirmError, Confirmed, LinkState};
pub use directory::{
    add_subscriber, detail, id_of, search, set_blocked, update_subscriber, Added, Detail, Entry,
    Event, Membership, NewSubscriber, Page, Search, PAGE_ROWS,
};
pub use export::{export, DEFAULT_PAGE_ROWS, EXPORT_HEADER};
pub use import::{
    import, import_errors, import_job, preview, start_import_job, ColumnMap, ImportEvent,
    ImportReport, ImportRequest, JobView, Preview, PreviewRow, Summary, TransferError,
    DEFAULT_CHUNK_ROWS,
};
pub use lists::{
    all_lists, create_list, list, open_lists, public_lists, seed_default_list, set_archived,
    unsubscribe_view, update_list, ListInput,
};
pub use manage::{
    erase, preferences, undo_unsubscribe, unsubscribe, update_preferences, PreferenceList,
    Preferences, Undone,
};
pub use manage_link::{send_manage_link, ManageLink};
pub use remind::{remind_pending, Reminded};
pub use signup::{signup, SignupOutcome, SignupRequest};
pub use stats::{dashboard, Dashboard, DayCounts, ListCounts};
