//! A list's public archive: `/archive/{slug}` (its digests), `/archive/{slug}/{id}` (one
//! digest, at a URL that never changes) and `/archive/{slug}/feed.xml` (RSS 2.0). Lists
//! without a public archive answer 404, the same as lists that do not exist.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use html_escape::encode_text_minimal as xml_text;

use super::{page, request_lang, settle_lang, PublicError};
use crate::app::UseCaseError;
use crate::digests;
use crate::domain::{Lang, ListSlug};
use crate::routes::AppState;

fn not_found(e: UseCaseError) -> PublicError {
    match e {
        UseCaseError::UnknownList | UseCaseError::UnknownDigest => PublicError::InvalidLink,
        other => other.into(),
    }
}

fn slug(raw: &str) -> Result<ListSlug, PublicError> {
    ListSlug::parse(raw).map_err(|_| PublicError::InvalidLink)
}

/// The archive's pages speak the list's language unless the visitor chose another.
fn archive_lang(req: &HttpRequest, list_language: &str) -> Lang {
    let lang = super::chosen_lang(req)
        .or_else(|| Lang::parse(list_language).ok())
        .unwrap_or_else(|| request_lang(req));
    settle_lang(req, lang);
    lang
}

/// `GET /archive/{slug}`.
pub async fn index(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PublicError> {
    let (list, digests) = digests::archive_index(&state.pool, slug(&path)?)
        .await
        .map_err(not_found)?;
    let lang = archive_lang(&req, &list.language);
    page(
        &state,
        &req,
        "archive",
        lang,
        &minijinja::context! { list => list, digests => digests },
    )
}

/// `GET /archive/{slug}/{id}`.
pub async fn digest(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PublicError> {
    let id = path.1.parse().map_err(|_| PublicError::InvalidLink)?;
    let (list, digest) = digests::archived_digest(&state.pool, slug(&path.0)?, id)
        .await
        .map_err(not_found)?;
    let lang = archive_lang(&req, &list.language);
    let intro = minijinja::Value::from_safe_string(digest.intro_html.clone());
    let mut res = page(
        &state,
        &req,
        "archive_digest",
        lang,
        &minijinja::context! { list => list, digest => digest, intro => intro },
    )?;
    // The articles' images come from their own sites.
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(crate::routes::CSP_WITH_IMAGES),
    );
    Ok(res)
}

/// `GET /archive/{slug}/feed.xml`: the archive as RSS 2.0, each item linking to its page.
pub async fn feed(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, PublicError> {
    let (list, digests) = digests::archive_index(&state.pool, slug(&path)?)
        .await
        .map_err(not_found)?;
    let base = state.settings.base_url.as_str().trim_end_matches('/');
    let home = format!("{base}/archive/{}", list.slug);
    let mut xml = String::with_capacity(512 + digests.len() * 512);
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>");
    xml.push_str(&format!(
        "<title>{}</title><link>{}</link><description>{}</description><language>{}</language>",
        xml_text(&list.name),
        xml_text(&home),
        xml_text(&list.description),
        xml_text(&list.language),
    ));
    for d in &digests {
        let link = format!("{home}/{}", d.id);
        let date = d.sent_at.and_utc().to_rfc2822();
        xml.push_str(&format!(
            "<item><title>{}</title><link>{}</link><guid isPermaLink=\"true\">{}</guid>\
             <pubDate>{}</pubDate><description>{}</description></item>",
            xml_text(&d.subject),
            xml_text(&link),
            xml_text(&link),
            date,
            xml_text(&d.intro_html),
        ));
    }
    xml.push_str("</channel></rss>\n");
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/rss+xml; charset=utf-8"))
        .body(xml))
}
