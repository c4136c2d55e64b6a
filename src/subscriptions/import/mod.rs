//! Importing a list exported from another tool: a CSV file with a header row, an `email` column
//! and optionally a `name` column.
//!
//! One thread reads and validates the file in chunks while writers store the previous chunks,
//! each writer on one connection it holds for the whole import and each part of a chunk in its
//! own transaction; at most a few chunks are in memory whatever the file's size. A failure
//! part-way keeps what was committed, and running the file again finishes the job: rows
//! already on the list change nothing.

use std::collections::HashMap;
use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc::UnboundedSender;

use crate::db::{self, import, lists, Backend, DbConnection, DbError, Pool};
use crate::domain::{ListSlug, SubscriptionStatus};

mod job;
mod preview;
mod read;

pub use job::{import_errors, import_job, start_import_job, JobView, Summary};
pub use preview::{preview, Preview, PreviewRow};
use read::read_chunks;

/// Rows per chunk: large enough that per-statement and per-commit costs vanish, small enough
/// that a transaction stays short (signups wait for SQLite's write lock meanwhile) and that an
/// `IN` list of the chunk's addresses stays within SQLite's 32,766 parameters.
pub const DEFAULT_CHUNK_ROWS: usize = 4_000;

/// New subscriptions after which the database's statistics are refreshed.
const ANALYZE_AFTER: u64 = 10_000;

/// What to import into.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub list: ListSlug,
    /// Pending or confirmed: the status of every new subscription.
    pub status: SubscriptionStatus,
    /// Where the consent came from, recorded on each new subscription.
    pub source: String,
    pub chunk_rows: usize,
    /// The columns to read; by default `email`, and `name` and `status` when present.
    pub columns: Option<ColumnMap>,
}

/// The header names of the columns an import reads (compared without regard to case).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ColumnMap {
    pub email: String,
    /// No name column when `None`.
    pub name: Option<String>,
    /// A status column, whose `unsubscribed` rows are never subscribed.
    pub status: Option<String>,
}

/// Counts of an import; every row read lands in exactly one of the other fields.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    pub read: u64,
    /// New subscriptions.
    pub imported: u64,
    /// Pending or confirmed on the list already: left as they were.
    pub already: u64,
    /// Left the list once: never subscribed again by an import.
    pub unsubscribed: u64,
    /// Erased readers: never subscribed again by an import.
    pub suppressed: u64,
    pub blocked: u64,
    /// Invalid or duplicate rows, each reported with its line.
    pub bad: u64,
}

/// What an import tells its caller as it goes, in line order.
#[derive(Debug)]
pub enum ImportEvent<'a> {
    Rejected { line: u64, reason: &'a str },
    Progress(&'a ImportReport),
}

/// Why an import or an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("no list with the slug {0:?} (see `iscriviti list ls`)")]
    UnknownList(String),
    #[error("an import subscribes as pending or confirmed, not {0}")]
    Status(&'static str),
    #[error("the header row has no `{0}` column (it has: {1})")]
    NoColumn(String, String),
    #[error("{0}")]
    Csv(csv::Error),
    #[error("{0}")]
    Io(std::io::Error),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<csv::Error> for TransferError {
    fn from(e: csv::Error) -> Self {
        TransferError::Csv(e)
    }
}

impl From<std::io::Error> for TransferError {
    fn from(e: std::io::Error) -> Self {
        TransferError::Io(e)
    }
}

impl From<diesel::result::Error> for TransferError {
    fn from(e: diesel::result::Error) -> Self {
        TransferError::Db(DbError::Query(e))
    }
}

/// One writer's share of a chunk. Rows are shared out by address, so every copy of an address
/// goes to the same writer, whose own record of the addresses it met finds the duplicates.
/// The first writer's part also carries the chunk's count of rows, the rows marked unsubscribed
/// and the rejected lines.
#[derive(Default)]
struct Part {
    index: u64,
    rows: Vec<import::ImportRow>,
    read: u64,
    left: u64,
    rejected: Vec<(u64, String)>,
}

type Written = Result<(Part, import::ChunkOutcome), TransferError>;

/// Writers per import. On PostgreSQL each connection's server process works on one core, mostly
/// on foreign-key checks, so two connections import 1.7 times as fast on two cores; SQLite
/// has one writer at a time.
fn writers(backend: Backend) -> usize {
    match backend {
        Backend::Postgres => 2,
        Backend::Sqlite => 1,
    }
}

/// Imports `input` into the list; `on_event` hears of every rejected row and of each chunk.
pub async fn import<R, F>(
    pool: &Pool,
    input: R,
    req: ImportRequest,
    mut on_event: F,
) -> Result<ImportReport, TransferError>
where
    R: Read + Send + 'static,
    F: FnMut(ImportEvent<'_>),
{
    if req.status == SubscriptionStatus::Unsubscribed {
        return Err(TransferError::Status(req.status.as_str()));
    }
    let slug = req.list.as_str().to_owned();
    let (list, backend, suppression) = db::write(pool, move |conn| {
        let list = lists::by_slug(conn, &slug)?.ok_or(TransferError::UnknownList(slug))?;
        let suppression = db::suppressions::key(conn)?;
        Ok::<_, TransferError>((list, db::backend(conn), suppression))
    })
    .await?;
    let target = Arc::new(import::ImportTarget {
        list_id: list.id,
        status: req.status,
        source: req.source,
        language: list.language,
        now: Utc::now().naive_utc(),
    });

    let (results, mut written) = tokio::sync::mpsc::unbounded_channel::<Written>();
    let mut parts = Vec::new();
    let mut jobs = Vec::new();
    // Each writer holds a connection to the end: one more writer than connections would wait
    // for one forever while the reader waits for it.
    let writers = writers(backend).min(pool.max_size() as usize);
    for _ in 0..writers {
        // Two parts queue while the database works on a third: enough to keep both busy.
        let (tx, rx) = sync_channel::<Part>(2);
        parts.push(tx);
        let (target, results) = (target.clone(), results.clone());
        jobs.push(db::run(pool, move |conn| {
            write_parts(conn, &target, rx, &results)
        }));
    }
    let chunk_rows = req.chunk_rows.max(1);
    let columns = req.columns.clone();
    std::thread::Builder::new()
        .name("import-reader".into())
        .spawn(move || {
            if let Err(e) = read_chunks(input, chunk_rows, columns.as_ref(), &parts, &suppression) {
                let _ = results.send(Err(e));
            }
        })
        .map_err(TransferError::Io)?;

    // Parts come back in order from each writer, not across writers: a chunk is reported once
    // all its parts are in, so rejected lines come out in line order.
    let n = jobs.len();
    let collect = async {
        let mut report = ImportReport::default();
        let mut done: HashMap<u64, (usize, Part, import::ChunkOutcome)> = HashMap::new();
        let mut next = 0;
        while let Some(result) = written.recv().await {
            let (part, outcome) = result?;
            let entry = done.entry(part.index).or_default();
            entry.0 += 1;
            entry.1.read += part.read;
            entry.1.left += part.left;
            entry.1.rejected.extend(part.rejected);
            entry.2.merge(outcome);
            while done.get(&next).is_some_and(|(count, ..)| *count == n) {
                let (_, mut chunk, outcome) = done.remove(&next).unwrap_or_default();
                for (line, first) in &outcome.duplicates {
                    chunk
                        .rejected
                        .push((*line, format!("duplicate of line {first}")));
                }
                chunk.rejected.sort_by_key(|(line, _)| *line);
                for (line, reason) in &chunk.rejected {
                    on_event(ImportEvent::Rejected {
                        line: *line,
                        reason,
                    });
                }
                report.add(&chunk, &outcome);
                on_event(ImportEvent::Progress(&report));
                next += 1;
            }
        }
        Ok::<_, TransferError>(report)
    };
    let (jobs, report) = tokio::join!(futures_util::future::join_all(jobs), collect);
    jobs.into_iter().collect::<Result<Vec<()>, _>>()?;
    let report = report?;
    if report.imported >= ANALYZE_AFTER {
        db::run(pool, |conn| Ok::<_, TransferError>(import::analyze(conn)?)).await?;
    }
    Ok(report)
}

impl ImportReport {
    fn add(&mut self, chunk: &Part, outcome: &import::ChunkOutcome) {
        self.read += chunk.read;
        self.bad += chunk.rejected.len() as u64;
        self.imported += outcome.imported;
        self.already += outcome.already;
        self.unsubscribed += chunk.left + outcome.unsubscribed;
        self.suppressed += outcome.suppressed;
        self.blocked += outcome.blocked;
    }
}

/// One writer: each part in its own transaction on one connection, outcomes sent back. A
/// failure drops `parts`, which stops the reader and so the other writers.
fn write_parts(
    conn: &mut DbConnection,
    target: &import::ImportTarget,
    parts: Receiver<Part>,
    results: &UnboundedSender<Written>,
) -> Result<(), TransferError> {
    import::start_import(conn)?;
    let written = parts.into_iter().try_for_each(|mut part| {
        let outcome = if part.rows.is_empty() {
            import::ChunkOutcome::default()
        } else {
            db::transaction(conn, |c| import::import_chunk(c, target, &part.rows))?
        };
        part.rows = Vec::new();
        let _ = results.send(Ok((part, outcome)));
        Ok::<_, TransferError>(())
    });
    let finished = import::finish_import(conn);
    written?;
    Ok(finished?)
}
