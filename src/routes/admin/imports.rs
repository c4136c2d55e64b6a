//! CSV imports from the browser, with the same engine as `iscriviti import`: the upload is
//! streamed to a file (never whole in memory, up to `staff.max_upload_bytes`), its first rows
//! are shown as the import would read them with a choice of columns, and the import then runs
//! in the background (its pages are in import_jobs.rs).

use std::path::PathBuf;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::access::{Admin, Posted};
use super::fields::FieldErrors;
use super::page::{render_status, see_other};
use super::AdminError;
use crate::domain::{AuditAction, ListSlug, SubscriptionStatus};
use crate::routes::AppState;
use crate::staff::{self, Actor, Session};
use crate::subscriptions::{self, ColumnMap, ImportRequest, DEFAULT_CHUNK_ROWS};

/// Rows the preview shows.
const PREVIEW_ROWS: usize = 20;
/// Uploads not imported within this long are removed.
const UPLOAD_TTL_HOURS: u64 = 24;

/// What is known of an upload until it is imported, kept next to its file.
#[derive(Debug, Serialize, Deserialize)]
struct Upload {
    user_id: i64,
    file_name: String,
    list: String,
    status: String,
    source: String,
}

fn upload_paths(state: &AppState, id: &str) -> Result<(PathBuf, PathBuf), AdminError> {
    // Ids are ours: 32 hex digits, never a path.
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AdminError::NotFound);
    }
    let dir = &state.settings.staff.upload_dir;
    Ok((
        dir.join(format!("{id}.csv")),
        dir.join(format!("{id}.json")),
    ))
}

/// `GET /admin/import`: the upload form.
pub async fn upload_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
) -> Result<HttpResponse, AdminError> {
    let values = serde_json::json!({ "status": "confirmed" });
    upload_form(
        &req,
        &state,
        &session,
        StatusCode::OK,
        values,
        &FieldErrors::default(),
    )
    .await
}

async fn upload_form(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    status: StatusCode,
    values: serde_json::Value,
    errors: &FieldErrors,
) -> Result<HttpResponse, AdminError> {
    let lists = subscriptions::open_lists(state).await?;
    let ctx = minijinja::context! {
        lists,
        form => values,
        errors,
        max_mib => state.settings.staff.max_upload_bytes.get().div_ceil(1024 * 1024),
    };
    render_status(req, session, status, "import", ctx)
}

/// `POST /admin/import` (multipart): the form's fields, then the file, streamed to disk. The
/// CSRF field must come before the file (the form puts it first), so nothing is written for a
/// forged form.
pub async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    mut form: Multipart,
) -> Result<HttpResponse, AdminError> {
    let max = state.settings.staff.max_upload_bytes.get();
    let mut text = std::collections::BTreeMap::<String, String>::new();
    let mut csrf_ok = false;
    let mut stored: Option<(String, PathBuf, String)> = None;
    let mut too_large = false;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(bad_upload)?;
        let name = field.name().unwrap_or_default().to_owned();
        if name != "file" {
            let value = field
                .bytes(4096)
                .await
                .map_err(|_| bad_upload("a field is too long"))?;
            let value = String::from_utf8(value.map_err(bad_upload)?.to_vec())
                .map_err(|_| bad_upload("a field is not UTF-8"))?;
            if name == "csrf" {
                let fields = super::fields::Fields::from_pairs(vec![("csrf".into(), value)]);
                csrf_ok = super::access::csrf_matches(&fields, &session);
            } else {
                text.insert(name, value);
            }
            continue;
        }
        if !csrf_ok {
            return Err(AdminError::Csrf);
        }
        let file_name: String = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .unwrap_or("upload.csv")
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        let id = hex::encode(rand::random::<[u8; 16]>());
        let (path, _) = upload_paths(&state, &id)?;
        tokio::fs::create_dir_all(&state.settings.staff.upload_dir)
            .await
            .map_err(|e| AdminError::Internal(e.into()))?;
        remove_stale_uploads(&state.settings.staff.upload_dir).await;
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| AdminError::Internal(e.into()))?;
        let mut written: u64 = 0;
        while let Some(chunk) = field.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = tokio::fs::remove_file(&path).await;
                    return Err(bad_upload(e));
                }
            };
            written += chunk.len() as u64;
            if written > max {
                too_large = true;
                break;
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| AdminError::Internal(e.into()))?;
        }
        file.flush()
            .await
            .map_err(|e| AdminError::Internal(e.into()))?;
        if too_large || written == 0 {
            let _ = tokio::fs::remove_file(&path).await;
        } else {
            stored = Some((id, path, file_name));
        }
        // Later fields are not read: the form ends with the file.
        break;
    }
    if !csrf_ok {
        return Err(AdminError::Csrf);
    }
    let mut errors = FieldErrors::default();
    let list = errors.check(
        "list",
        ListSlug::parse(text.get("list").map_or("", String::as_str)),
    );
    let status = text.get("status").map_or("confirmed", String::as_str);
    if !matches!(status, "confirmed" | "pending") {
        errors.add("status", "error_bad_request");
    }
    let source = text.get("source").map_or("", |s| s.trim()).to_owned();
    if source.is_empty() || source.chars().count() > 200 || source.chars().any(char::is_control) {
        errors.add("source", "admin_error_source");
    }
    match (&stored, too_large) {
        (_, true) => errors.add("file", "admin_error_file_too_large"),
        (None, false) => errors.add("file", "admin_error_file_missing"),
        _ => {}
    }
    let (Some(list), Some((id, _, file_name)), true) = (list, stored.clone(), errors.is_empty())
    else {
        if let Some((_, path, _)) = &stored {
            let _ = tokio::fs::remove_file(path).await;
        }
        let values = serde_json::to_value(&text).unwrap_or_default();
        let status = match too_large {
            true => StatusCode::PAYLOAD_TOO_LARGE,
            false => StatusCode::BAD_REQUEST,
        };
        return upload_form(&req, &state, &session, status, values, &errors).await;
    };
    let meta = Upload {
        user_id: session.member.id,
        file_name,
        list: list.as_str().to_owned(),
        status: status.to_owned(),
        source,
    };
    let (_, meta_path) = upload_paths(&state, &id)?;
    let json = serde_json::to_vec(&meta).map_err(|e| AdminError::Internal(e.into()))?;
    tokio::fs::write(&meta_path, json)
        .await
        .map_err(|e| AdminError::Internal(e.into()))?;
    Ok(see_other(&format!("/admin/import/{id}")))
}

fn bad_upload(e: impl std::fmt::Display) -> AdminError {
    AdminError::BadRequest("admin_error_upload", e.to_string())
}

/// Removes uploads left unimported for a day.
async fn remove_stale_uploads(dir: &std::path::Path) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    let ttl = std::time::Duration::from_secs(UPLOAD_TTL_HOURS * 3600);
    while let Ok(Some(entry)) = entries.next_entry().await {
        let old = entry
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > ttl);
        if old {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}

async fn load_upload(
    state: &AppState,
    session: &Session,
    id: &str,
) -> Result<(PathBuf, Upload), AdminError> {
    let (path, meta_path) = upload_paths(state, id)?;
    let meta: Upload = tokio::fs::read(&meta_path)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(AdminError::NotFound)?;
    // An upload is its uploader's.
    if meta.user_id != session.member.id {
        return Err(AdminError::NotFound);
    }
    Ok((path, meta))
}

#[derive(Deserialize, Default)]
pub struct Mapping {
    email: Option<String>,
    name: Option<String>,
    status: Option<String>,
}

impl Mapping {
    /// The columns chosen, or `None` for the default names.
    fn columns(&self) -> Option<ColumnMap> {
        let email = self.email.as_deref().filter(|e| !e.is_empty())?;
        let pick = |c: &Option<String>| c.clone().filter(|c| !c.is_empty());
        Some(ColumnMap {
            email: email.to_owned(),
            name: pick(&self.name),
            status: pick(&self.status),
        })
    }
}

async fn read_preview(
    path: PathBuf,
    columns: Option<ColumnMap>,
) -> Result<subscriptions::Preview, AdminError> {
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path).map_err(|_| AdminError::NotFound)?;
        subscriptions::preview(file, columns.as_ref(), PREVIEW_ROWS).map_err(AdminError::from)
    })
    .await
    .map_err(|e| AdminError::Internal(e.into()))?
}

/// `GET /admin/import/{upload}`: the first rows as the import will read them, and the choice
/// of columns (`?email=...&name=...&status=...` to look again with others).
pub async fn preview(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    id: web::Path<String>,
    q: web::Query<Mapping>,
) -> Result<HttpResponse, AdminError> {
    let (path, meta) = load_upload(&state, &session, &id).await?;
    let preview = read_preview(path, q.columns()).await?;
    show_preview(&req, &session, StatusCode::OK, &id, &meta, &preview)
}

fn show_preview(
    req: &HttpRequest,
    session: &Session,
    status: StatusCode,
    id: &str,
    meta: &Upload,
    preview: &subscriptions::Preview,
) -> Result<HttpResponse, AdminError> {
    let bad = preview.rows.iter().filter(|r| r.error.is_some()).count();
    // The choices of each column select: (value, label) pairs.
    let choices: Vec<[&str; 2]> = preview
        .headers
        .iter()
        .map(|h| [h.as_str(), h.as_str()])
        .collect();
    let ctx = minijinja::context! { id, upload => meta, preview, bad, choices };
    render_status(req, session, status, "import_preview", ctx)
}

/// `POST /admin/import/{upload}`: imports the file with the chosen columns.
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    id: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let (path, meta) = load_upload(&state, &session, &id).await?;
    let mapping = Mapping {
        email: f.optional("email").map(str::to_owned),
        name: f.optional("name").map(str::to_owned),
        status: f.optional("status").map(str::to_owned),
    };
    let columns = mapping.columns();
    let checked = read_preview(path.clone(), columns.clone()).await?;
    if checked.problem.is_some() {
        return show_preview(
            &req,
            &session,
            StatusCode::BAD_REQUEST,
            &id,
            &meta,
            &checked,
        );
    }
    let list = ListSlug::parse(&meta.list).map_err(|_| AdminError::NotFound)?;
    let request = ImportRequest {
        list: list.clone(),
        status: SubscriptionStatus::parse(&meta.status).unwrap_or(SubscriptionStatus::Confirmed),
        source: format!("import:{}: {}", meta.file_name, meta.source),
        chunk_rows: DEFAULT_CHUNK_ROWS,
        columns: checked.columns.clone(),
    };
    let job = subscriptions::start_import_job(
        &state,
        path,
        meta.file_name.clone(),
        request,
        session.member.id,
    )
    .await?;
    let (_, meta_path) = upload_paths(&state, &id)?;
    let _ = tokio::fs::remove_file(meta_path).await;
    let actor = Actor::from(&session.member);
    let detail = format!("{} ({}), import #{job}", meta.file_name, meta.status);
    staff::record(&state, &actor, AuditAction::Import, list.as_str(), detail).await?;
    Ok(see_other(&format!("/admin/imports/{job}")))
}
