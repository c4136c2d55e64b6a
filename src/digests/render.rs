//! A digest prepared once (list, sender, articles as template values) and rendered per
//! recipient: greeting, the reader's own unsubscribe and preferences links, the list headers.

use std::sync::Arc;

use minijinja::Value;

use crate::db::{self, lists, DbConnection};
use crate::domain::{Lang, Sender};
use crate::links::Links;
use crate::mail::{compose, ComposedMail, MailOptions, MailParts};
use crate::subscriptions::UseCaseError;
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
    text_ctx: Value,
    /// The same for the HTML part.
    html_ctx: Value,
    options: MailOptions,
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
    date: String,
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
                date: a.published_at.format(date_format).to_string(),
            })
            .collect();
        let sender = Sender::from_parts(&list.from_name, &list.from_address)?;
        let reply_to = list.reply_to.as_deref().map(Sender::parse).transpose()?;
        let subject = templates
            .mail_subject(
                "digest",
                lang,
                &minijinja::context! { subject => &digest.subject },
            )
            .map_err(|e| UseCaseError::Mail(e.to_string()))?;
        let (articles_text, articles_html) = templates
            .mail_fragment(
                "digest",
                "articles",
                lang,
                &minijinja::context! { articles => &views },
            )
            .map_err(|e| UseCaseError::Mail(e.to_string()))?;
        let shared = |articles| minijinja::context! { subject => &subject, list_name => &list.name, articles => articles };
        Ok(Arc::new(Self {
            digest_id,
            list_id: list.id,
            lang,
            list_id_header: list_id_header(&list, links.host()),
            text_ctx: shared(articles_text),
            html_ctx: shared(articles_html),
            subject,
            sender,
            reply_to,
            options: options.clone(),
        }))
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
        let personal = minijinja::context! {
            name => to.name,
            unsubscribe_url,
            preferences_url => links.preferences(to.subscriber_id),
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
        let unsubscribe = links.unsubscribe(to.subscriber_id, self.list_id);
        let (text, html) = self.bodies_with(templates, links, to, &unsubscribe)?;
        // RFC 2369: the https link first; a mailto as well for mail programs without RFC 8058.
        let list_unsubscribe = match &self.options.unsubscribe_mailto {
            Some(mailbox) => format!("<{unsubscribe}>, <mailto:{mailbox}?subject=unsubscribe>"),
            None => format!("<{unsubscribe}>"),
        };
        compose(&MailParts {
            from: &self.sender,
            reply_to: self.reply_to.as_ref(),
            to: to.email,
            subject: &self.subject,
            text: &text,
            html: &html,
            headers: vec![
                ("List-Id", self.list_id_header.clone()),
                ("List-Unsubscribe", list_unsubscribe),
                (
                    "List-Unsubscribe-Post",
                    "List-Unsubscribe=One-Click".to_owned(),
                ),
            ],
            message_id: to.message_id,
            eight_bit: true,
            dkim: self.options.dkim.as_deref(),
        })
        .map_err(|e| UseCaseError::Mail(e.to_string()))
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
