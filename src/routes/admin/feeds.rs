//! Feeds: each with its last fetch, last error, next fetch and the articles it brought; add,
//! edit, pause and resume, delete, and fetch now.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::access::{Posted, Staff};
use super::fields::{FieldErrors, Fields};
use super::page::{render_status, see_other};
use super::params::id;
use super::AdminError;
use crate::domain::{AuditAction, FeedInterval, FeedUrl, ListSlug};
use crate::feeds::{self, FeedView};
use crate::routes::AppState;
use crate::staff::{self, Actor, Session};
use crate::subscriptions;

async fn page(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    status: StatusCode,
    values: serde_json::Value,
    errors: &FieldErrors,
) -> Result<HttpResponse, AdminError> {
    let feeds = feeds::overview(&state.pool).await?;
    let lists = subscriptions::open_lists(state).await?;
    let query: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect();
    let ctx =
        minijinja::context! { feeds, lists, form => values, errors, done => query.get("done") };
    render_status(req, session, status, "feeds", ctx)
}

/// `GET /admin/feeds`.
pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
) -> Result<HttpResponse, AdminError> {
    let values = serde_json::json!({ "interval": 30 });
    let errors = FieldErrors::default();
    page(&req, &state, &session, StatusCode::OK, values, &errors).await
}

/// The address and the interval (in minutes) of the feed form.
fn parse(f: &Fields, errors: &mut FieldErrors) -> Option<(FeedUrl, FeedInterval)> {
    let url = errors.check(
        "url",
        FeedUrl::parse(f.text("url")).map_err(|_| "admin_error_feed_url"),
    );
    let interval = errors.check(
        "interval",
        FeedInterval::parse(&format!("{}m", f.text("interval").trim()))
            .map_err(|_| "admin_error_interval"),
    );
    url.zip(interval)
}

/// `POST /admin/feeds`: adds a feed to a list.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let mut errors = FieldErrors::default();
    let list = ListSlug::parse(f.text("list")).map_err(|_| "error_unknown_list");
    let list = errors.check("list", list);
    let parsed = parse(&f, &mut errors);
    if let (Some(list), Some((url, interval))) = (list, parsed) {
        let refused = match feeds::add(&state.pool, url, list, interval).await {
            Ok(feed) => {
                let actor = Actor::from(&session.member);
                let target = feed.id.to_string();
                staff::record(&state, &actor, AuditAction::FeedAdded, &target, &feed.url).await?;
                return Ok(see_other("/admin/feeds?done=added"));
            }
            Err(crate::app::UseCaseError::Conflict(_)) => ("url", "admin_error_feed_taken"),
            Err(crate::app::UseCaseError::UnknownList) => ("list", "error_unknown_list"),
            Err(e) => return Err(e.into()),
        };
        errors.add(refused.0, refused.1);
    }
    let values = serde_json::to_value(f.typed()).unwrap_or_default();
    page(
        &req,
        &state,
        &session,
        StatusCode::BAD_REQUEST,
        values,
        &errors,
    )
    .await
}

async fn one(state: &AppState, id: i64) -> Result<FeedView, AdminError> {
    feeds::overview(&state.pool)
        .await?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or(AdminError::NotFound)
}

/// `GET /admin/feeds/{id}`: the edit form.
pub async fn edit_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let feed = one(&state, id(&path)?).await?;
    let values = serde_json::json!({ "url": feed.url, "interval": feed.interval_mins });
    let ctx = minijinja::context! { feed, form => values, errors => FieldErrors::default() };
    render_status(&req, &session, StatusCode::OK, "feed", ctx)
}

/// `POST /admin/feeds/{id}`: a new address or interval.
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let feed = one(&state, id(&path)?).await?;
    let mut errors = FieldErrors::default();
    let outcome = match parse(&f, &mut errors) {
        Some((url, interval)) => match feeds::update(&state.pool, feed.id, url, interval).await {
            Ok(()) => None,
            Err(crate::app::UseCaseError::Conflict(_)) => Some("admin_error_feed_taken"),
            Err(e) => return Err(e.into()),
        },
        None => Some(""),
    };
    if let Some(key) = outcome {
        if !key.is_empty() {
            errors.add("url", key);
        }
        let values = serde_json::to_value(f.typed()).unwrap_or_default();
        let ctx = minijinja::context! { feed, form => values, errors };
        return render_status(&req, &session, StatusCode::BAD_REQUEST, "feed", ctx);
    }
    let actor = Actor::from(&session.member);
    let target = feed.id.to_string();
    staff::record(
        &state,
        &actor,
        AuditAction::FeedUpdated,
        &target,
        f.text("url"),
    )
    .await?;
    Ok(see_other("/admin/feeds?done=saved"))
}

/// `POST /admin/feeds/{id}/pause`: `paused=1` pauses, `paused=0` resumes.
pub async fn pause(
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let id = id(&path)?;
    let paused = f.text("paused") == "1";
    feeds::set_paused(&state.pool, id, paused).await?;
    let action = match paused {
        true => AuditAction::FeedPaused,
        false => AuditAction::FeedResumed,
    };
    let actor = Actor::from(&session.member);
    staff::record(&state, &actor, action, &id.to_string(), "").await?;
    Ok(see_other("/admin/feeds?done=saved"))
}

/// `POST /admin/feeds/{id}/delete`: the feed goes; its articles stay.
pub async fn delete(
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    posted.check(&session)?;
    let feed = one(&state, id(&path)?).await?;
    feeds::remove(&state.pool, feed.id).await?;
    let actor = Actor::from(&session.member);
    let target = feed.id.to_string();
    staff::record(&state, &actor, AuditAction::FeedDeleted, &target, &feed.url).await?;
    Ok(see_other("/admin/feeds?done=deleted"))
}

/// `POST /admin/feeds/{id}/fetch`: polls the feed now and says how it went.
pub async fn fetch(
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    posted.check(&session)?;
    let id = id(&path)?;
    let polled = feeds::fetch_now(&state, id).await?;
    let detail = match &polled.outcome {
        Ok(ok) => format!("{} new", ok.new_articles),
        Err(e) => e.clone(),
    };
    let actor = Actor::from(&session.member);
    staff::record(
        &state,
        &actor,
        AuditAction::FeedFetched,
        &id.to_string(),
        &detail,
    )
    .await?;
    let done = match polled.outcome {
        Ok(ok) => format!("fetched&new={}", ok.new_articles),
        Err(_) => "failed".to_owned(),
    };
    Ok(see_other(&format!("/admin/feeds?done={done}")))
}
