//! `iscriviti import` and `iscriviti export`: a list in and out as CSV.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::config::Settings;
use crate::domain::{ListSlug, SubscriptionStatus};
use crate::startup::open_database;
use crate::subscriptions::{self, ImportEvent, ImportReport, ImportRequest};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A CSV file in UTF-8 with a header row naming an `email` column and optionally a `name`
    /// column (any letter case, any order). Other columns are ignored, except that rows whose
    /// `status` column says `unsubscribed` are left off.
    pub file: PathBuf,
    /// The list to subscribe the addresses to.
    #[arg(long)]
    pub list: String,
    /// Status of the new subscriptions: confirmed when the consent was collected elsewhere.
    #[arg(long, value_enum, default_value_t = ImportStatus::Confirmed)]
    pub status: ImportStatus,
    /// Where the consent came from, kept with each new subscription [default: import:FILE NAME].
    #[arg(long)]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ImportStatus {
    Pending,
    Confirmed,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The list to export.
    #[arg(long)]
    pub list: String,
    /// Only subscriptions with this status: pending, confirmed or unsubscribed.
    #[arg(long)]
    pub status: Option<SubscriptionStatus>,
}

/// Runs `iscriviti import`: bad rows on stderr as `line N: reason`, the summary on stdout;
/// `Incomplete` (exit status 2) when a row was skipped as bad, after importing the others.
pub async fn import(settings: &Settings, args: ImportArgs) -> anyhow::Result<()> {
    let list = ListSlug::parse(&args.list)?;
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let source = args.source.unwrap_or_else(|| format!("import:{file_name}"));
    let source = source.trim().to_owned();
    anyhow::ensure!(
        !source.is_empty()
            && source.chars().count() <= 200
            && !source.chars().any(char::is_control),
        "--source must be a single line of at most 200 characters"
    );
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("opening {}", args.file.display()))?;
    let pool = open_database(settings).await?;
    let request = ImportRequest {
        list,
        status: match args.status {
            ImportStatus::Pending => SubscriptionStatus::Pending,
            ImportStatus::Confirmed => SubscriptionStatus::Confirmed,
        },
        source,
        chunk_rows: subscriptions::DEFAULT_CHUNK_ROWS,
        columns: None,
    };
    let started = Instant::now();
    let mut progress = Progress::new(started);
    let report = subscriptions::import(&pool, file, request, move |event| match event {
        ImportEvent::Rejected { line, reason } => progress.line(&format!("line {line}: {reason}")),
        ImportEvent::Progress(report) => progress.update(report),
    })
    .await
    .with_context(|| format!("importing {}", args.file.display()))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} rows read: {} imported, {} already on the list, {} unsubscribed (left off), \
         {} suppressed (erased), {} blocked, {} bad; {secs:.2} s, {:.0} rows/s",
        report.read,
        report.imported,
        report.already,
        report.unsubscribed,
        report.suppressed,
        report.blocked,
        report.bad,
        report.read as f64 / secs.max(1e-9),
    );
    if report.bad > 0 {
        return Err(super::Incomplete(format!(
            "{} bad rows were skipped (listed above); the other rows were imported",
            report.bad
        ))
        .into());
    }
    Ok(())
}

/// A one-line progress display on stderr, only when stderr is a terminal.
struct Progress {
    started: Instant,
    shown: Option<Instant>,
    terminal: bool,
}

impl Progress {
    fn new(started: Instant) -> Self {
        Self {
            started,
            shown: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Prints a line of its own, above the progress line.
    fn line(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        let clear = if self.shown.is_some() { "\r\x1b[K" } else { "" };
        let _ = writeln!(err, "{clear}{text}");
        self.shown = None;
    }

    fn update(&mut self, report: &ImportReport) {
        if !self.terminal
            || self
                .shown
                .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
        {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let _ = write!(
            std::io::stderr().lock(),
            "\r\x1b[K{} rows read, {} imported, {} bad ({:.0} rows/s)",
            report.read,
            report.imported,
            report.bad,
            report.read as f64 / secs,
        );
        self.shown = Some(Instant::now());
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.shown.is_some() {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
        }
    }
}

/// Runs `iscriviti export`: the CSV goes to stdout.
pub async fn export(settings: &Settings, args: ExportArgs) -> anyhow::Result<()> {
    let list = ListSlug::parse(&args.list)?;
    let pool = open_database(settings).await?;
    let out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
    match subscriptions::export(
        &pool,
        list,
        args.status,
        out,
        subscriptions::DEFAULT_PAGE_ROWS,
    )
    .await
    {
        Ok(_) => Ok(()),
        // `export | head` closing the pipe early is what the reader wanted, not a failure.
        Err(subscriptions::TransferError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(())
        }
        Err(subscriptions::TransferError::Csv(e)) if matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe) => {
            Ok(())
        }
        Err(e) => Err(e).context("exporting"),
    }
}
