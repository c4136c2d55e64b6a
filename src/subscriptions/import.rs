//! Importing a list exported from another tool: a CSV file with a header row, an `email` column
//! and optionally a `name` column.
//!
//! One thread reads and validates the file in chunks while writers store the previous chunks,
//! each writer on one connection it holds for the whole import and each part of a chunk in its
//! own transaction; at most a few chunks are in memory whatever the file's size. A failure
//! part-way keeps what was committed, and running the file again finishes the job: rows
//! already on the list change nothing.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc::UnboundedSender;

use crate::db::{self, bulk, lists, Backend, DbConnection, DbError, Pool};
use crate::domain::{ListSlug, SubscriberEmail, SubscriberName, SubscriptionStatus};

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
    #[error("the header row has no `email` column (it has: {0})")]
    NoEmailColumn(String),
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
    rows: Vec<bulk::ImportRow>,
    read: u64,
    left: u64,
    rejected: Vec<(u64, String)>,
}

type Written = Result<(Part, bulk::ChunkOutcome), TransferError>;

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
    let (list, backend) = db::run(pool, move |conn| {
        let list = lists::by_slug(conn, &slug)?.ok_or(TransferError::UnknownList(slug))?;
        Ok::<_, TransferError>((list, db::backend(conn)))
    })
    .await?;
    let target = Arc::new(bulk::ImportTarget {
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
    std::thread::Builder::new()
        .name("import-reader".into())
        .spawn(move || {
            if let Err(e) = read_chunks(input, chunk_rows, &parts) {
                let _ = results.send(Err(e));
            }
        })
        .map_err(TransferError::Io)?;

    // Parts come back in order from each writer, not across writers: a chunk is reported once
    // all its parts are in, so rejected lines come out in line order.
    let n = jobs.len();
    let collect = async {
        let mut report = ImportReport::default();
        let mut done: HashMap<u64, (usize, Part, bulk::ChunkOutcome)> = HashMap::new();
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
        db::run(pool, |conn| Ok::<_, TransferError>(bulk::analyze(conn)?)).await?;
    }
    Ok(report)
}

impl ImportReport {
    fn add(&mut self, chunk: &Part, outcome: &bulk::ChunkOutcome) {
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
    target: &bulk::ImportTarget,
    parts: Receiver<Part>,
    results: &UnboundedSender<Written>,
) -> Result<(), TransferError> {
    bulk::start_import(conn)?;
    let written = parts.into_iter().try_for_each(|mut part| {
        let outcome = if part.rows.is_empty() {
            bulk::ChunkOutcome::default()
        } else {
            db::transaction(conn, |c| bulk::import_chunk(c, target, &part.rows))?
        };
        part.rows = Vec::new();
        let _ = results.send(Ok((part, outcome)));
        Ok::<_, TransferError>(())
    });
    let finished = bulk::finish_import(conn);
    written?;
    Ok(finished?)
}

/// Reads `input` in chunks of `chunk_rows` rows and shares each out to the writers.
fn read_chunks<R: Read>(
    input: R,
    chunk_rows: usize,
    writers: &[SyncSender<Part>],
) -> Result<(), TransferError> {
    let mut input = BufReader::with_capacity(256 * 1024, input);
    let delimiter = sniff_delimiter(input.fill_buf()?);
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(input);
    let headers = csv.byte_headers()?.clone();
    let column = |want: &str| {
        headers.iter().position(|h| {
            let h = String::from_utf8_lossy(h);
            h.trim_start_matches('\u{feff}')
                .trim()
                .eq_ignore_ascii_case(want)
        })
    };
    let Some(email_col) = column("email") else {
        let found: Vec<String> = headers
            .iter()
            .map(|h| format!("{:?}", String::from_utf8_lossy(h)))
            .collect();
        return Err(TransferError::NoEmailColumn(found.join(", ")));
    };
    let columns = Columns {
        email: email_col,
        name: column("name"),
        status: column("status"),
    };

    let new_chunk = |index| -> Vec<Part> {
        (0..writers.len())
            .map(|_| Part {
                index,
                ..Part::default()
            })
            .collect()
    };
    let (mut index, mut read) = (0, 0);
    let mut chunk = new_chunk(index);
    let mut record = csv::ByteRecord::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    loop {
        let more = csv.read_byte_record(&mut record)?;
        if more {
            let line = record.position().map_or(0, |p| p.line());
            read += 1;
            sort_row(&record, line, &columns, &mut chunk, &mut first_line);
        }
        if read == chunk_rows || (!more && read > 0) {
            chunk[0].read = read as u64;
            for (part, writer) in std::mem::replace(&mut chunk, new_chunk(index + 1))
                .into_iter()
                .zip(writers)
            {
                if writer.send(part).is_err() {
                    return Ok(()); // a writer failed and said why
                }
            }
            (index, read) = (index + 1, 0);
            first_line.clear();
        }
        if !more {
            return Ok(());
        }
    }
}

/// Where the columns an import reads are.
struct Columns {
    email: usize,
    name: Option<usize>,
    /// Other columns are ignored, but a file that says a reader unsubscribed (an export of
    /// ours, or of another tool) must not subscribe them again.
    status: Option<usize>,
}

/// Puts a row into the chunk: rows to the writer of their address, refusals to the first part.
fn sort_row(
    record: &csv::ByteRecord,
    line: u64,
    columns: &Columns,
    chunk: &mut [Part],
    first_line: &mut HashMap<String, u64>,
) {
    let left = columns
        .status
        .and_then(|i| record.get(i))
        .is_some_and(|s| s.trim_ascii().eq_ignore_ascii_case(b"unsubscribed"));
    if left {
        chunk[0].left += 1;
        return;
    }
    let (email, name) = match parse_row(record, columns.email, columns.name) {
        Ok(row) => row,
        Err(reason) => {
            chunk[0].rejected.push((line, reason));
            return;
        }
    };
    if let Some(first) = first_line.get(email.as_str()) {
        chunk[0]
            .rejected
            .push((line, format!("duplicate of line {first}")));
        return;
    }
    first_line.insert(email.as_str().to_owned(), line);
    let email_hash = email.suppression_hash();
    let writer = usize::from(email_hash.as_bytes()[0]) % chunk.len();
    chunk[writer].rows.push(bulk::ImportRow {
        line,
        email_hash,
        email: email.as_str().to_owned(),
        name: name.map(|n| n.as_str().to_owned()),
    });
}

/// The address and name of a row, or why the row is refused.
fn parse_row(
    record: &csv::ByteRecord,
    email_col: usize,
    name_col: Option<usize>,
) -> Result<(SubscriberEmail, Option<SubscriberName>), String> {
    let field = |i: usize| {
        std::str::from_utf8(record.get(i).unwrap_or_default())
            .map_err(|_| "not valid UTF-8 (save the file as UTF-8)".to_owned())
    };
    let raw = field(email_col)?;
    if raw.trim().is_empty() {
        return Err("no e-mail address".into());
    }
    let email = SubscriberEmail::parse(raw).map_err(|e| format!("{e}: {raw:?}"))?;
    let name = match name_col {
        Some(i) => SubscriberName::parse_optional(Some(field(i)?)).map_err(|e| e.to_string())?,
        None => None,
    };
    Ok((email, name))
}

/// Spreadsheets set to an Italian locale save CSV with semicolons: the header line decides.
fn sniff_delimiter(start: &[u8]) -> u8 {
    let header = start.split(|&b| b == b'\n').next().unwrap_or_default();
    [b',', b';', b'\t']
        .into_iter()
        .find(|d| header.contains(d))
        .unwrap_or(b',')
}
