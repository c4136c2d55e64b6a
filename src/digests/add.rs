//! Adding articles, whichever way they arrive (the CLI, the HTTP API, a feed).

use chrono::Utc;

use crate::app::UseCaseError;
use crate::db::{self, articles, lists, Pool};
use crate::domain::{ArticleDraft, ListSlug};

/// Whether an article was stored or was already there (same GUID or link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    New,
    AlreadyThere,
}

/// Stores an article for one list's digests (`list`) or for every list's (None). Adding the
/// same GUID again changes nothing.
pub async fn add_article(
    pool: &Pool,
    draft: ArticleDraft,
    list: Option<ListSlug>,
) -> Result<Added, UseCaseError> {
    db::write(pool, move |conn| {
        let list_id = match list {
            Some(slug) => Some(
                lists::by_slug(conn, slug.as_str())?
                    .ok_or(UseCaseError::UnknownList)?
                    .id,
            ),
            None => None,
        };
        let new =
            articles::insert_if_new(conn, &articles::NewArticle::from_draft(&draft, list_id))?;
        Ok(if new { Added::New } else { Added::AlreadyThere })
    })
    .await
}

impl<'a> articles::NewArticle<'a> {
    /// The row for a validated article, created now.
    pub fn from_draft(d: &'a ArticleDraft, list_id: Option<i64>) -> Self {
        Self {
            list_id,
            guid: d.guid(),
            title: d.title(),
            url: d.url(),
            author: d.author(),
            summary: d.summary(),
            language: d.language().code(),
            image_url: d.image_url(),
            published_at: d.published_at(),
            created_at: Utc::now().naive_utc(),
            feed_id: None,
            image_alt: d.image_alt(),
        }
    }
}
