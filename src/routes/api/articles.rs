//! `POST /api/articles`: add an article for the digests.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;

use super::{authorize, read_body, require_json, ApiError};
use crate::digests::{self, Added};
use crate::domain::{ArticleDraft, ArticleFields, ListSlug};
use crate::routes::AppState;

/// The JSON body. Unknown fields are refused so a typo ("sumary") is not silently dropped.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticleBody {
    title: String,
    url: String,
    author: Option<String>,
    /// RFC 3339; default now.
    published_at: Option<String>,
    summary: Option<String>,
    /// it or en; default it.
    language: Option<String>,
    image_url: Option<String>,
    image_alt: Option<String>,
    /// Only for this list's digests; default every list's.
    list: Option<String>,
    /// A stable identifier; default the URL.
    guid: Option<String>,
}

/// 201 with `{"status": "added"}` for a new article, 200 with `{"status": "exists"}` for one
/// already there (same GUID or URL): a CMS can resend safely.
pub async fn add_article(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state)?;
    require_json(&req)?;
    let body = read_body(payload).await?;
    let a: ArticleBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON: {e}")))?;
    let published = match a.published_at.as_deref() {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|_| {
                ApiError::Invalid(
                    "published_at must be an RFC 3339 time, e.g. 2026-11-28T08:00:00+01:00".into(),
                )
            })?
            .naive_utc(),
        None => Utc::now().naive_utc(),
    };
    let draft = ArticleDraft::parse(
        ArticleFields {
            guid: a.guid.as_deref(),
            title: &a.title,
            url: &a.url,
            author: a.author.as_deref(),
            summary: a.summary.as_deref(),
            language: a.language.as_deref(),
            image_url: a.image_url.as_deref(),
            image_alt: a.image_alt.as_deref(),
        },
        published,
    )
    .map_err(|e| ApiError::Invalid(e.to_string()))?;
    let list = a
        .list
        .as_deref()
        .map(ListSlug::parse)
        .transpose()
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
    Ok(
        match digests::add_article(&state.pool, draft, list).await? {
            Added::New => HttpResponse::Created().json(serde_json::json!({ "status": "added" })),
            Added::AlreadyThere => {
                HttpResponse::Ok().json(serde_json::json!({ "status": "exists" }))
            }
        },
    )
}
