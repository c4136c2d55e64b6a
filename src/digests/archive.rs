//! A list's public archive: the digests that went out, as web pages and an RSS feed. Nothing
//! of a reader is in them: they are rendered from the digest's own parts (subject,
//! introduction, articles), never from a reader's copy.

use chrono::NaiveDateTime;

use crate::app::UseCaseError;
use crate::db::{self, digest_pages, digests, lists, Pool};
use crate::domain::{DigestStatus, ListSlug};

/// How many digests the archive's index and feed list.
const INDEX_SIZE: i64 = 100;

/// One digest of the archive.
#[derive(Debug, serde::Serialize)]
pub struct ArchivedDigest {
    pub id: i64,
    pub subject: String,
    /// The introduction as safe HTML.
    pub intro_html: String,
    pub sent_at: NaiveDateTime,
    pub articles: Vec<db::articles::Article>,
}

/// The list when its archive is public (else None: the archive does not exist).
fn public_list(conn: &mut db::DbConnection, slug: &ListSlug) -> Result<lists::List, UseCaseError> {
    lists::by_slug(conn, slug.as_str())?
        .filter(|l| l.public_archive)
        .ok_or(UseCaseError::UnknownList)
}

/// The list and its digests that went out, newest first (without their articles).
pub async fn archive_index(
    pool: &Pool,
    slug: ListSlug,
) -> Result<(lists::List, Vec<ArchivedDigest>), UseCaseError> {
    db::run(pool, move |conn| {
        let list = public_list(conn, &slug)?;
        let digests = digest_pages::archived(conn, list.id, INDEX_SIZE)?
            .into_iter()
            .map(|(id, subject, intro, sent_at)| ArchivedDigest {
                id,
                subject,
                intro_html: super::markdown::to_html(&intro),
                sent_at,
                articles: Vec::new(),
            })
            .collect();
        Ok((list, digests))
    })
    .await
}

/// One digest of a public archive, with its articles.
pub async fn archived_digest(
    pool: &Pool,
    slug: ListSlug,
    id: i64,
) -> Result<(lists::List, ArchivedDigest), UseCaseError> {
    db::run(pool, move |conn| {
        let list = public_list(conn, &slug)?;
        let digest = digests::by_id(conn, id)?
            .filter(|d| d.list_id == list.id)
            .filter(|d| matches!(d.status, DigestStatus::Sent | DigestStatus::Sending))
            .ok_or(UseCaseError::UnknownDigest)?;
        let sent_at = digest.started_at.ok_or(UseCaseError::UnknownDigest)?;
        let articles = digests::articles_of(conn, id)?;
        Ok((
            list,
            ArchivedDigest {
                id,
                intro_html: super::markdown::to_html(&digest.intro),
                subject: digest.subject,
                sent_at,
                articles,
            },
        ))
    })
    .await
}
