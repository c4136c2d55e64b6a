//! Sending a digest: the confirmation (audience, now or at a time in the list's time zone, the
//! list's cadence), the progress page and its JSON (counts, rate, time left), and pause,
//! resume, cancel, retry-failed.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::access::{Posted, Staff};
use super::fields::FieldErrors;
use super::page::{render, render_status, see_other};
use super::params::{id, slug};
use super::AdminError;
use crate::db::digests::{Digest, Progress};
use crate::digests::{self, Control, DraftView};
use crate::domain::{parse_time_zone, AuditAction, Cadence, DigestStatus};
use crate::routes::AppState;
use crate::staff::{self, Actor, Session};

/// The zone a list's times are written in: its cadence's, else Italy's.
async fn list_zone(state: &AppState, slug: &str) -> Result<(Tz, Option<String>), AdminError> {
    let schedule = digests::schedules(&state.pool)
        .await?
        .into_iter()
        .find(|(s, _)| s == slug)
        .map(|(_, s)| s);
    let tz = schedule
        .as_ref()
        .and_then(|s| parse_time_zone(&s.time_zone).ok())
        .unwrap_or(chrono_tz::Europe::Rome);
    Ok((tz, schedule.map(|s| s.cadence)))
}

/// `GET /admin/digests/{id}/send`: what a send would do, to confirm.
pub async fn send_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let view = digests::draft_view(&state.pool, id(&path)?).await?;
    confirm_page(&req, &state, &session, view, &FieldErrors::default(), None).await
}

async fn confirm_page(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    view: DraftView,
    errors: &FieldErrors,
    typed_at: Option<&str>,
) -> Result<HttpResponse, AdminError> {
    let (tz, cadence) = list_zone(state, &view.candidates.list.slug).await?;
    let status = match errors.is_empty() {
        true => actix_web::http::StatusCode::OK,
        false => actix_web::http::StatusCode::BAD_REQUEST,
    };
    let ctx = minijinja::context! {
        digest => &view.digest,
        list => &view.candidates.list,
        audience => view.audience,
        articles => view.chosen.len(),
        time_zone => tz.name(),
        cadence,
        at => typed_at,
        errors,
    };
    render_status(req, session, status, "digest_send", ctx)
}

/// `POST /admin/digests/{id}/send`: `when=now` starts it; `when=later` schedules it for `at`
/// (a local time in `time_zone`).
pub async fn send(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let id = id(&path)?;
    let actor = Actor::from(&session.member);
    if f.text("when") != "later" {
        let n = digests::start(&state.pool, id).await?;
        let detail = format!("{n} recipients");
        staff::record(
            &state,
            &actor,
            AuditAction::DigestSent,
            &id.to_string(),
            &detail,
        )
        .await?;
        return Ok(see_other(&format!("/admin/digests/{id}")));
    }
    let mut errors = FieldErrors::default();
    let tz = errors.check(
        "time_zone",
        parse_time_zone(f.text("time_zone")).map_err(|_| "admin_error_time_zone"),
    );
    let local = errors.check(
        "at",
        NaiveDateTime::parse_from_str(f.text("at").trim(), "%Y-%m-%dT%H:%M")
            .map_err(|_| "admin_error_at"),
    );
    let at = tz.zip(local).and_then(|(tz, local)| {
        // A time the clocks skip has no instant; one they repeat takes the first.
        let at = tz.from_local_datetime(&local).earliest()?.naive_utc();
        (at > Utc::now().naive_utc()).then_some(at)
    });
    let Some(at) = at else {
        errors.add("at", "admin_error_at");
        let view = digests::draft_view(&state.pool, id).await?;
        return confirm_page(&req, &state, &session, view, &errors, Some(f.text("at"))).await;
    };
    digests::schedule(&state.pool, id, at).await?;
    let detail = format!("{at} UTC");
    staff::record(
        &state,
        &actor,
        AuditAction::DigestScheduled,
        &id.to_string(),
        &detail,
    )
    .await?;
    Ok(see_other(&format!("/admin/digests/{id}")))
}

/// What the progress page and its JSON say.
#[derive(serde::Serialize)]
struct Report {
    status: DigestStatus,
    #[serde(flatten)]
    progress: Progress,
    total: i64,
    /// Not done yet: waiting or in flight.
    pending: i64,
    /// Outcomes so far (sent, failed, skipped) as a whole percentage of the audience.
    percent: i64,
    /// Messages per second since the start; None before there is one.
    rate: Option<f64>,
    /// Seconds left at that rate.
    seconds_left: Option<i64>,
    finished_at: Option<NaiveDateTime>,
}

fn report(digest: &Digest, progress: Progress) -> Report {
    let total = digest.recipients;
    let done = progress.sent + progress.failed + progress.skipped;
    let percent = match (digest.started_at, total) {
        (None, _) => 0,
        (Some(_), 0) => 100,
        (Some(_), t) => done * 100 / t,
    };
    let end = digest.finished_at.unwrap_or_else(|| Utc::now().naive_utc());
    let elapsed = digest
        .started_at
        .map(|s| (end - s).num_milliseconds() as f64 / 1000.0)
        .filter(|s| *s > 0.0);
    let rate = elapsed.filter(|_| done > 0).map(|s| done as f64 / s);
    let left = total - done;
    let seconds_left = rate
        .filter(|_| digest.status == DigestStatus::Sending)
        .map(|r| (left as f64 / r).ceil() as i64);
    Report {
        status: digest.status,
        progress,
        total,
        pending: progress.queued + progress.sending,
        percent,
        rate: rate.map(|r| (r * 10.0).round() / 10.0),
        seconds_left,
        finished_at: digest.finished_at,
    }
}

/// The progress page of a digest that is scheduled, going out or done.
pub(super) async fn progress_page(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    view: DraftView,
) -> Result<HttpResponse, AdminError> {
    let (digest, progress) = digests::status(&state.pool, view.digest.id).await?;
    let report = report(&digest, progress);
    let (tz, _) = list_zone(state, &view.candidates.list.slug).await?;
    let scheduled_local = digest.scheduled_at.map(|at| {
        Utc.from_utc_datetime(&at)
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    });
    let ctx = minijinja::context! {
        digest,
        list => &view.candidates.list,
        articles => &view.chosen,
        report,
        scheduled_local,
        time_zone => tz.name(),
    };
    render(req, session, "digest_progress", ctx)
}

/// `GET /admin/digests/{id}/progress`: the counts as JSON, polled by the progress page.
pub async fn progress_json(
    state: web::Data<AppState>,
    Staff(_session): Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let (digest, progress) = digests::status(&state.pool, id(&path)?).await?;
    Ok(HttpResponse::Ok().json(report(&digest, progress)))
}

/// `POST /admin/digests/{id}/control`: `action` is pause, resume, cancel, unschedule or retry.
pub async fn control(
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let id = id(&path)?;
    let (action, detail) = match f.text("action") {
        "retry" => {
            let n = digests::retry_failed(&state.pool, id).await?;
            (AuditAction::DigestRetried, format!("{n} deliveries"))
        }
        other => {
            let (control, action) = match other {
                "pause" => (Control::Pause, AuditAction::DigestPaused),
                "resume" => (Control::Resume, AuditAction::DigestResumed),
                "cancel" => (Control::Cancel, AuditAction::DigestCancelled),
                "unschedule" => (Control::Unschedule, AuditAction::DigestUpdated),
                _ => {
                    let detail = format!("unknown action {other:?}");
                    return Err(AdminError::BadRequest("error_bad_request", detail));
                }
            };
            digests::control(&state.pool, id, control).await?;
            (action, other.to_owned())
        }
    };
    let actor = Actor::from(&session.member);
    staff::record(&state, &actor, action, &id.to_string(), &detail).await?;
    Ok(see_other(&format!("/admin/digests/{id}")))
}

/// `POST /admin/lists/{slug}/cadence`: the list's automatic digests (editors may change them;
/// the rest of a list is the admins').
pub async fn cadence(
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let slug = slug(&path)?;
    let back = f
        .optional("back")
        .filter(|b| b.starts_with("/admin/") && !b.starts_with("//"))
        .unwrap_or("/admin/digests")
        .to_owned();
    let bad = |e: crate::domain::DomainError| {
        AdminError::BadRequest("admin_error_cadence", e.to_string())
    };
    let detail = match f
        .optional("cadence")
        .filter(|c| !c.eq_ignore_ascii_case("off"))
    {
        Some(c) => {
            let cadence = Cadence::parse(c).map_err(bad)?;
            let tz = parse_time_zone(f.text("time_zone")).map_err(bad)?;
            digests::set_schedule(&state.pool, slug.clone(), cadence, tz).await?;
            format!("{c} {}", tz.name())
        }
        None => {
            digests::unset_schedule(&state.pool, slug.clone()).await?;
            "off".to_owned()
        }
    };
    let actor = Actor::from(&session.member);
    staff::record(
        &state,
        &actor,
        AuditAction::CadenceChanged,
        slug.as_str(),
        &detail,
    )
    .await?;
    Ok(see_other(&back))
}
