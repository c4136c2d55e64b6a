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
    "mail/base.html",
    "mail/confirm/subject.txt",
    "mail/confirm/body.txt",
    "mail/confirm/body.html",
    "mail/digest/subject.txt",
    "mail/digest/body.txt",
    "mail/digest/body.html",
    "mail/digest/articles.txt",
    "mail/digest/articles.html",
);

const CATALOGS: &[(Lang, &str)] = &[
    (Lang::It, include_str!("../templates/i18n/it.toml")),
    (Lang::En, include_str!("../templates/i18n/en.toml")),
];

/// Why templates could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template error: {0:#}")]
    Render(#[from] minijinja::Error),
    #[error("message catalogue {lang}: {reason}")]
    Catalog { lang: &'static str, reason: String },
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
        for (name, source) in FILES {
            env.add_template(name, source)?;
        }
        let mut catalogs = Vec::new();
        for (lang, source) in CATALOGS {
            let map: BTreeMap<String, String> =
                toml::from_str(source).map_err(|e| TemplateError::Catalog {
                    lang: lang.code(),
                    reason: e.to_string(),
                })?;
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
mod tests {
    use super::*;

    #[test]
    fn templates_and_catalogues_load_and_escape_html() {
        let t = Templates::load().unwrap();
        let html = t
            .page(
                "message",
                Lang::En,
                &minijinja::context! { title => "<b>x</b>", message => "a & b" },
            )
            .unwrap();
        assert!(html.contains("&lt;b&gt;x") && !html.contains("<b>"));
        assert!(html.contains("a &amp; b"));
        assert_eq!(t.t(Lang::It, "signup_button"), "Iscriviti");
    }
}
