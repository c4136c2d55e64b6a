//! Digests: the history, composing one (articles picked and ordered, subject, Markdown
//! introduction), its preview (HTML and text side by side, for a sample reader) and a test
//! send to the editor's own address. Sending and watching are in digest_send.rs.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::access::{Posted, Staff};
use super::fields::{FieldErrors, Fields};
use super::page::{render, render_status, see_other};
use super::params::{id, slug};
use super::AdminError;
use crate::db::articles::Article;
use crate::digests::{self, Composition, CompositionError};
use crate::domain::{AuditAction, DigestStatus, SubscriberEmail};
use crate::routes::AppState;
use crate::staff::{self, Actor, Session};
use crate::subscriptions;

#[derive(Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    list: String,
    before: Option<i64>,
}

const HISTORY_PAGE: i64 = 50;

/// `GET /admin/digests`: every digest (or one list's) with its numbers, newest first.
pub async fn history(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, AdminError> {
    let list = match q.list.as_str() {
        "" => None,
        slug => Some(super::params::slug(slug)?),
    };
    let digests = digests::history(&state.pool, list, q.before, HISTORY_PAGE).await?;
    let next = (digests.len() as i64 == HISTORY_PAGE)
        .then(|| digests.last().map(|d| d.digest.id))
        .flatten();
    let lists = subscriptions::open_lists(&state).await?;
    render(
        &req,
        &session,
        "digests",
        minijinja::context! { digests, lists, list => &q.list, next },
    )
}

/// The articles ticked on the form, in the order of their positions (unnumbered ones after
/// the numbered, in the form's order).
fn picked(f: &Fields) -> Vec<i64> {
    let mut ticked: Vec<(i64, usize, i64)> = f
        .all("article")
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let id: i64 = v.parse().ok()?;
            let position = f
                .text(&format!("pos_{id}"))
                .trim()
                .parse()
                .unwrap_or(i64::MAX);
            Some((position, i, id))
        })
        .collect();
    ticked.sort();
    ticked.into_iter().map(|(_, _, id)| id).collect()
}

fn composition(f: &Fields, errors: &mut FieldErrors) -> Option<Composition> {
    match Composition::parse(f.text("subject"), f.text("intro"), picked(f)) {
        Ok(c) => Some(c),
        Err(list) => {
            for e in list {
                match e {
                    CompositionError::Subject => errors.add("subject", "admin_error_subject"),
                    CompositionError::Intro => errors.add("intro", "admin_error_intro"),
                    CompositionError::NoArticles => {
                        errors.add("articles", "admin_error_no_articles")
                    }
                    CompositionError::TooManyArticles => {
                        errors.add("articles", "admin_error_too_many_articles")
                    }
                }
            }
            None
        }
    }
}

/// The compose form: what the picker offers, with `chosen` ticked in that order.
struct ComposeForm<'a> {
    subject: &'a str,
    intro: &'a str,
    chosen: &'a [i64],
}

/// One row of the picker: an article and its position (None: not in the digest).
#[derive(serde::Serialize)]
struct PickRow<'a> {
    article: &'a Article,
    position: Option<usize>,
}

/// The chosen articles first, in their order, then the rest of the offer, newest first.
/// `extra` holds chosen articles the offer may not (older ones).
fn pick_rows<'a>(offered: &'a [Article], extra: &'a [Article], chosen: &[i64]) -> Vec<PickRow<'a>> {
    let find = |id: i64| offered.iter().chain(extra).find(|a| a.id == id);
    let mut rows: Vec<PickRow<'a>> = chosen
        .iter()
        .filter_map(|id| find(*id))
        .enumerate()
        .map(|(i, article)| PickRow {
            article,
            position: Some(i + 1),
        })
        .collect();
    rows.extend(
        offered
            .iter()
            .filter(|a| !chosen.contains(&a.id))
            .map(|article| PickRow {
                article,
                position: None,
            }),
    );
    rows
}

#[allow(clippy::too_many_arguments)]
fn compose_page(
    req: &HttpRequest,
    session: &Session,
    status: StatusCode,
    view: minijinja::Value,
    offered: (&[Article], &[Article]),
    form: ComposeForm<'_>,
    errors: &FieldErrors,
) -> Result<HttpResponse, AdminError> {
    let ctx = minijinja::context! {
        form => minijinja::context! { subject => form.subject, intro => form.intro },
        rows => pick_rows(offered.0, offered.1, form.chosen),
        errors,
        ..view
    };
    let mut res = render_status(req, session, status, "digest_compose", ctx)?;
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(crate::routes::CSP_WITH_PREVIEW),
    );
    Ok(res)
}

/// `GET /admin/digests/new?list=`: the picker for a list's next digest (or the lists to
/// choose from).
pub async fn new_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, AdminError> {
    if q.list.is_empty() {
        let lists = subscriptions::open_lists(&state).await?;
        return render(&req, &session, "digest_new", minijinja::context! { lists });
    }
    let slug = slug(&q.list)?;
    let candidates = digests::candidates(&state.pool, slug).await?;
    let subject = candidates
        .articles
        .iter()
        .find(|a| candidates.fresh.contains(&a.id))
        .map(|a| format!("{}: {}", candidates.list.name, a.title))
        .unwrap_or_default();
    let view = minijinja::context! { candidates => &candidates };
    let form = ComposeForm {
        subject: &subject,
        intro: "",
        chosen: &candidates.fresh,
    };
    let offered = (&candidates.articles[..], &[][..]);
    let errors = FieldErrors::default();
    compose_page(&req, &session, StatusCode::OK, view, offered, form, &errors)
}

/// `POST /admin/digests/new?list=`: creates the draft and opens it.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    q: web::Query<HistoryQuery>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let slug = slug(&q.list)?;
    let mut errors = FieldErrors::default();
    let Some(c) = composition(&f, &mut errors) else {
        let candidates = digests::candidates(&state.pool, slug).await?;
        let chosen = picked(&f);
        let form = ComposeForm {
            subject: f.text("subject"),
            intro: f.text("intro"),
            chosen: &chosen,
        };
        let view = minijinja::context! { candidates => &candidates };
        let offered = (&candidates.articles[..], &[][..]);
        let status = StatusCode::BAD_REQUEST;
        return compose_page(&req, &session, status, view, offered, form, &errors);
    };
    let digest = digests::compose(&state.pool, slug, c).await?;
    let actor = Actor::from(&session.member);
    let target = digest.id.to_string();
    staff::record(
        &state,
        &actor,
        AuditAction::DigestCreated,
        &target,
        &digest.subject,
    )
    .await?;
    Ok(see_other(&format!("/admin/digests/{}", digest.id)))
}

/// `GET /admin/digests/{id}`: a draft's compose page with its preview, or the progress of one
/// that is going out or went out.
pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = id(&path)?;
    let view = digests::draft_view(&state.pool, id).await?;
    if !matches!(view.digest.status, DigestStatus::Draft) {
        return super::digest_send::progress_page(&req, &state, &session, view).await;
    }
    let (_, text, _) = digests::preview(&state, id).await?;
    let chosen: Vec<i64> = view.chosen.iter().map(|a| a.id).collect();
    let (subject, intro) = (view.digest.subject.clone(), view.digest.intro.clone());
    let notice = req
        .query_string()
        .split('&')
        .next()
        .unwrap_or_default()
        .to_owned();
    let ctx = minijinja::context! { text, notice, ..minijinja::Value::from_serialize(&view) };
    let form = ComposeForm {
        subject: &subject,
        intro: &intro,
        chosen: &chosen,
    };
    let offered = (&view.candidates.articles[..], &view.chosen[..]);
    let errors = FieldErrors::default();
    compose_page(&req, &session, StatusCode::OK, ctx, offered, form, &errors)
}

/// `POST /admin/digests/{id}`: saves the draft (the preview shows it at once).
pub async fn revise(
    req: HttpRequest,
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    let f = posted.check(&session)?;
    let id = id(&path)?;
    let mut errors = FieldErrors::default();
    let Some(c) = composition(&f, &mut errors) else {
        let view = digests::draft_view(&state.pool, id).await?;
        let (_, text, _) = digests::preview(&state, id).await?;
        let chosen = picked(&f);
        let form = ComposeForm {
            subject: f.text("subject"),
            intro: f.text("intro"),
            chosen: &chosen,
        };
        let ctx = minijinja::context! { text, ..minijinja::Value::from_serialize(&view) };
        let offered = (&view.candidates.articles[..], &view.chosen[..]);
        let status = StatusCode::BAD_REQUEST;
        return compose_page(&req, &session, status, ctx, offered, form, &errors);
    };
    digests::revise(&state.pool, id, c).await?;
    // The page's live preview saves as the editor types: it needs no page back.
    let live = req.headers().contains_key("x-live-preview");
    let detail = if live { "as typed" } else { "" };
    let actor = Actor::from(&session.member);
    let target = id.to_string();
    staff::record(&state, &actor, AuditAction::DigestUpdated, &target, detail).await?;
    match live {
        true => Ok(HttpResponse::NoContent().finish()),
        false => Ok(see_other(&format!("/admin/digests/{id}?saved"))),
    }
}

/// `GET /admin/digests/{id}/preview`: the HTML part for a sample reader, framed by the
/// compose page (its own policy: the mail's inline styles and remote images, no script).
pub async fn preview(
    state: web::Data<AppState>,
    Staff(_session): Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let (_, _, html) = digests::preview(&state, id(&path)?).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            crate::routes::CSP_MAIL_PREVIEW,
        ))
        .insert_header((header::X_FRAME_OPTIONS, "SAMEORIGIN"))
        .body(html))
}

/// `GET /admin/digests/{id}/preview.txt`: the text part for the same sample reader.
pub async fn preview_text(
    state: web::Data<AppState>,
    Staff(_session): Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let (_, text, _) = digests::preview(&state, id(&path)?).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(text))
}

/// `POST /admin/digests/{id}/test`: one copy to the editor's own address, through the outbox.
pub async fn test_send(
    state: web::Data<AppState>,
    Staff(session): Staff,
    path: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, AdminError> {
    posted.check(&session)?;
    let id = id(&path)?;
    let to = SubscriberEmail::parse(&session.member.email)
        .map_err(|e| AdminError::BadRequest("admin_error_own_address", e.to_string()))?;
    digests::send_test(&state, id, to).await?;
    let actor = Actor::from(&session.member);
    let detail = session.member.email.clone();
    staff::record(
        &state,
        &actor,
        AuditAction::DigestTestSent,
        &id.to_string(),
        &detail,
    )
    .await?;
    Ok(see_other(&format!("/admin/digests/{id}?tested")))
}
