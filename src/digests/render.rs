//! A digest prepared once (list, sender, articles as template values) and rendered per
//! recipient: greeting, the reader's own unsubscribe and preferences links, the list headers.

use std::sync::Arc;

use minijinja::Value;

use super::assembly::Bulk;
use super::stencil::Personal;
use crate::app::UseCaseError;
use crate::db::{self, lists, DbConnection};
use crate::domain::{Lang, Sender};
use crate::links::Links;
use crate::mail::{compose, ComposedMail, MailOptions, MailParts};
use crate::templates::Templates;

/// Everything about a digest that is the same for every recipient.
pub struct PreparedDigest {
    pub digest_id: i64,
    pub list_id: i64,
    pub lang: Lang,
    pub sender: Sender,
    pub reply_to: Option<Sender>,
    pub subject: String,
    /// `List-Id` (RFC 2919): the list's name and `<slug.host>`.
    pub list_id_header: String,
    /// Shared by every recipient's text part: the article list is rendered once per digest.
    pub(super) text_ctx: Value,
    /// The same for the HTML part.
    pub(super) html_ctx: Value,
    pub(super) options: MailOptions,
    /// The fast way to each reader's copy, when it gives what the templates give.
    pub(super) bulk: Option<Bulk>,
}

/// What a digest is made of, as stored.
#[derive(Clone, Copy)]
struct Draft<'a> {
    digest_id: i64,
    subject: &'a str,
    intro: &'a str,
    list: &'a lists::List,
    articles: &'a [db::articles::Article],
}

/// One recipient's part of a digest.
pub struct RecipientView<'a> {
    pub subscriber_id: i64,
    pub email: &'a str,
    pub name: Option<&'a str>,
    pub message_id: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct ArticleView<'a> {
    title: &'a str,
    url: &'a str,
    author: Option<&'a str>,
    summary: &'a str,
    image_url: Option<&'a str>,
    image_alt: &'a str,
    date: String,
}

impl RecipientView<'_> {
    /// The reader's name; an empty one is none, in every copy and every template.
    pub(super) fn name(&self) -> Option<&str> {
        self.name.filter(|n| !n.is_empty())
    }
}

impl PreparedDigest {
    /// Loads a digest, its list and articles, and renders the subject.
    pub fn load(
        conn: &mut DbConnection,
        templates: &Templates,
        links: &Links,
        options: &MailOptions,
        digest_id: i64,
    ) -> Result<Arc<Self>, UseCaseError> {
        let digest = db::digests::by_id(conn, digest_id)?.ok_or(UseCaseError::UnknownDigest)?;
        let list = lists::by_ids(conn, &[digest.list_id])?
            .into_iter()
            .next()
            .ok_or(UseCaseError::UnknownList)?;
        let articles = db::digests::articles_of(conn, digest_id)?;
        let draft = Draft {
            digest_id,
            subject: &digest.subject,
            intro: &digest.intro,
            list: &list,
            articles: &articles,
        };
        Ok(Arc::new(Self::new(templates, links, options, &draft)?))
    }

    fn new(
        templates: &Templates,
        links: &Links,
        options: &MailOptions,
        draft: &Draft<'_>,
    ) -> Result<Self, UseCaseError> {
        let Draft {
            digest_id,
            subject,
            intro,
            list,
            articles,
        } = *draft;
        let lang = Lang::parse(&list.language).unwrap_or_default();
        let date_format = match lang {
            Lang::It => "%d/%m/%Y",
            Lang::En => "%-d %B %Y",
        };
        let views: Vec<ArticleView<'_>> = articles
            .iter()
            .map(|a| ArticleView {
                title: &a.title,
                url: &a.url,
                author: a.author.as_deref(),
                summary: &a.summary,
                image_url: a.image_url.as_deref(),
                image_alt: &a.image_alt,
                date: a.published_at.format(date_format).to_string(),
            })
            .collect();
        let sender = Sender::from_parts(&list.from_name, &list.from_address)?;
        let reply_to = list.reply_to.as_deref().map(Sender::parse).transpose()?;
        let subject = templates
            .mail_subject("digest", lang, &minijinja::context! { subject => subject })
            .map_err(|e| UseCaseError::Mail(e.to_string()))?;
        let (articles_text, articles_html) = templates
            .mail_fragment(
                "digest",
                "articles",
                lang,
                &minijinja::context! { articles => &views },
            )
            .map_err(|e| UseCaseError::Mail(e.to_string()))?;
        let shared = |articles, intro| minijinja::context! { subject => &subject, list_name => &list.name, articles => articles, intro => intro };
        let intro_html = Value::from_safe_string(super::markdown::to_html(intro));
        let mut prepared = Self {
            digest_id,
            list_id: list.id,
            lang,
            list_id_header: list_id_header(list, links.host()),
            text_ctx: shared(articles_text, Value::from(intro.trim())),
            html_ctx: shared(articles_html, intro_html),
            subject,
            sender,
            reply_to,
            options: options.clone(),
            bulk: None,
        };
        match prepared.bulk(templates) {
            Ok(bulk) => prepared.bulk = Some(bulk),
            Err(reason) => tracing::warn!(digest_id, reason, "digest bodies rendered per reader"),
        }
        Ok(prepared)
    }

    /// Text and HTML for one recipient.
    pub fn bodies(
        &self,
        templates: &Templates,
        links: &Links,
        to: &RecipientView<'_>,
    ) -> Result<(String, String), UseCaseError> {
        let unsubscribe = links.unsubscribe(to.subscriber_id, self.list_id);
        self.bodies_with(templates, links, to, &unsubscribe)
    }

    fn bodies_with(
        &self,
        templates: &Templates,
        links: &Links,
        to: &RecipientView<'_>,
        unsubscribe_url: &str,
    ) -> Result<(String, String), UseCaseError> {
        let preferences_url = links.preferences(to.subscriber_id);
        let personal = Personal {
            name: to.name(),
            unsubscribe_url,
            preferences_url: &preferences_url,
        };
        self.render_bodies(templates, &personal)
    }

    pub(super) fn render_bodies(
        &self,
        templates: &Templates,
        reader: &Personal<'_>,
    ) -> Result<(String, String), UseCaseError> {
        let personal = minijinja::context! {
            name => reader.name,
            unsubscribe_url => reader.unsubscribe_url,
            preferences_url => reader.preferences_url,
        };
        let text = minijinja::context! { ..personal.clone(), ..self.text_ctx.clone() };
        let html = minijinja::context! { ..personal, ..self.html_ctx.clone() };
        templates
            .mail_body_pair("digest", self.lang, &text, &html)
            .map_err(|e| UseCaseError::Mail(e.to_string()))
    }

    /// The whole message for one recipient, with the list headers and one-click unsubscribe.
    pub fn compose(
        &self,
        templates: &Templates,
        links: &Links,
        to: &RecipientView<'_>,
    ) -> Result<ComposedMail, UseCaseError> {
        self.compose_in(templates, links, to, String::new())
    }

    /// `compose`, writing the copy into `buf` when it can (its earlier content is dropped):
    /// a sender that hands back each sent copy's buffer allocates none per reader.
    pub fn compose_in(
        &self,
        templates: &Templates,
        links: &Links,
        to: &RecipientView<'_>,
        buf: String,
    ) -> Result<ComposedMail, UseCaseError> {
        let unsubscribe = links.unsubscribe(to.subscriber_id, self.list_id);
        // RFC 2369: the https link first; a mailto as well for mail programs without RFC 8058.
        // Built by hand: `format!` would grow the string a few times for every reader.
        let mut list_unsubscribe = String::with_capacity(unsubscribe.len() + 96);
        list_unsubscribe.push('<');
        list_unsubscribe.push_str(&unsubscribe);
        list_unsubscribe.push('>');
        if let Some(mailbox) = &self.options.unsubscribe_mailto {
            list_unsubscribe.push_str(", <mailto:");
            list_unsubscribe.push_str(mailbox);
            list_unsubscribe.push_str("?subject=unsubscribe>");
        }
        if let Some(mail) = self.compose_bulk(links, to, &unsubscribe, &list_unsubscribe, buf) {
            return Ok(mail);
        }
        let (text, html) = self.bodies_with(templates, links, to, &unsubscribe)?;
        let mut headers = self.shared_headers();
        headers.insert(1, ("List-Unsubscribe", list_unsubscribe));
        compose(&MailParts {
            from: &self.sender,
            reply_to: self.reply_to.as_ref(),
            to: to.email,
            subject: &self.subject,
            text: &text,
            html: &html,
            headers,
            message_id: to.message_id,
            eight_bit: true,
            dkim: self.options.dkim.as_deref(),
        })
        .map_err(|e| UseCaseError::Mail(e.to_string()))
    }

    /// List-Id and List-Unsubscribe-Post: the list headers every reader's copy shares.
    pub(super) fn shared_headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("List-Id", self.list_id_header.clone()),
            (
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".to_owned(),
            ),
        ]
    }
}

/// `"Name" <slug.host>`; the phrase is left out when it would need quoting or encoding, which
/// RFC 2919 allows (the angle-bracket identifier is what filters use).
fn list_id_header(list: &lists::List, host: &str) -> String {
    let id = format!("<{}.{}>", list.slug, host);
    let plain = list
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '.' | '&' | '\'' | ','));
    if plain && !list.name.trim().is_empty() {
        format!("\"{}\" {id}", list.name.trim())
    } else {
        id
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
