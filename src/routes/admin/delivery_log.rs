//! A digest's delivery log: each reader's outcome with the relay's reply for failures, searched
//! by the start of the address, filtered by outcome, and downloaded as CSV.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::access::Staff;
use super::export::ChunkWriter;
use super::page::render;
use super::params::id;
use super::AdminError;
use crate::db::delivery_log::LogFilter;
use crate::digests;
use crate::domain::{AuditAction, DeliveryStatus};
use crate::routes::AppState;
use crate::staff::{self, Actor};

const PAGE: i64 = 100;
/// Rows read per query while a CSV is written.
const CSV_PAGE: i64 = 5_000;

#[derive(Deserialize, serde::Serialize, Default)]
pub struct LogQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    after: i64,
}

fn filter(q: &LogQuery) -> Result<LogFilter, AdminError> {
    let outcome = match q.outcome.as_str() {
        "" => None,
        o => Some(DeliveryStatus::parse(o).map_err(|_| {
            AdminError::BadRequest("error_bad_request", format!("unknown outcome {o:?}"))
        })?),
    };
    let address = q.q.trim().to_lowercase();
    Ok(LogFilter {
        address: Some(address.chars().take(254).collect()).filter(|a: &String| !a.is_empty()),
        outcome,
    })
}

/// `GET /admin/digests/{id}/deliveries`.
pub async fn log(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
    q: web::Query<LogQuery>,
) -> Result<HttpResponse, AdminError> {
    let id = id(&path)?;
    let (digest, _) = digests::status(&state.pool, id).await?;
    let (rows, more) = digests::delivery_log(&state.pool, id, filter(&q)?, q.after, PAGE).await?;
    let next = more.then(|| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("q", &q.q)
            .append_pair("outcome", &q.outcome)
            .append_pair(
                "after",
                &rows.last().map_or(0, |r| r.subscriber_id).to_string(),
            );
        format!("/admin/digests/{id}/deliveries?{}", query.finish())
    });
    let outcomes = DeliveryStatus::ALL;
    render(
        &req,
        &session,
        "deliveries",
        minijinja::context! { digest, rows, next, query => &*q, outcomes },
    )
}

/// `GET /admin/digests/{id}/deliveries.csv`: the whole log (with the page's filters), streamed.
pub async fn csv(
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
    q: web::Query<LogQuery>,
) -> Result<HttpResponse, AdminError> {
    let id = id(&path)?;
    let filter = filter(&q)?;
    digests::status(&state.pool, id).await?;
    let actor = Actor::from(&session.member);
    staff::record(
        &state,
        &actor,
        AuditAction::DeliveryLogExported,
        &id.to_string(),
        "",
    )
    .await?;
    // The list of addresses is the admins' (as the list export is): an editor's file shows
    // each address masked.
    let masked = !session.member.is_admin();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let pool = state.pool.clone();
    tokio::spawn(async move {
        if let Err(e) = write_csv(pool, id, filter, masked, tx.clone()).await {
            tracing::warn!(error = %e, "a delivery log download stopped");
            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"digest-{id}-deliveries.csv\""),
        ))
        .streaming(stream))
}

/// Writes the log page by page. The writer sends on a bounded channel, blocking while the
/// browser is slower: it is only ever used, flushed and dropped on the blocking pool.
async fn write_csv(
    pool: crate::db::Pool,
    id: i64,
    filter: LogFilter,
    masked: bool,
    tx: tokio::sync::mpsc::Sender<super::export::Chunk>,
) -> anyhow::Result<()> {
    let mut after = 0;
    let mut out = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut out = csv::Writer::from_writer(ChunkWriter::new(tx));
        out.write_record(["email", "outcome", "attempts", "sent_at", "reply"])?;
        Ok(out)
    })
    .await??;
    loop {
        let page = digests::delivery_log(&pool, id, filter.clone(), after, CSV_PAGE).await;
        let (rows, more) = match page {
            Ok(page) => page,
            Err(e) => {
                tokio::task::spawn_blocking(move || drop(out)).await?;
                return Err(e.into());
            }
        };
        after = rows.last().map_or(after, |r| r.subscriber_id);
        out = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            for r in &rows {
                let email = match masked {
                    true => mask(&r.email),
                    false => r.email.clone(),
                };
                let sent_at = r.sent_at.map(|t| t.to_string()).unwrap_or_default();
                let reply = cell(r.last_error.as_deref().unwrap_or_default());
                let attempts = r.attempts.to_string();
                let status = r.status.as_str();
                out.write_record([&cell(&email), status, &attempts, &sent_at, &reply])?;
            }
            Ok(out)
        })
        .await??;
        if !more {
            break;
        }
    }
    tokio::task::spawn_blocking(move || out.flush()).await??;
    Ok(())
}

/// `anna.bianchi@example.org` → `a***@example.org`.
fn mask(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// A cell a spreadsheet will not run as a formula (a relay's reply is someone else's text).
fn cell(value: &str) -> String {
    match value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        true => format!("'{value}"),
        false => value.to_owned(),
    }
}
