//! Composing a digest from the editor's pages: the articles a list's next digest could carry
//! (those since its last digest chosen first), a subject, an introduction, and the articles
//! picked and ordered by hand.

use chrono::Utc;

use super::markdown::MAX_INTRO_CHARS;
use super::MAX_ARTICLES;
use crate::app::UseCaseError;
use crate::db::{self, articles, digest_pages, digests, lists, DbConnection, Pool};
use crate::domain::{DigestStatus, DomainError, ListSlug};

/// How many of a list's latest articles the picker offers.
const OFFERED: i64 = 100;

/// What an editor wrote and picked, checked.
#[derive(Debug, Clone)]
pub struct Composition {
    subject: String,
    intro: String,
    article_ids: Vec<i64>,
}

/// Why a composition was refused, by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompositionError {
    Subject,
    Intro,
    NoArticles,
    TooManyArticles,
}

impl Composition {
    /// A subject of 1 to 200 characters on one line, an introduction of at most 10,000
    /// characters, 1 to 50 distinct articles in the order given.
    pub fn parse(
        subject: &str,
        intro: &str,
        article_ids: Vec<i64>,
    ) -> Result<Self, Vec<CompositionError>> {
        let mut errors = Vec::new();
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        if subject.is_empty()
            || subject.chars().count() > 200
            || subject.chars().any(char::is_control)
        {
            errors.push(CompositionError::Subject);
        }
        let intro = intro.trim().replace("\r\n", "\n");
        if intro.chars().count() > MAX_INTRO_CHARS
            || intro
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            errors.push(CompositionError::Intro);
        }
        let mut ids = Vec::with_capacity(article_ids.len());
        for id in article_ids {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.is_empty() {
            errors.push(CompositionError::NoArticles);
        } else if ids.len() as i64 > MAX_ARTICLES {
            errors.push(CompositionError::TooManyArticles);
        }
        match errors.is_empty() {
            true => Ok(Self {
                subject,
                intro,
                article_ids: ids,
            }),
            false => Err(errors),
        }
    }
}

/// The articles the picker offers for a list, and those it ticks first.
#[derive(Debug, serde::Serialize)]
pub struct Candidates {
    pub list: lists::List,
    /// The list's own and unbound articles, newest first.
    pub articles: Vec<articles::Article>,
    /// Those published since the list's last digest started (all, if it never had one).
    pub fresh: Vec<i64>,
}

/// What the picker offers for `list`.
pub async fn candidates(pool: &Pool, list: ListSlug) -> Result<Candidates, UseCaseError> {
    db::run(pool, move |conn| {
        let list = lists::by_slug(conn, list.as_str())?.ok_or(UseCaseError::UnknownList)?;
        offered(conn, list)
    })
    .await
}

fn offered(conn: &mut DbConnection, list: lists::List) -> Result<Candidates, UseCaseError> {
    let since = digests::last_started(conn, list.id)?;
    let articles = articles::for_digest(conn, list.id, None, OFFERED)?;
    let fresh = articles
        .iter()
        .filter(|a| since.map_or(true, |s| a.published_at > s))
        .take(MAX_ARTICLES as usize)
        .map(|a| a.id)
        .collect();
    Ok(Candidates {
        list,
        articles,
        fresh,
    })
}

/// Creates a draft of `list` from a composition.
pub async fn compose(
    pool: &Pool,
    list: ListSlug,
    c: Composition,
) -> Result<digests::Digest, UseCaseError> {
    db::write(pool, move |conn| {
        let list = lists::by_slug(conn, list.as_str())?.ok_or(UseCaseError::UnknownList)?;
        check_articles(conn, list.id, &c.article_ids)?;
        // Created empty, then given its introduction and articles in one place.
        let now = Utc::now().naive_utc();
        let digest = digests::create(conn, list.id, &c.subject, &[], now)?;
        digest_pages::update_draft(conn, digest.id, &c.subject, &c.intro, &c.article_ids)?;
        Ok(digest)
    })
    .await
}

/// Replaces a draft's subject, introduction and articles.
pub async fn revise(pool: &Pool, id: i64, c: Composition) -> Result<(), UseCaseError> {
    db::write(pool, move |conn| {
        let digest = digests::by_id(conn, id)?.ok_or(UseCaseError::UnknownDigest)?;
        check_articles(conn, digest.list_id, &c.article_ids)?;
        if digest_pages::update_draft(conn, id, &c.subject, &c.intro, &c.article_ids)? {
            Ok(())
        } else {
            Err(UseCaseError::Conflict(format!(
                "digest {id} is {}: only a draft or a scheduled digest can change",
                digest.status
            )))
        }
    })
    .await
}

/// Every article must exist and be one the list's digests may carry.
fn check_articles(conn: &mut DbConnection, list_id: i64, ids: &[i64]) -> Result<(), UseCaseError> {
    let found = articles::by_ids(conn, ids)?;
    let usable = found
        .iter()
        .filter(|a| a.list_id.map_or(true, |l| l == list_id))
        .count();
    match usable == ids.len() {
        true => Ok(()),
        false => {
            Err(DomainError::InvalidArticle("an article chosen is not one of this list's").into())
        }
    }
}

/// A draft with the picker's offer and its current articles, for the compose page.
#[derive(Debug, serde::Serialize)]
pub struct DraftView {
    pub digest: digests::Digest,
    pub candidates: Candidates,
    /// The digest's articles, in order (some may be older than the picker's offer).
    pub chosen: Vec<articles::Article>,
    /// Readers a send would reach now (counted only for a draft or a scheduled digest: it
    /// reads the list's every confirmed reader).
    pub audience: Option<i64>,
}

/// A digest with its list, what the picker offers and its audience.
pub async fn draft_view(pool: &Pool, id: i64) -> Result<DraftView, UseCaseError> {
    db::run(pool, move |conn| {
        let digest = digests::by_id(conn, id)?.ok_or(UseCaseError::UnknownDigest)?;
        let list = lists::by_ids(conn, &[digest.list_id])?
            .pop()
            .ok_or(UseCaseError::UnknownList)?;
        let audience = match digest.status {
            DigestStatus::Draft | DigestStatus::Scheduled => {
                Some(digest_pages::audience(conn, list.id)?)
            }
            _ => None,
        };
        let chosen = digests::articles_of(conn, id)?;
        Ok(DraftView {
            digest,
            candidates: offered(conn, list)?,
            chosen,
            audience,
        })
    })
    .await
}

/// The newest digests (of one list, or of all) before digest `before`.
pub async fn history(
    pool: &Pool,
    list: Option<ListSlug>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<digest_pages::ListDigest>, UseCaseError> {
    db::run(pool, move |conn| {
        let list_id = match list {
            Some(slug) => Some(
                lists::by_slug(conn, slug.as_str())?
                    .ok_or(UseCaseError::UnknownList)?
                    .id,
            ),
            None => None,
        };
        Ok(digest_pages::history(conn, list_id, before, limit)?)
    })
    .await
}

/// Digests scheduled to start, soonest first.
pub async fn scheduled(pool: &Pool) -> Result<Vec<digest_pages::ListDigest>, UseCaseError> {
    db::run(pool, |conn| Ok(digest_pages::scheduled(conn)?)).await
}

/// One page of a digest's delivery log.
pub async fn delivery_log(
    pool: &Pool,
    id: i64,
    filter: db::delivery_log::LogFilter,
    after: i64,
    limit: i64,
) -> Result<(Vec<db::delivery_log::LogRow>, bool), UseCaseError> {
    db::run(pool, move |conn| {
        digests::by_id(conn, id)?.ok_or(UseCaseError::UnknownDigest)?;
        Ok(db::delivery_log::page(conn, id, &filter, after, limit)?)
    })
    .await
}
