//! What the editor's pages read and change of digests besides sending them: drafts' contents,
//! the history per list, the scheduled sends, the audience a send would reach and the archive.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::digests::Digest;
use super::schema::{digest_articles, digests, lists, subscribers, subscriptions};
use super::DbConnection;
use crate::domain::{DigestStatus, SubscriptionStatus};

/// Sets a draft's subject, introduction and articles (in this order). False, with nothing
/// changed, when the digest is no longer a draft or scheduled.
pub fn update_draft(
    conn: &mut DbConnection,
    id: i64,
    subject: &str,
    intro: &str,
    article_ids: &[i64],
) -> QueryResult<bool> {
    let open = [DigestStatus::Draft, DigestStatus::Scheduled];
    let changed = diesel::update(digests::table.find(id).filter(digests::status.eq_any(open)))
        .set((digests::subject.eq(subject), digests::intro.eq(intro)))
        .execute(conn)?;
    if changed == 0 {
        return Ok(false);
    }
    diesel::delete(digest_articles::table.filter(digest_articles::digest_id.eq(id)))
        .execute(conn)?;
    for (position, article_id) in article_ids.iter().enumerate() {
        diesel::insert_into(digest_articles::table)
            .values((
                digest_articles::digest_id.eq(id),
                digest_articles::article_id.eq(article_id),
                digest_articles::position.eq(position as i32),
            ))
            .execute(conn)?;
    }
    Ok(true)
}

/// The ids of a digest's articles, in order.
pub fn article_ids(conn: &mut DbConnection, id: i64) -> QueryResult<Vec<i64>> {
    digest_articles::table
        .filter(digest_articles::digest_id.eq(id))
        .order(digest_articles::position.asc())
        .select(digest_articles::article_id)
        .load(conn)
}

/// A digest with its list's slug and name.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListDigest {
    #[serde(flatten)]
    pub digest: Digest,
    pub list_slug: String,
    pub list_name: String,
}

/// The newest digests, of one list or of all, newest first; before digest id `before`.
pub fn history(
    conn: &mut DbConnection,
    list_id: Option<i64>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<ListDigest>> {
    let mut query = digests::table
        .inner_join(lists::table)
        .order(digests::id.desc())
        .limit(limit)
        .select((Digest::as_select(), lists::slug, lists::name))
        .into_boxed();
    if let Some(list_id) = list_id {
        query = query.filter(digests::list_id.eq(list_id));
    }
    if let Some(before) = before {
        query = query.filter(digests::id.lt(before));
    }
    Ok(query
        .load::<(Digest, String, String)>(conn)?
        .into_iter()
        .map(|(digest, list_slug, list_name)| ListDigest {
            digest,
            list_slug,
            list_name,
        })
        .collect())
}

/// Digests scheduled to start, soonest first.
pub fn scheduled(conn: &mut DbConnection) -> QueryResult<Vec<ListDigest>> {
    Ok(digests::table
        .inner_join(lists::table)
        .filter(digests::status.eq(DigestStatus::Scheduled))
        .order((digests::scheduled_at.asc(), digests::id.asc()))
        .select((Digest::as_select(), lists::slug, lists::name))
        .load::<(Digest, String, String)>(conn)?
        .into_iter()
        .map(|(digest, list_slug, list_name)| ListDigest {
            digest,
            list_slug,
            list_name,
        })
        .collect())
}

/// How many readers a digest of this list would go to if it started now: the same rule as
/// `digests::start` (confirmed and not blocked).
pub fn audience(conn: &mut DbConnection, list_id: i64) -> QueryResult<i64> {
    subscriptions::table
        .inner_join(subscribers::table)
        .filter(subscriptions::list_id.eq(list_id))
        .filter(subscriptions::status.eq(SubscriptionStatus::Confirmed.as_str()))
        .filter(subscribers::blocked.eq(false))
        .count()
        .get_result(conn)
}

/// The digests of a list that went out, newest first, for its public archive.
pub fn archived(
    conn: &mut DbConnection,
    list_id: i64,
    limit: i64,
) -> QueryResult<Vec<(i64, String, String, NaiveDateTime)>> {
    digests::table
        .filter(digests::list_id.eq(list_id))
        .filter(digests::status.eq_any([DigestStatus::Sent, DigestStatus::Sending]))
        .filter(digests::started_at.is_not_null())
        .order(digests::started_at.desc())
        .limit(limit)
        .select((
            digests::id,
            digests::subject,
            digests::intro,
            digests::started_at.assume_not_null(),
        ))
        .load(conn)
}
