//! The one template engine for pages and mail (minijinja). The files under `templates/` are
//! compiled into the binary and parsed at start, so a syntax error stops the service before it
//! serves anything; `.html` templates are auto-escaped, `.txt` ones are not.

use std::collections::BTreeMap;

use minijinja::{Environment, Value};
use serde::Serialize;

use crate::domain::Lang;

macro_rules! embed {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

/// Every template, by name.
const FILES: &[(&str, &str)] = embed!(
    "pages/base.html",
    "pages/index.html",
    "pages/message.html",
    "pages/confirm.html",
    "pages/unsubscribe.html",
    "pages/preferences.html",
    "pages/unsubscribed.html",
    "pages/manage.html",
    "pages/archive.html",
    "pages/archive_digest.html",
    "mail/base.html",
    "mail/confirm/subject.txt",
    "mail/confirm/body.txt",
    "mail/confirm/body.html",
    "mail/manage/subject.txt",
    "mail/manage/body.txt",
    "mail/manage/body.html",
    "mail/digest/subject.txt",
    "mail/digest/body.txt",
    "mail/digest/body.html",
    "mail/digest/articles.txt",
    "mail/digest/articles.html",
    "admin/base.html",
    "admin/macros.html",
    "admin/message.html",
    "admin/login.html",
    "admin/link.html",
    "admin/account.html",
    "admin/dashboard.html",
    "admin/lists.html",
    "admin/list.html",
    "admin/subscribers.html",
    "admin/subscriber.html",
    "admin/subscriber_new.html",
    "admin/import.html",
    "admin/import_preview.html",
    "admin/import_job.html",
    "admin/users.html",
    "admin/audit.html",
    "admin/articles.html",
    "admin/article.html",
    "admin/feeds.html",
    "admin/feed.html",
    "admin/digests.html",
    "admin/digest_new.html",
    "admin/digest_compose.html",
    "admin/digest_send.html",
    "admin/digest_progress.html",
    "admin/deliveries.html",
);

/// Files served as they are under `/static/`: (name, content type, content).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "site.css",
        "text/css; charset=utf-8",
        include_str!("../templates/static/site.css"),
    ),
    (
        "admin.css",
        "text/css; charset=utf-8",
        include_str!("../templates/static/admin.css"),
    ),
    (
        "compose.js",
        "text/javascript; charset=utf-8",
        include_str!("../templates/static/compose.js"),
    ),
    (
        "progress.js",
        "text/javascript; charset=utf-8",
        include_str!("../templates/static/progress.js"),
    ),
];

/// Each language's catalogues: the readers' pages and mail, then the staff's pages. A key may
/// be in only one of them.
const CATALOGS: &[(Lang, &[&str])] = &[
    (
        Lang::It,
        &[
            include_str!("../templates/i18n/it.toml"),
            include_str!("../templates/i18n/admin.it.toml"),
        ],
    ),
    (
        Lang::En,
        &[
            include_str!("../templates/i18n/en.toml"),
            include_str!("../templates/i18n/admin.en.toml"),
        ],
    ),
];

/// Why templates could not be loaded or rendered. Like every error of this crate, its message
/// names its cause and does not also expose it as `source`, so a cause chain prints it once.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template error: {0:#}")]
    Render(minijinja::Error),
    #[error("message catalogue {lang}: {reason}")]
    Catalog { lang: &'static str, reason: String },
}

/// A static file by name: its content type and content.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, content_type, content)| (*content_type, *content))
}

/// A short digest of every asset (they are compiled in: it changes with the binary's).
pub fn asset_version() -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for (_, _, content) in ASSETS {
        hash.update(content.as_bytes());
    }
    hex::encode(&hash.finalize()[..6])
}

/// Prints a missing value (`none`, or a variable a context left out) as nothing: an optional
/// field that is empty must never reach a reader as "none" (`value="none"` in a form, "Ciao
/// none," in a mail). Everything else is printed and escaped as minijinja does by default.
fn blank_none(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if value.is_none() || value.is_undefined() {
        return Ok(());
    }
    minijinja::escape_formatter(out, state, value)
}

/// `{{ at|when }}`: a stored UTC time (`2026-12-02T14:05:44.123`) as `2026-12-02 14:05 UTC`;
/// nothing for none.
fn when(value: Value) -> String {
    match value.as_str() {
        Some(s) if s.len() >= 16 => format!("{} {} UTC", &s[..10], &s[11..16]),
        Some(s) => s.to_owned(),
        None => String::new(),
    }
}

impl From<minijinja::Error> for TemplateError {
    fn from(e: minijinja::Error) -> Self {
        TemplateError::Render(e)
    }
}

/// A mail rendered in three parts.
#[derive(Debug, Clone)]
pub struct RenderedMail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The compiled templates and message catalogues.
pub struct Templates {
    env: Environment<'static>,
    catalogs: Vec<(Lang, Value, BTreeMap<String, String>)>,
}

impl Templates {
    /// Parses every template and catalogue; fails on the first error.
    pub fn load() -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_formatter(blank_none);
        // `form.email` when a page has no form yet is empty, not an error.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        // In the assets' URLs, so a browser's cached copy is replaced when they change.
        env.add_global("asset_version", asset_version());
        for (name, source) in FILES {
            env.add_template(name, source)?;
        }
        env.add_filter("when", when);
        let mut catalogs = Vec::new();
        for (lang, sources) in CATALOGS {
            let mut map: BTreeMap<String, String> = BTreeMap::new();
            for source in *sources {
                let part: BTreeMap<String, String> =
                    toml::from_str(source).map_err(|e| TemplateError::Catalog {
                        lang: lang.code(),
                        reason: e.to_string(),
                    })?;
                for (key, text) in part {
                    if map.insert(key.clone(), text).is_some() {
                        return Err(TemplateError::Catalog {
                            lang: lang.code(),
                            reason: format!("the key {key} is in two catalogues"),
                        });
                    }
                }
            }
            catalogs.push((*lang, Value::from_serialize(&map), map));
        }
        let (_, _, reference) = &catalogs[0];
        for (lang, _, map) in &catalogs[1..] {
            if map.keys().ne(reference.keys()) {
                return Err(TemplateError::Catalog {
                    lang: lang.code(),
                    reason: "its keys differ from the Italian catalogue".into(),
                });
            }
        }
        Ok(Self { env, catalogs })
    }

    fn catalog(&self, lang: Lang) -> &(Lang, Value, BTreeMap<String, String>) {
        self.catalogs
            .iter()
            .find(|(l, _, _)| *l == lang)
            .unwrap_or(&self.catalogs[0])
    }

    /// One message in `lang` (the key itself if it is missing, which `load` rules out).
    pub fn t<'a>(&'a self, lang: Lang, key: &'a str) -> &'a str {
        self.catalog(lang).2.get(key).map_or(key, String::as_str)
    }

    fn render(
        &self,
        name: &str,
        lang: Lang,
        ctx: &impl Serialize,
    ) -> Result<String, TemplateError> {
        let template = self.env.get_template(name)?;
        let ctx = minijinja::context! {
            t => self.catalog(lang).1.clone(),
            lang => lang.code(),
            ..Value::from_serialize(ctx)
        };
        Ok(template.render(ctx)?)
    }

    /// Renders `pages/<name>.html`.
    pub fn page(
        &self,
        name: &str,
        lang: Lang,
        ctx: &impl Serialize,
    ) -> Result<String, TemplateError> {
        self.render(&format!("pages/{name}.html"), lang, ctx)
    }

    /// Renders `admin/<name>.html`.
    pub fn admin(
        &self,
        name: &str,
        lang: Lang,
        ctx: &impl Serialize,
    ) -> Result<String, TemplateError> {
        self.render(&format!("admin/{name}.html"), lang, ctx)
    }

    /// Renders `mail/<name>/{subject.txt, body.txt, body.html}`.
    pub fn mail(
        &self,
        name: &str,
        lang: Lang,
        ctx: &impl Serialize,
    ) -> Result<RenderedMail, TemplateError> {
        let subject = self.mail_subject(name, lang, ctx)?;
        let ctx = minijinja::context! { subject => subject.clone(), ..Value::from_serialize(ctx) };
        let (text, html) = self.mail_bodies(name, lang, &ctx)?;
        Ok(RenderedMail {
            subject,
            text,
            html,
        })
    }

    /// Renders `mail/<name>/subject.txt` as one line.
    pub fn mail_subject(
        &self,
        name: &str,
        lang: Lang,
        ctx: &impl Serialize,
    ) -> Result<String, TemplateError> {
        let subject = self.render(&format!("mail/{name}/subject.txt"), lang, ctx)?;
        // A subject is one line; the template's line breaks are not part of it.
        Ok(subject.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// Renders `mail/<name>/<part>.txt` and `<part>.html`, returning the HTML as a safe value
    /// so a template it is passed to does not escape it again.
    pub fn mail_fragment(
        &self,
        name: &str,
        part: &str,
        lang: Lang,
        ctx: &impl Serialize,
    ) -> Result<(Value, Value), TemplateError> {
        let text = self.render(&format!("mail/{name}/{part}.txt"), lang, ctx)?;
        let html = self.render(&format!("mail/{name}/{part}.html"), lang, ctx)?;
        Ok((Value::from(text), Value::from_safe_string(html)))
    }

    /// Renders `mail/<name>/body.txt` with `text_ctx` and `body.html` with `html_ctx`.
    pub fn mail_body_pair(
        &self,
        name: &str,
        lang: Lang,
        text_ctx: &impl Serialize,
        html_ctx: &impl Serialize,
    ) -> Result<(String, String), TemplateError> {
        Ok((
            self.render(&format!("mail/{name}/body.txt"), lang, text_ctx)?,
            self.render(&format!("mail/{name}/body.html"), lang, html_ctx)?,
        ))
    }

    /// Renders `mail/<name>/body.txt` and `body.html` (a digest does this per recipient).
    pub fn mail_bodies(
        &self,
        name: &str,
        lang: Lang,
        ctx: &impl Serialize,
    ) -> Result<(String, String), TemplateError> {
        Ok((
            self.render(&format!("mail/{name}/body.txt"), lang, ctx)?,
            self.render(&format!("mail/{name}/body.html"), lang, ctx)?,
        ))
    }
}

#[cfg(test)]
#[path = "templates_tests.rs"]
mod tests;
