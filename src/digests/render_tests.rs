//! The copy built from parts formatted once must read exactly like the one built per reader.

use chrono::NaiveDate;
use mail_parser::{HeaderValue, MessageParser};

use super::*;
use crate::db::articles::Article;

fn list(reply_to: Option<&str>) -> lists::List {
    let created_at = NaiveDate::from_ymd_opt(2026, 11, 1)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    lists::List {
        id: 7,
        slug: "settimanale".into(),
        name: "Il Settimanale".into(),
        description: String::new(),
        public: true,
        double_opt_in: true,
        language: "it".into(),
        from_name: "Redazione “Money”".into(),
        from_address: "redazione@example.org".into(),
        reply_to: reply_to.map(Into::into),
        archived: false,
        created_at,
        public_archive: false,
    }
}

fn article(id: i64, summary: &str) -> Article {
    let at = NaiveDate::from_ymd_opt(2020, 6, 6)
        .unwrap()
        .and_hms_opt(9, 30, 0)
        .unwrap();
    Article {
        id,
        list_id: Some(7),
        guid: format!("g{id}"),
        title: "Slack collabora con Amazon e mira a vincere la battaglia contro Microsoft".into(),
        url: format!("https://www.money.it/slack-amazon-{id}?a=1&b=2"),
        author: Some("Marco Ciotola".into()),
        summary: summary.into(),
        language: "it".into(),
        image_url: (id == 1).then(|| "https://img.example/x.jpg".into()),
        published_at: at,
        created_at: at,
        feed_id: None,
        image_alt: if id == 1 {
            "Il logo di Slack su uno schermo".into()
        } else {
            String::new()
        },
    }
}

fn links() -> Links {
    Links::new("https://news.example.org/".parse().unwrap(), vec![7; 32])
}

fn prepare(options: &MailOptions, list: &lists::List, articles: &[Article]) -> PreparedDigest {
    let draft = Draft {
        digest_id: 3,
        subject: "Le notizie della settimana: più “lavoro” da remoto",
        intro: "Buongiorno, **care lettrici**: <b>novità</b> e [il sito](https://example.org/?a=1&b=2).",
        list,
        articles,
    };
    PreparedDigest::new(&Templates::load().unwrap(), &links(), options, &draft).unwrap()
}

fn compose_both(prepared: PreparedDigest, to: &RecipientView<'_>) -> (String, String) {
    let templates = Templates::load().unwrap();
    // The buffer of an earlier copy, as the engine hands it back: nothing of it may remain.
    let stale = "To: someone-else@example.org\r\n".repeat(400);
    let bulk = prepared
        .compose_in(&templates, &links(), to, stale)
        .unwrap()
        .content;
    let general = PreparedDigest {
        bulk: None,
        ..prepared
    };
    let one_by_one = general.compose(&templates, &links(), to).unwrap().content;
    (bulk, one_by_one)
}

/// Every header and both bodies, decoded, in a comparable form (Date aside).
fn reading(raw: &str) -> Vec<(String, String)> {
    let message = MessageParser::default().parse(raw.as_bytes()).unwrap();
    let mut fields: Vec<(String, String)> = message
        .headers()
        .iter()
        .filter(|h| !matches!(h.name(), "Date" | "Content-Type"))
        .map(|h| {
            let value = match h.value() {
                HeaderValue::Text(t) => t.to_string(),
                other => format!("{other:?}"),
            };
            (h.name().to_owned(), value)
        })
        .collect();
    fields.sort();
    fields.push(("date".into(), format!("{:?}", message.date().is_some())));
    // Bodies up to a final line break: lettre's quoted-printable drops the one an 8bit body
    // keeps; the bulk copy keeps it in both encodings.
    let body = |b: std::borrow::Cow<'_, str>| b.trim_end_matches("\r\n").to_owned();
    fields.push(("text".into(), body(message.body_text(0).unwrap())));
    fields.push(("html".into(), body(message.body_html(0).unwrap())));
    fields
}

#[test]
fn the_bulk_copy_reads_like_the_one_built_per_reader() {
    let summary = "Slack sta collaborando con Amazon, nel tentativo di diventare il più \
        utilizzato strumento di comunicazione da remoto sul lavoro, spodestando così Microsoft. \
        Un impegno “che è entrato nel vivo” nel corso della pandemia; l’accordo vale 5 miliardi.";
    // A summary of one 1,500-octet paragraph: its line is too long for 8bit, so that part goes
    // quoted-printable on both paths.
    let paragraph = summary.repeat(5);
    let with_mailto = MailOptions {
        unsubscribe_mailto: Some("unsubscribe@example.org".into()),
        ..MailOptions::default()
    };
    for (options, reply_to, articles) in [
        (
            MailOptions::default(),
            None,
            [article(1, summary), article(2, "")],
        ),
        (
            with_mailto,
            Some("Lettere <lettere@example.org>"),
            [article(1, summary), article(2, &paragraph)],
        ),
    ] {
        for name in [
            None,
            Some(""),
            Some("Zoë"),
            Some("<b>Ann</b> & \"Bo\" O'Neil/x"),
        ] {
            let list = list(reply_to);
            let prepared = prepare(&options, &list, &articles);
            assert!(
                prepared.bulk.is_some(),
                "the shipped templates take the bulk path"
            );
            let to = RecipientView {
                subscriber_id: 41,
                email: "lettore@example.com",
                name,
                message_id: Some("<d3.41@news.example.org>"),
            };
            let (bulk, general) = compose_both(prepared, &to);
            assert_eq!(reading(&bulk), reading(&general), "name {name:?}");
            let text = bulk;
            let long = articles[1].summary.len() > 998;
            assert!(text.contains("\r\nContent-Transfer-Encoding: 8bit\r\n") != long);
            assert!(text.contains("\r\nContent-Transfer-Encoding: quoted-printable\r\n") == long);
            for line in text.split("\r\n") {
                assert!(!line.contains('\n') && line.len() <= 998, "{line:?}");
            }
        }
    }
}

#[test]
fn readers_the_parts_do_not_fit_get_the_general_composer() {
    let articles = [article(1, "x")];
    let list = list(None);
    let long_name = "n".repeat(100);
    for (email, name) in [
        ("lettóre@example.com", None),
        ("a@example.com", Some(long_name.as_str())),
        ("b@example.com", Some("two\nlines")),
    ] {
        let prepared = prepare(&MailOptions::default(), &list, &articles);
        let boundary = prepared
            .bulk
            .as_ref()
            .unwrap()
            .letterhead
            .boundary()
            .to_owned();
        let name = name.map(|n| match n.contains('\n') {
            true => n.to_owned(),
            false => format!("{n}{boundary}"),
        });
        let to = RecipientView {
            subscriber_id: 1,
            email,
            name: name.as_deref().filter(|_| email.is_ascii()),
            message_id: None,
        };
        let links = links();
        let unsubscribe = links.unsubscribe(1, 7);
        let list_unsubscribe = format!("<{unsubscribe}>");
        assert!(prepared
            .compose_bulk(&links, &to, &unsubscribe, &list_unsubscribe, String::new())
            .is_none());
        let mail = prepared
            .compose(&Templates::load().unwrap(), &links, &to)
            .unwrap();
        let parsed = MessageParser::default()
            .parse(mail.content.as_bytes())
            .unwrap();
        assert!(parsed
            .body_text(0)
            .unwrap()
            .contains("https://news.example.org/unsubscribe/"));
    }
}

#[test]
fn the_introduction_is_markdown_and_the_image_has_its_alt_text() {
    let list = list(None);
    let prepared = prepare(&MailOptions::default(), &list, &[article(1, "Riassunto")]);
    let to = RecipientView {
        subscriber_id: 41,
        email: "lettore@example.com",
        name: Some("Zoë"),
        message_id: None,
    };
    let (text, html) = prepared
        .bodies(&Templates::load().unwrap(), &links(), &to)
        .unwrap();
    assert!(html.contains("<strong>care lettrici</strong>"), "{html}");
    assert!(
        html.contains("&lt;b&gt;novità&lt;/b&gt;"),
        "raw HTML is text: {html}"
    );
    assert!(
        html.contains(r#"alt="Il logo di Slack su uno schermo""#),
        "{html}"
    );
    assert!(
        text.contains("Buongiorno, **care lettrici**: <b>novità</b> e [il sito]"),
        "the text part keeps the Markdown as written: {text}"
    );
}
