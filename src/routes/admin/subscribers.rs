//! Subscribers: search and filter, add, edit, and one subscriber's history (blocking and
//! erasing are in subscriber_actions.rs).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::access::{Admin, Posted};
use super::fields::{FieldErrors, Fields};
use super::page::{render_status, see_other};
use super::params::id;
use super::AdminError;
use crate::db::lists::List;
use crate::domain::{
    AuditAction, DomainError, Lang, ListSlug, SubscriberEmail, SubscriberName, SubscriptionStatus,
};
use crate::routes::AppState;
use crate::staff::{self, Actor, Session};
use crate::subscriptions::{self, Added, NewSubscriber, Search, SignupOutcome};

#[derive(Deserialize, serde::Serialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    list: String,
    #[serde(default)]
    status: String,
    before: Option<i64>,
    /// What was just done (after an erasure).
    done: Option<String>,
}

/// `GET /admin/subscribers`: a page of the search.
pub async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    q: web::Query<SearchQuery>,
) -> Result<HttpResponse, AdminError> {
    let lists = subscriptions::all_lists(&state).await?;
    let mut errors = FieldErrors::default();
    let list = match q.list.trim() {
        "" => Some(None),
        slug => errors.check("list", ListSlug::parse(slug).map(Some)),
    };
    let status = match q.status.trim() {
        "" => Some(None),
        s => errors.check("status", SubscriptionStatus::parse(s).map(Some)),
    };
    let (Some(list), Some(status)) = (list, status) else {
        return results(&req, &session, &q, lists, None, &errors);
    };
    let s = Search {
        text: q.q.chars().take(200).collect(),
        list,
        status,
        before: q.before,
    };
    match subscriptions::search(&state, s).await {
        Ok(page) => results(&req, &session, &q, lists, Some(page), &errors),
        Err(crate::app::UseCaseError::UnknownList) => {
            errors.add("list", "error_unknown_list");
            results(&req, &session, &q, lists, None, &errors)
        }
        Err(e) => Err(e.into()),
    }
}

fn results(
    req: &HttpRequest,
    session: &Session,
    q: &SearchQuery,
    lists: Vec<List>,
    page: Option<subscriptions::Page>,
    errors: &FieldErrors,
) -> Result<HttpResponse, AdminError> {
    let next = page.as_ref().and_then(|p| p.next).map(|before| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("q", &q.q)
            .append_pair("list", &q.list)
            .append_pair("status", &q.status)
            .append_pair("before", &before.to_string());
        format!("/admin/subscribers?{}", query.finish())
    });
    let status = match errors.is_empty() {
        true => StatusCode::OK,
        false => StatusCode::BAD_REQUEST,
    };
    let ctx = minijinja::context! {
        query => q,
        lists,
        statuses => SubscriptionStatus::ALL,
        entries => page.as_ref().map(|p| &p.entries),
        next,
        first_page => q.before.is_none(),
        errors,
    };
    render_status(req, session, status, "subscribers", ctx)
}

/// `GET /admin/subscribers/new`.
pub async fn new_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
) -> Result<HttpResponse, AdminError> {
    let values = serde_json::json!({ "language": "it", "consent": "ask" });
    new_form(
        &req,
        &state,
        &session,
        StatusCode::OK,
        values,
        &FieldErrors::default(),
    )
    .await
}

async fn new_form(
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
        languages => Lang::ALL.iter().map(|l| (l.code(), l.name())).collect::<Vec<_>>(),
    };
    render_status(req, session, status, "subscriber_new", ctx)
}

fn typed(f: &Fields) -> serde_json::Value {
    let mut v = serde_json::to_value(f.typed()).unwrap_or_default();
    v["lists"] = f.all("lists").into();
    v
}

/// `POST /admin/subscribers/new`: with a confirmation mail, or as confirmed when the reader
/// gave their consent elsewhere (which the form records).
pub async fn add(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let mut errors = FieldErrors::default();
    let email = errors.check("email", SubscriberEmail::parse(f.text("email")));
    let name = errors.check("name", SubscriberName::parse_optional(Some(f.text("name"))));
    let language = errors.check("language", Lang::parse(f.text("language")));
    let lists = errors.check(
        "lists",
        f.all("lists")
            .into_iter()
            .map(ListSlug::parse)
            .collect::<Result<Vec<_>, DomainError>>(),
    );
    if lists.as_ref().is_some_and(Vec::is_empty) {
        errors.add("lists", "error_no_list");
    }
    let consent = match f.text("consent") {
        "given" => match f.optional("source") {
            Some(s) if s.chars().count() <= 200 && !s.chars().any(char::is_control) => {
                Some(Some(s.to_owned()))
            }
            _ => {
                errors.add("source", "admin_error_source");
                None
            }
        },
        _ => Some(None),
    };
    let (Some(email), Some(name), Some(language), Some(lists), Some(consent), true) =
        (email, name, language, lists, consent, errors.is_empty())
    else {
        return new_form(
            &req,
            &state,
            &session,
            StatusCode::BAD_REQUEST,
            typed(&f),
            &errors,
        )
        .await;
    };
    let confirmed = consent.is_some();
    let new = NewSubscriber {
        email: email.clone(),
        name,
        language,
        lists: lists.clone(),
        consent,
    };
    let added = match subscriptions::add_subscriber(&state, new).await {
        Ok(added) => added,
        Err(crate::app::UseCaseError::UnknownList) => {
            errors.add("lists", "error_unknown_list");
            return new_form(
                &req,
                &state,
                &session,
                StatusCode::BAD_REQUEST,
                typed(&f),
                &errors,
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    let done = match &added {
        Added::Signup(SignupOutcome::ConfirmationQueued) => "asked",
        Added::Signup(SignupOutcome::NothingToConfirm) => "subscribed",
        Added::Signup(SignupOutcome::RateLimited) => "limited",
        Added::Signup(SignupOutcome::Blocked) => "blocked",
        Added::Confirmed(reports) if reports.iter().any(|(_, r)| r.imported > 0) => "subscribed",
        Added::Confirmed(reports) if reports.iter().any(|(_, r)| r.suppressed > 0) => "suppressed",
        Added::Confirmed(reports) if reports.iter().any(|(_, r)| r.unsubscribed > 0) => "left",
        Added::Confirmed(reports) if reports.iter().any(|(_, r)| r.blocked > 0) => "blocked",
        Added::Confirmed(_) => "already",
    };
    let Some(id) = subscriptions::id_of(&state, email).await? else {
        // Nothing was written (an erased address, a limit): the form says why.
        errors.add(
            "email",
            match done {
                "suppressed" => "admin_added_suppressed",
                "limited" => "admin_added_limited",
                _ => "admin_added_nothing",
            },
        );
        return new_form(
            &req,
            &state,
            &session,
            StatusCode::BAD_REQUEST,
            typed(&f),
            &errors,
        )
        .await;
    };
    let slugs: Vec<&str> = lists.iter().map(ListSlug::as_str).collect();
    let detail = format!(
        "{} ({})",
        slugs.join(", "),
        if confirmed {
            "consent given elsewhere"
        } else {
            "asked to confirm"
        }
    );
    let actor = Actor::from(&session.member);
    staff::record(
        &state,
        &actor,
        AuditAction::SubscriberAdded,
        format!("subscriber #{id}"),
        detail,
    )
    .await?;
    Ok(see_other(&format!("/admin/subscribers/{id}?done={done}")))
}

#[derive(Deserialize)]
pub struct DetailQuery {
    done: Option<String>,
}

/// `GET /admin/subscribers/{id}`: the subscriber, their lists and their history.
pub async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    path: web::Path<String>,
    q: web::Query<DetailQuery>,
) -> Result<HttpResponse, AdminError> {
    let found = subscriptions::detail(&state, id(&path)?)
        .await?
        .ok_or(AdminError::NotFound)?;
    show(
        &req,
        &session,
        StatusCode::OK,
        found,
        None,
        &FieldErrors::default(),
        q.done.as_deref(),
    )
}

pub(super) fn show(
    req: &HttpRequest,
    session: &Session,
    status: StatusCode,
    found: subscriptions::Detail,
    values: Option<serde_json::Value>,
    errors: &FieldErrors,
    done: Option<&str>,
) -> Result<HttpResponse, AdminError> {
    let values = values.unwrap_or_else(
        || serde_json::json!({ "name": found.entry.name, "language": found.entry.language }),
    );
    let done = done.filter(|d| {
        [
            "asked",
            "subscribed",
            "limited",
            "blocked",
            "suppressed",
            "left",
            "already",
            "saved",
        ]
        .contains(d)
    });
    let ctx = minijinja::context! {
        subscriber => &found.entry,
        history => &found.history,
        form => values,
        errors,
        done,
        languages => Lang::ALL.iter().map(|l| (l.code(), l.name())).collect::<Vec<_>>(),
    };
    render_status(req, session, status, "subscriber", ctx)
}

/// `POST /admin/subscribers/{id}`: name and language.
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let id = id(&path)?;
    let mut errors = FieldErrors::default();
    let name = errors.check("name", SubscriberName::parse_optional(Some(f.text("name"))));
    let language = errors.check("language", Lang::parse(f.text("language")));
    let (Some(name), Some(language)) = (name, language) else {
        let found = subscriptions::detail(&state, id)
            .await?
            .ok_or(AdminError::NotFound)?;
        let values = serde_json::to_value(f.typed()).ok();
        return show(
            &req,
            &session,
            StatusCode::BAD_REQUEST,
            found,
            values,
            &errors,
            None,
        );
    };
    if !subscriptions::update_subscriber(&state, id, name, language).await? {
        return Err(AdminError::NotFound);
    }
    let actor = Actor::from(&session.member);
    staff::record(
        &state,
        &actor,
        AuditAction::SubscriberUpdated,
        format!("subscriber #{id}"),
        "",
    )
    .await?;
    Ok(see_other(&format!("/admin/subscribers/{id}?done=saved")))
}
