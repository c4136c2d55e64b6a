use chrono::Utc;

use crate::app::{AppContext, UseCaseError};
use crate::db::{self, lists, subscribers, DbConnection};
use crate::domain::{Lang, ListSlug, Sender};

/// A list to create, already validated.
#[derive(Debug, Clone)]
pub struct ListInput {
    pub slug: ListSlug,
    pub name: String,
    pub description: String,
    pub public: bool,
    pub double_opt_in: bool,
    pub language: Lang,
    pub from: Sender,
    pub reply_to: Option<Sender>,
    /// Its digests are published at /archive/<slug>.
    pub public_archive: bool,
}

/// Creates a list; a slug already in use is refused with a clear error.
pub fn create_list(
    conn: &mut DbConnection,
    input: &ListInput,
) -> Result<lists::List, UseCaseError> {
    let reply_to = input.reply_to.as_ref().map(|s| s.mailbox().to_string());
    let new = lists::NewList {
        slug: input.slug.as_str(),
        name: &input.name,
        description: &input.description,
        public: input.public,
        double_opt_in: input.double_opt_in,
        language: input.language.code(),
        from_name: input.from.name(),
        from_address: input.from.address(),
        reply_to: reply_to.as_deref(),
        archived: false,
        created_at: Utc::now().naive_utc(),
        public_archive: input.public_archive,
    };
    lists::insert(conn, &new).map_err(|e| {
        if db::is_unique_violation(&e) {
            UseCaseError::SlugTaken(input.slug.as_str().to_owned())
        } else {
            e.into()
        }
    })
}

/// On a database without any list, creates a public double opt-in list `newsletter`, so that a
/// first start shows a working form. Returns whether it created one.
pub fn seed_default_list(conn: &mut DbConnection, from: &Sender) -> Result<bool, UseCaseError> {
    if lists::count(conn)? > 0 {
        return Ok(false);
    }
    let input = ListInput {
        slug: ListSlug::parse("newsletter")?,
        name: "Newsletter".into(),
        description: String::new(),
        public: true,
        double_opt_in: true,
        language: Lang::It,
        from: from.clone(),
        reply_to: None,
        public_archive: false,
    };
    match create_list(conn, &input) {
        Ok(_) => Ok(true),
        // Another instance seeded it first.
        Err(UseCaseError::SlugTaken(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The lists offered on the public form.
pub async fn public_lists(state: &AppContext) -> Result<Vec<lists::List>, UseCaseError> {
    Ok(state.public_lists.get(&state.pool, false).await?.to_vec())
}

/// What an unsubscribe link's page shows: the list's name (empty when the list is gone) and the
/// reader's language (None when the reader erased their data).
pub async fn unsubscribe_view(
    state: &AppContext,
    subscriber_id: i64,
    list_id: i64,
) -> Result<(String, Option<Lang>), UseCaseError> {
    db::run(&state.pool, move |conn| {
        let name = lists::by_ids(conn, &[list_id])?
            .into_iter()
            .next()
            .map(|l| l.name)
            .unwrap_or_default();
        let lang = subscribers::by_id(conn, subscriber_id)?
            .map(|s| Lang::parse(&s.language).unwrap_or_default());
        Ok((name, lang))
    })
    .await
}

/// Every list, archived ones included, by name.
pub async fn all_lists(state: &AppContext) -> Result<Vec<lists::List>, UseCaseError> {
    db::run(&state.pool, |conn| Ok(lists::all(conn)?)).await
}

/// The lists that are not archived (what staff can add readers to), by name.
pub async fn open_lists(state: &AppContext) -> Result<Vec<lists::List>, UseCaseError> {
    let all = all_lists(state).await?;
    Ok(all.into_iter().filter(|l| !l.archived).collect())
}

/// The list with this slug.
pub async fn list(state: &AppContext, slug: ListSlug) -> Result<lists::List, UseCaseError> {
    db::run(&state.pool, move |conn| {
        lists::by_slug(conn, slug.as_str())?.ok_or(UseCaseError::UnknownList)
    })
    .await
}

/// Changes a list's name, description, visibility, opt-in, language and senders (`input.slug`
/// names the list: a slug never changes, forms and links carry it).
pub async fn update_list(
    state: &AppContext,
    input: ListInput,
) -> Result<lists::List, UseCaseError> {
    db::write(&state.pool, move |conn| {
        let list = lists::by_slug(conn, input.slug.as_str())?.ok_or(UseCaseError::UnknownList)?;
        let reply_to = input.reply_to.as_ref().map(|s| s.mailbox().to_string());
        let changes = lists::ListChanges {
            name: &input.name,
            description: &input.description,
            public: input.public,
            double_opt_in: input.double_opt_in,
            language: input.language.code(),
            from_name: input.from.name(),
            from_address: input.from.address(),
            reply_to: reply_to.as_deref(),
            public_archive: input.public_archive,
        };
        lists::update(conn, list.id, &changes)?;
        lists::by_slug(conn, input.slug.as_str())?.ok_or(UseCaseError::UnknownList)
    })
    .await
}

/// Archives a list or brings it back: an archived list leaves the public form and its
/// cadence stops, its subscribers stay.
pub async fn set_archived(
    state: &AppContext,
    slug: ListSlug,
    archived: bool,
) -> Result<lists::List, UseCaseError> {
    db::write(&state.pool, move |conn| {
        let list = lists::by_slug(conn, slug.as_str())?.ok_or(UseCaseError::UnknownList)?;
        lists::set_archived(conn, list.id, archived)?;
        Ok(lists::List { archived, ..list })
    })
    .await
}
