//! An import running in the background: its progress page, then its counts and bad rows,
//! whose report can be downloaded.

use actix_web::{web, HttpRequest, HttpResponse};

use super::access::Admin;
use super::page::render;
use super::params;
use super::AdminError;
use crate::routes::AppState;
use crate::subscriptions;

/// Bad rows the progress page shows (the report has them all, up to its cap).
const SHOWN_ERRORS: i64 = 100;

/// `GET /admin/imports/{job}`: progress while it runs (the page reloads itself), then the
/// counts and the bad rows.
pub async fn progress(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let job = subscriptions::import_job(&state, params::id(&id)?, SHOWN_ERRORS)
        .await?
        .ok_or(AdminError::NotFound)?;
    let running = job.job.status == "running" && !job.stalled;
    render(
        &req,
        &session,
        "import_job",
        minijinja::context! { job, running },
    )
}

/// `GET /admin/imports/{job}/errors`: every kept bad row, as CSV (`line,reason`).
pub async fn error_report(
    state: web::Data<AppState>,
    Admin(_): Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = params::id(&id)?;
    subscriptions::import_job(&state, id, 0)
        .await?
        .ok_or(AdminError::NotFound)?;
    let rows = subscriptions::import_errors(&state, id).await?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut write = || -> Result<(), csv::Error> {
        csv.write_record(["line", "reason"])?;
        for (line, reason) in &rows {
            csv.write_record([line.to_string().as_str(), reason])?;
        }
        csv.flush()?;
        Ok(())
    };
    write().map_err(|e| AdminError::Internal(e.into()))?;
    let body = csv
        .into_inner()
        .map_err(|e| AdminError::Internal(anyhow::anyhow!("{e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"import-{id}-errors.csv\""),
        ))
        .body(body))
}
