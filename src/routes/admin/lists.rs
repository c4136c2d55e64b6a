//! Lists: create, edit (name, description, visibility, opt-in, senders, language, cadence),
//! archive (the export is in export.rs).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::access::{Admin, Posted};
use super::fields::{FieldErrors, Fields};
use super::page::{render, render_status, see_other};
use super::params::slug;
use super::AdminError;
use crate::db::lists::List;
use crate::digests;
use crate::domain::{
    parse_time_zone, AuditAction, Cadence, Lang, ListSlug, Sender, SubscriptionStatus,
};
use crate::routes::AppState;
use crate::staff::{self, Actor, Session};
use crate::subscriptions::{self, ListInput};

/// A list's cadence as its form shows it.
#[derive(Serialize, Default)]
struct CadenceView {
    cadence: String,
    time_zone: String,
    next_run_at: Option<chrono::NaiveDateTime>,
}

async fn cadences(state: &AppState) -> Result<Vec<(String, CadenceView)>, AdminError> {
    Ok(digests::schedules(&state.pool)
        .await?
        .into_iter()
        .map(|(slug, s)| {
            let view = CadenceView {
                cadence: s.cadence,
                time_zone: s.time_zone,
                next_run_at: Some(s.next_run_at),
            };
            (slug, view)
        })
        .collect())
}

/// `GET /admin/lists`.
pub async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
) -> Result<HttpResponse, AdminError> {
    let lists = subscriptions::all_lists(&state).await?;
    let cadences: std::collections::HashMap<String, CadenceView> =
        cadences(&state).await?.into_iter().collect();
    render(
        &req,
        &session,
        "lists",
        minijinja::context! { lists, cadences },
    )
}

/// The form's values: a list's, or what the person typed.
fn values_of(list: &List, cadence: &CadenceView) -> serde_json::Value {
    serde_json::json!({
        "slug": list.slug,
        "name": list.name,
        "description": list.description,
        "public": list.public,
        "double_opt_in": list.double_opt_in,
        "language": list.language,
        "from": Sender::from_parts(&list.from_name, &list.from_address)
            .map(|s| s.mailbox().to_string())
            .unwrap_or_default(),
        "reply_to": list.reply_to,
        "public_archive": list.public_archive,
        "cadence": cadence.cadence,
        "time_zone": if cadence.time_zone.is_empty() { "Europe/Rome" } else { &cadence.time_zone },
    })
}

fn typed_values(f: &Fields) -> serde_json::Value {
    let mut v = serde_json::to_value(f.typed()).unwrap_or_default();
    v["public"] = f.checked("public").into();
    v["double_opt_in"] = f.checked("double_opt_in").into();
    v["public_archive"] = f.checked("public_archive").into();
    v
}

#[allow(clippy::too_many_arguments)]
fn form(
    req: &HttpRequest,
    session: &Session,
    status: StatusCode,
    list: Option<&List>,
    values: serde_json::Value,
    errors: &FieldErrors,
    next_run_at: Option<chrono::NaiveDateTime>,
    saved: bool,
) -> Result<HttpResponse, AdminError> {
    let ctx = minijinja::context! {
        list,
        form => values,
        errors,
        next_run_at,
        saved,
        languages => Lang::ALL.iter().map(|l| (l.code(), l.name())).collect::<Vec<_>>(),
        statuses => SubscriptionStatus::ALL,
    };
    render_status(req, session, status, "list", ctx)
}

/// `GET /admin/lists/new`.
pub async fn new_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
) -> Result<HttpResponse, AdminError> {
    let values = serde_json::json!({
        "public": true,
        "double_opt_in": true,
        "language": "it",
        "from": state.settings.mail.from.mailbox().to_string(),
        "time_zone": "Europe/Rome",
    });
    form(
        &req,
        &session,
        StatusCode::OK,
        None,
        values,
        &FieldErrors::default(),
        None,
        false,
    )
}

/// What the list form says: the list and its cadence (`None`: none).
struct Parsed {
    input: ListInput,
    cadence: Option<(Cadence, chrono_tz::Tz)>,
}

fn parse(f: &Fields, slug: Option<&ListSlug>, errors: &mut FieldErrors) -> Option<Parsed> {
    let slug = match slug {
        Some(s) => Some(s.clone()),
        None => errors.check("slug", ListSlug::parse(f.text("slug").trim())),
    };
    let name = f.text("name").trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        errors.add("name", "admin_error_list_name");
    }
    let description = f.text("description").trim();
    if description.chars().count() > 300 || description.chars().any(char::is_control) {
        errors.add("description", "admin_error_description");
    }
    let language = errors.check("language", Lang::parse(f.text("language")));
    let from = errors.check("from", Sender::parse(f.text("from")));
    let reply_to = match f.optional("reply_to") {
        Some(r) => errors.check("reply_to", Sender::parse(r).map(Some)),
        None => Some(None),
    };
    let cadence = match f
        .optional("cadence")
        .filter(|c| !c.eq_ignore_ascii_case("off"))
    {
        None => Some(None),
        Some(c) => {
            let cadence = errors.check("cadence", Cadence::parse(c));
            let tz = errors.check("time_zone", parse_time_zone(f.text("time_zone")));
            cadence.zip(tz).map(Some)
        }
    };
    let (Some(slug), Some(language), Some(from), Some(reply_to), Some(cadence)) =
        (slug, language, from, reply_to, cadence)
    else {
        return None;
    };
    errors.is_empty().then(|| Parsed {
        input: ListInput {
            slug,
            name: name.to_owned(),
            description: description.to_owned(),
            public: f.checked("public"),
            double_opt_in: f.checked("double_opt_in"),
            language,
            from,
            reply_to,
            public_archive: f.checked("public_archive"),
        },
        cadence,
    })
}

async fn save_cadence(
    state: &AppState,
    slug: &ListSlug,
    cadence: Option<(Cadence, chrono_tz::Tz)>,
) -> Result<(), AdminError> {
    match cadence {
        Some((c, tz)) => {
            digests::set_schedule(&state.pool, slug.clone(), c, tz).await?;
        }
        None => {
            digests::unset_schedule(&state.pool, slug.clone()).await?;
        }
    }
    Ok(())
}

/// `POST /admin/lists/new`.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let mut errors = FieldErrors::default();
    let Some(parsed) = parse(&f, None, &mut errors) else {
        let values = typed_values(&f);
        return form(
            &req,
            &session,
            StatusCode::BAD_REQUEST,
            None,
            values,
            &errors,
            None,
            false,
        );
    };
    let input = parsed.input.clone();
    let created = crate::db::run(&state.pool, move |conn| {
        subscriptions::create_list(conn, &input)
    })
    .await;
    let list = match created {
        Ok(list) => list,
        Err(crate::app::UseCaseError::SlugTaken(_)) => {
            errors.add("slug", "admin_error_slug_taken");
            let values = typed_values(&f);
            return form(
                &req,
                &session,
                StatusCode::BAD_REQUEST,
                None,
                values,
                &errors,
                None,
                false,
            );
        }
        Err(e) => return Err(e.into()),
    };
    save_cadence(&state, &parsed.input.slug, parsed.cadence).await?;
    let actor = Actor::from(&session.member);
    staff::record(
        &state,
        &actor,
        AuditAction::ListCreated,
        &list.slug,
        &list.name,
    )
    .await?;
    Ok(see_other(&format!("/admin/lists/{}?saved", list.slug)))
}

/// `GET /admin/lists/{slug}`.
pub async fn edit_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let list = subscriptions::list(&state, slug(&path)?).await?;
    let cadence = cadences(&state)
        .await?
        .into_iter()
        .find(|(s, _)| *s == list.slug)
        .map(|(_, c)| c)
        .unwrap_or_default();
    let saved = req.query_string().contains("saved");
    let values = values_of(&list, &cadence);
    let errors = FieldErrors::default();
    form(
        &req,
        &session,
        StatusCode::OK,
        Some(&list),
        values,
        &errors,
        cadence.next_run_at,
        saved,
    )
}

/// `POST /admin/lists/{slug}`.
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let list = subscriptions::list(&state, slug(&path)?).await?;
    let slug = slug(&list.slug)?;
    let mut errors = FieldErrors::default();
    let Some(parsed) = parse(&f, Some(&slug), &mut errors) else {
        let values = typed_values(&f);
        let status = StatusCode::BAD_REQUEST;
        return form(
            &req,
            &session,
            status,
            Some(&list),
            values,
            &errors,
            None,
            false,
        );
    };
    let list = subscriptions::update_list(&state, parsed.input).await?;
    save_cadence(&state, &slug, parsed.cadence).await?;
    let actor = Actor::from(&session.member);
    staff::record(&state, &actor, AuditAction::ListUpdated, &list.slug, "").await?;
    Ok(see_other(&format!("/admin/lists/{}?saved", list.slug)))
}

/// `POST /admin/lists/{slug}/archive`: `archived=1` archives, `archived=0` restores.
pub async fn archive(
    state: web::Data<AppState>,
    Admin(session): Admin,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let archived = f.text("archived") == "1";
    let list = subscriptions::set_archived(&state, slug(&path)?, archived).await?;
    let action = match archived {
        true => AuditAction::ListArchived,
        false => AuditAction::ListRestored,
    };
    staff::record(
        &state,
        &Actor::from(&session.member),
        action,
        &list.slug,
        "",
    )
    .await?;
    Ok(see_other(&format!("/admin/lists/{}?saved", list.slug)))
}
