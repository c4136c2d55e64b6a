//! The editor's articles: a page of them, one to edit, delete.

use crate::app::UseCaseError;
use crate::db::{self, articles, lists, Pool};
use crate::domain::{ArticleDraft, ListSlug};

/// One page of articles (newest first) and whether more follow.
pub async fn articles_page(
    pool: &Pool,
    filter: articles::ArticleFilter,
    offset: i64,
    limit: i64,
) -> Result<(Vec<articles::Article>, bool), UseCaseError> {
    db::run(pool, move |conn| {
        Ok(articles::page(conn, &filter, offset, limit)?)
    })
    .await
}

/// The article with this id.
pub async fn article(pool: &Pool, id: i64) -> Result<articles::Article, UseCaseError> {
    db::run(pool, move |conn| {
        articles::by_id(conn, id)?.ok_or_else(|| UseCaseError::NotFound(format!("no article {id}")))
    })
    .await
}

/// Rewrites an article from a validated draft (its GUID stays).
pub async fn update_article(
    pool: &Pool,
    id: i64,
    draft: ArticleDraft,
    list: Option<ListSlug>,
) -> Result<(), UseCaseError> {
    db::write(pool, move |conn| {
        let list_id = match list {
            Some(slug) => Some(
                lists::by_slug(conn, slug.as_str())?
                    .ok_or(UseCaseError::UnknownList)?
                    .id,
            ),
            None => None,
        };
        let changes = articles::ArticleChanges {
            list_id,
            title: draft.title(),
            url: draft.url(),
            author: draft.author(),
            summary: draft.summary(),
            language: draft.language().code(),
            image_url: draft.image_url(),
            image_alt: draft.image_alt(),
            published_at: draft.published_at(),
        };
        match articles::update(conn, id, &changes)? {
            true => Ok(()),
            false => Err(UseCaseError::NotFound(format!("no article {id}"))),
        }
    })
    .await
}

/// Deletes an article that no digest has carried out; drafts lose it.
pub async fn delete_article(pool: &Pool, id: i64) -> Result<(), UseCaseError> {
    db::write(pool, move |conn| match articles::delete(conn, id)? {
        true => Ok(()),
        false => Err(UseCaseError::Conflict(
            "a digest that went out carries this article: it stays, as the archive shows it".into(),
        )),
    })
    .await
}
