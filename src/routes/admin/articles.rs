//! Articles: the list (search by title, filter by list and source), add (with the title,
//! summary and image read from the article's page when asked), edit, delete.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, Utc};
use serde::Deserialize;

use super::access::{Posted, Staff};
use super::fields::{FieldErrors, Fields};
use super::page::{render, render_status, see_other};
use super::params::id;
use super::AdminError;
use crate::db::articles::{Article, ArticleFilter, Source};
use crate::digests::{self, Added};
use crate::domain::{ArticleDraft, ArticleFields, AuditAction, Lang, ListSlug};
use crate::routes::AppState;
use crate::staff::{self, Actor, Session};
use crate::{feeds, subscriptions};

const PAGE: i64 = 50;

#[derive(Deserialize, serde::Serialize, Default)]
pub struct ArticleQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    list: String,
    /// "manual", "feeds" or a feed's id.
    #[serde(default)]
    source: String,
    #[serde(default)]
    offset: i64,
    done: Option<String>,
}

/// `GET /admin/articles`.
pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    q: web::Query<ArticleQuery>,
) -> Result<HttpResponse, AdminError> {
    let lists = subscriptions::all_lists(&state).await?;
    let feeds = feeds::overview(&state.pool).await?;
    let list_id = match q.list.as_str() {
        "" => None,
        slug => Some(
            lists
                .iter()
                .find(|l| l.slug == slug)
                .ok_or(AdminError::NotFound)?
                .id,
        ),
    };
    let source = match q.source.as_str() {
        "" => None,
        "manual" => Some(Source::Manual),
        "feeds" => Some(Source::Feeds),
        id => Some(Source::Feed(id.parse().map_err(|_| AdminError::NotFound)?)),
    };
    let filter = ArticleFilter {
        title: Some(q.q.chars().take(200).collect::<String>()).filter(|t| !t.trim().is_empty()),
        list_id,
        source,
    };
    let offset = q.offset.clamp(0, 1_000_000);
    let (articles, more) = digests::articles_page(&state.pool, filter, offset, PAGE).await?;
    let page_link = |offset: i64| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("q", &q.q)
            .append_pair("list", &q.list)
            .append_pair("source", &q.source)
            .append_pair("offset", &offset.to_string());
        format!("/admin/articles?{}", query.finish())
    };
    let next = more.then(|| page_link(offset + PAGE));
    let previous = (offset > 0).then(|| page_link((offset - PAGE).max(0)));
    render(
        &req,
        &session,
        "articles",
        minijinja::context! { articles, lists, feeds, query => &*q, next, previous },
    )
}

/// The form's values for an article.
fn values_of(a: &Article, list_slug: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "title": a.title,
        "url": a.url,
        "author": a.author,
        "summary": a.summary,
        "language": a.language,
        "image_url": a.image_url,
        "image_alt": a.image_alt,
        "published": a.published_at.format("%Y-%m-%dT%H:%M").to_string(),
        "list": list_slug,
    })
}

#[allow(clippy::too_many_arguments)]
async fn form(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    status: StatusCode,
    article: Option<&Article>,
    values: serde_json::Value,
    errors: &FieldErrors,
    note: Option<Note>,
) -> Result<HttpResponse, AdminError> {
    // Open lists, and the article's own even when archived (else the form would move it to
    // every list on the next save).
    let list_options: Vec<(String, String)> = subscriptions::all_lists(state)
        .await?
        .into_iter()
        .filter(|l| !l.archived || article.is_some_and(|a| a.list_id == Some(l.id)))
        .map(|l| (l.slug, l.name))
        .collect();
    let ctx = minijinja::context! {
        article,
        form => values,
        errors,
        note,
        list_options,
        languages => Lang::ALL.iter().map(|l| (l.code(), l.name())).collect::<Vec<_>>(),
    };
    render_status(req, session, status, "article", ctx)
}

/// `GET /admin/articles/new`.
pub async fn new_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
) -> Result<HttpResponse, AdminError> {
    let values = serde_json::json!({ "language": "it" });
    let errors = FieldErrors::default();
    form(
        &req,
        &state,
        &session,
        StatusCode::OK,
        None,
        values,
        &errors,
        None,
    )
    .await
}

/// What the article form says, checked.
fn parse(f: &Fields, errors: &mut FieldErrors) -> Option<(ArticleDraft, Option<ListSlug>)> {
    let published = match f.optional("published") {
        None => Some(Utc::now().naive_utc()),
        Some(p) => errors.check(
            "published",
            NaiveDateTime::parse_from_str(p, "%Y-%m-%dT%H:%M")
                .or_else(|_| NaiveDateTime::parse_from_str(p, "%Y-%m-%dT%H:%M:%S"))
                .map_err(|_| "admin_error_published"),
        ),
    };
    let list = match f.optional("list") {
        None => Some(None),
        Some(slug) => errors.check("list", ListSlug::parse(slug).map(Some)),
    };
    let fields = ArticleFields {
        guid: None,
        title: f.text("title"),
        url: f.text("url"),
        author: f.optional("author"),
        summary: f.optional("summary"),
        language: f.optional("language"),
        image_url: f.optional("image_url"),
        image_alt: f.optional("image_alt"),
    };
    // Checked even when the time is wrong, so every field's error shows at once.
    let at = published.unwrap_or_else(|| Utc::now().naive_utc());
    let draft = match ArticleDraft::parse(fields, at) {
        Ok(d) => Some(d),
        Err(e) => {
            let (field, key) = field_of(&e.to_string());
            errors.add(field, key);
            None
        }
    };
    match (draft, list, published) {
        (Some(d), Some(l), Some(_)) if errors.is_empty() => Some((d, l)),
        _ => None,
    }
}

/// Which field an article's validation error is about (its message names it), and what the
/// page says about it.
fn field_of(message: &str) -> (&'static str, &'static str) {
    [
        ("title", ("title", "admin_error_title")),
        ("link", ("url", "admin_error_link")),
        ("author", ("author", "admin_error_author")),
        ("summary", ("summary", "admin_error_summary")),
        (
            "image's description",
            ("image_alt", "admin_error_image_alt"),
        ),
        ("image", ("image_url", "admin_error_link")),
    ]
    .into_iter()
    .find(|(word, _)| message.contains(word))
    .map_or(("language", "admin_error_language"), |(_, found)| found)
}

/// A message above the form: a catalogue key and, for a page that could not be read, why.
#[derive(serde::Serialize)]
struct Note {
    key: &'static str,
    detail: Option<String>,
}

impl Note {
    fn of(key: &'static str) -> Self {
        Note { key, detail: None }
    }
}

/// Fills the blank fields from the article's page; says what happened.
async fn fill_from_page(state: &AppState, f: &Fields) -> (serde_json::Value, Note) {
    let mut values = serde_json::to_value(f.typed()).unwrap_or_default();
    let Ok(url) = url::Url::parse(f.text("url").trim()) else {
        return (values, Note::of("admin_page_bad_url"));
    };
    match feeds::describe_page(state, &url).await {
        Ok(meta) => {
            let mut fill = |field: &str, value: Option<String>| {
                if f.optional(field).is_none() {
                    if let Some(v) = value {
                        values[field] = v.into();
                    }
                }
            };
            fill("title", meta.title);
            fill("summary", meta.description);
            fill("author", meta.author);
            fill("image_url", meta.image_url);
            fill("image_alt", meta.image_alt);
            (values, Note::of("admin_page_read"))
        }
        Err(e) => {
            tracing::info!(error = %e, "an article's page could not be read");
            let detail = Some(e.to_string());
            (
                values,
                Note {
                    key: "admin_page_unreadable",
                    detail,
                },
            )
        }
    }
}

/// `POST /admin/articles/new`: saves, or (button `fill`) reads the page and shows the form
/// again with what it found.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    if f.checked("fill") {
        let (values, note) = fill_from_page(&state, &f).await;
        let errors = FieldErrors::default();
        return form(
            &req,
            &state,
            &session,
            StatusCode::OK,
            None,
            values,
            &errors,
            Some(note),
        )
        .await;
    }
    let mut errors = FieldErrors::default();
    let Some((draft, list)) = parse(&f, &mut errors) else {
        let values = serde_json::to_value(f.typed()).unwrap_or_default();
        let status = StatusCode::BAD_REQUEST;
        return form(&req, &state, &session, status, None, values, &errors, None).await;
    };
    let title = draft.title().to_owned();
    let done = match digests::add_article(&state.pool, draft, list).await? {
        Added::New => "added",
        Added::AlreadyThere => "already",
    };
    if done == "added" {
        let actor = Actor::from(&session.member);
        staff::record(&state, &actor, AuditAction::ArticleAdded, "", &title).await?;
    }
    Ok(see_other(&format!("/admin/articles?done={done}")))
}

/// `GET /admin/articles/{id}`.
pub async fn edit_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let article = digests::article(&state.pool, id(&path)?).await?;
    let lists = subscriptions::all_lists(&state).await?;
    let slug = article
        .list_id
        .and_then(|id| lists.iter().find(|l| l.id == id))
        .map(|l| l.slug.as_str());
    let values = values_of(&article, slug);
    let note = req
        .query_string()
        .contains("saved")
        .then(|| Note::of("admin_saved"));
    let errors = FieldErrors::default();
    form(
        &req,
        &state,
        &session,
        StatusCode::OK,
        Some(&article),
        values,
        &errors,
        note,
    )
    .await
}

/// `POST /admin/articles/{id}`.
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let article = digests::article(&state.pool, id(&path)?).await?;
    let mut errors = FieldErrors::default();
    let Some((draft, list)) = parse(&f, &mut errors) else {
        let values = serde_json::to_value(f.typed()).unwrap_or_default();
        let status = StatusCode::BAD_REQUEST;
        let a = Some(&article);
        return form(&req, &state, &session, status, a, values, &errors, None).await;
    };
    let title = draft.title().to_owned();
    digests::update_article(&state.pool, article.id, draft, list).await?;
    let actor = Actor::from(&session.member);
    let target = article.id.to_string();
    staff::record(&state, &actor, AuditAction::ArticleUpdated, &target, &title).await?;
    Ok(see_other(&format!("/admin/articles/{}?saved", article.id)))
}

/// `POST /admin/articles/{id}/delete`.
pub async fn delete(
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    posted.check(&session)?;
    let article = digests::article(&state.pool, id(&path)?).await?;
    digests::delete_article(&state.pool, article.id).await?;
    let actor = Actor::from(&session.member);
    let target = article.id.to_string();
    staff::record(
        &state,
        &actor,
        AuditAction::ArticleDeleted,
        &target,
        &article.title,
    )
    .await?;
    Ok(see_other("/admin/articles?done=deleted"))
}
