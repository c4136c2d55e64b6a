//! Imports started from the admin pages: they run in the background of the instance that
//! received the file, and write their progress and their bad rows to `import_jobs`, so the page
//! that watches them works on any instance. The file is removed when the import ends.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use super::{import, ImportEvent, ImportReport, ImportRequest};
use crate::app::{AppContext, UseCaseError};
use crate::db::{self, import_jobs, lists, Pool};

/// How often a running import writes its progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// What a finished import's summary holds.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Summary {
    pub read: u64,
    pub imported: u64,
    pub already: u64,
    pub unsubscribed: u64,
    pub suppressed: u64,
    pub blocked: u64,
    pub bad: u64,
}

impl From<&ImportReport> for Summary {
    fn from(r: &ImportReport) -> Self {
        Self {
            read: r.read,
            imported: r.imported,
            already: r.already,
            unsubscribed: r.unsubscribed,
            suppressed: r.suppressed,
            blocked: r.blocked,
            bad: r.bad,
        }
    }
}

/// What the import has done since progress was last written.
#[derive(Default)]
struct Unwritten {
    report: ImportReport,
    rejected: Vec<(u64, String)>,
}

/// Starts importing `file` (which the job then owns) for staff member `user_id`; returns the
/// job's id.
pub async fn start_import_job(
    state: &AppContext,
    file: PathBuf,
    file_name: String,
    req: ImportRequest,
    user_id: i64,
) -> Result<i64, UseCaseError> {
    let slug = req.list.as_str().to_owned();
    let job = db::write(&state.pool, move |conn| {
        let list = lists::by_slug(conn, &slug)?.ok_or(UseCaseError::UnknownList)?;
        let now = Utc::now().naive_utc();
        Ok::<_, UseCaseError>(import_jobs::create(
            conn, user_id, list.id, &file_name, now,
        )?)
    })
    .await?;
    tokio::spawn(run(state.pool.clone(), job.id, file, req));
    Ok(job.id)
}

async fn run(pool: Pool, job: i64, file: PathBuf, req: ImportRequest) {
    let unwritten = Arc::new(Mutex::new(Unwritten::default()));
    let sink = unwritten.clone();
    let opened = std::fs::File::open(&file);
    let imported = async {
        let input = opened.map_err(super::TransferError::Io)?;
        import(&pool, input, req, move |event| {
            let mut u = sink.lock().expect("import progress lock");
            match event {
                ImportEvent::Rejected { line, reason } => {
                    u.rejected.push((line, reason.to_owned()))
                }
                ImportEvent::Progress(report) => u.report = *report,
            }
        })
        .await
    };
    let writer = async {
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            write_progress(&pool, job, &unwritten).await;
        }
    };
    let outcome = tokio::select! {
        outcome = imported => outcome,
        _ = writer => unreachable!("the progress writer runs until the import ends"),
    };
    write_progress(&pool, job, &unwritten).await;
    let (ok, summary) = match &outcome {
        Ok(report) => (
            true,
            serde_json::to_string(&Summary::from(report)).unwrap_or_default(),
        ),
        Err(e) => (false, e.to_string()),
    };
    if let Err(e) = &outcome {
        tracing::warn!(job, error = %e, "import from the admin pages failed");
    }
    let finished = db::write(&pool, move |conn| {
        Ok::<_, db::DbError>(import_jobs::finish(
            conn,
            job,
            ok,
            &summary,
            Utc::now().naive_utc(),
        )?)
    })
    .await;
    if let Err(e) = finished {
        tracing::error!(job, error = %e, "could not record the end of an import");
    }
    if let Err(e) = tokio::fs::remove_file(&file).await {
        tracing::warn!(job, error = %e, "could not remove an imported file");
    }
}

async fn write_progress(pool: &Pool, job: i64, unwritten: &Mutex<Unwritten>) {
    let (report, rejected) = {
        let mut u = unwritten.lock().expect("import progress lock");
        (u.report, std::mem::take(&mut u.rejected))
    };
    let written = db::write(pool, move |conn| {
        let (read, imported) = (report.read as i64, report.imported as i64);
        let now = Utc::now().naive_utc();
        Ok::<_, db::DbError>(import_jobs::progress(
            conn, job, read, imported, &rejected, now,
        )?)
    })
    .await;
    if let Err(e) = written {
        tracing::warn!(job, error = %e, "could not record an import's progress");
    }
}

/// An import as its page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    pub job: import_jobs::Job,
    pub list_slug: String,
    pub list_name: String,
    /// Finished well: the counts.
    pub summary: Option<Summary>,
    /// Failed: why.
    pub failure: Option<String>,
    /// Running, but without progress for a while: the instance running it stopped.
    pub stalled: bool,
    /// The first bad rows.
    pub errors: Vec<(i64, String)>,
}

/// A running import is taken as stopped after this long without progress.
const STALLED_AFTER_SECS: i64 = 120;

/// An import and its first `errors` bad rows.
pub async fn import_job(
    state: &AppContext,
    id: i64,
    errors: i64,
) -> Result<Option<JobView>, UseCaseError> {
    db::run(&state.pool, move |conn| {
        let Some(job) = import_jobs::get(conn, id)? else {
            return Ok(None);
        };
        let list = lists::by_ids(conn, &[job.list_id])?.pop();
        let (summary, failure) = match job.status.as_str() {
            "done" => (serde_json::from_str(&job.summary).ok(), None),
            "failed" => (None, Some(job.summary.clone())),
            _ => (None, None),
        };
        let stalled = job.status == "running"
            && (Utc::now().naive_utc() - job.updated_at).num_seconds() > STALLED_AFTER_SECS;
        Ok(Some(JobView {
            errors: import_jobs::errors(conn, id, errors)?,
            list_slug: list.as_ref().map(|l| l.slug.clone()).unwrap_or_default(),
            list_name: list.map(|l| l.name).unwrap_or_default(),
            job,
            summary,
            failure,
            stalled,
        }))
    })
    .await
}

/// Every kept bad row of an import, in order, for the report to download.
pub async fn import_errors(
    state: &AppContext,
    id: i64,
) -> Result<Vec<(i64, String)>, UseCaseError> {
    db::run(&state.pool, move |conn| {
        Ok(import_jobs::errors(conn, id, import_jobs::MAX_ERRORS)?)
    })
    .await
}
