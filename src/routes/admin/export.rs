//! A list's subscribers as CSV, streamed page by page from the database to the browser.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::access::Admin;
use super::params::slug;
use super::AdminError;
use crate::domain::{AuditAction, DomainError, SubscriptionStatus};
use crate::routes::AppState;
use crate::staff::{self, Actor};
use crate::subscriptions;

#[derive(Deserialize)]
pub struct ExportQuery {
    status: Option<String>,
}

/// `GET /admin/lists/{slug}/export`: the list's subscribers as CSV, streamed page by page
/// from the database to the browser; never whole in memory.
pub async fn export(
    state: web::Data<AppState>,
    Admin(session): Admin,
    path: web::Path<String>,
    q: web::Query<ExportQuery>,
) -> Result<HttpResponse, AdminError> {
    let list = subscriptions::list(&state, slug(&path)?).await?;
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            SubscriptionStatus::parse(s)
                .map_err(|e: DomainError| AdminError::BadRequest(e.key(), e.to_string()))?,
        ),
        None => None,
    };
    let actor = Actor::from(&session.member);
    let detail = status.map_or("all", SubscriptionStatus::as_str);
    staff::record(&state, &actor, AuditAction::Export, &list.slug, detail).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let (pool, slug) = (state.pool.clone(), slug(&list.slug)?);
    tokio::spawn(async move {
        let out = ChunkWriter::new(tx.clone());
        let page = subscriptions::DEFAULT_PAGE_ROWS;
        if let Err(e) = subscriptions::export(&pool, slug, status, out, page).await {
            tracing::warn!(error = %e, "an export from the admin pages stopped");
            // The browser sees the download fail rather than a file that ends early.
            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let file = format!("{}-{}.csv", list.slug, chrono::Utc::now().format("%Y%m%d"));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ))
        .streaming(stream))
}

pub(super) type Chunk = Result<web::Bytes, std::io::Error>;

/// Hands what an export writes to the response in chunks of 64 KiB, waiting while the browser
/// is slower than the database (a bounded channel), failing when the browser has gone.
pub(super) struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<Chunk>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    const CHUNK: usize = 64 * 1024;

    pub(super) fn new(tx: tokio::sync::mpsc::Sender<Chunk>) -> Self {
        Self {
            tx,
            buf: Vec::with_capacity(Self::CHUNK),
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = web::Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(Self::CHUNK),
        ));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the download was cancelled")
        })
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= Self::CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}
