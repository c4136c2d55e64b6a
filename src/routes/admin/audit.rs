//! The audit trail (admins only), filtered by person, action and dates.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;

use super::access::Admin;
use super::fields::FieldErrors;
use super::page::render_status;
use super::AdminError;
use crate::domain::AuditAction;
use crate::routes::AppState;
use crate::staff::{self, TrailFilter};

const PAGE_ROWS: i64 = 50;

#[derive(Deserialize, serde::Serialize, Default)]
pub struct Query {
    #[serde(default)]
    person: String,
    #[serde(default)]
    action: String,
    /// `YYYY-MM-DD`, inclusive (UTC).
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    before: Option<i64>,
}

fn date(raw: &str, errors: &mut FieldErrors, field: &'static str) -> Option<NaiveDate> {
    match raw.trim() {
        "" => None,
        d => {
            let parsed = NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| "admin_error_date");
            errors.check(field, parsed)
        }
    }
}

/// `GET /admin/audit`.
pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    Admin(session): Admin,
    q: web::Query<Query>,
) -> Result<HttpResponse, AdminError> {
    let mut errors = FieldErrors::default();
    let action = match q.action.trim() {
        "" => None,
        a => errors.check(
            "action",
            AuditAction::parse(a).map_err(|_| "error_bad_request"),
        ),
    };
    let from = date(&q.from, &mut errors, "from");
    let until = date(&q.until, &mut errors, "until");
    let filter = TrailFilter {
        person: Some(q.person.trim().to_owned()).filter(|p| !p.is_empty()),
        action,
        from: from.and_then(|d| d.and_hms_opt(0, 0, 0)),
        until: until
            .and_then(|d| d.succ_opt())
            .and_then(|d| d.and_hms_opt(0, 0, 0)),
        before_id: q.before,
    };
    let (mut entries, status) = match errors.is_empty() {
        true => (
            staff::trail(&state, filter, PAGE_ROWS).await?,
            StatusCode::OK,
        ),
        false => (Vec::new(), StatusCode::BAD_REQUEST),
    };
    let next = (entries.len() as i64 > PAGE_ROWS).then(|| {
        entries.truncate(PAGE_ROWS as usize);
        let before = entries.last().map_or(0, |e| e.id);
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("person", &q.person)
            .append_pair("action", &q.action)
            .append_pair("from", &q.from)
            .append_pair("until", &q.until)
            .append_pair("before", &before.to_string());
        format!("/admin/audit?{}", query.finish())
    });
    let people = staff::trail_choices(&state).await?;
    let ctx = minijinja::context! {
        entries,
        next,
        query => &*q,
        people,
        actions => AuditAction::ALL,
        errors,
    };
    render_status(&req, &session, status, "audit", ctx)
}
