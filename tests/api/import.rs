use std::io::Write;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use iscriviti::db::{self, schema::subscribers};
use iscriviti::domain::{ListSlug, SubscriptionStatus};
use iscriviti::subscriptions::{self, ImportEvent, ImportReport, ImportRequest, TransferError};

use crate::helpers::{spawn_app, TestApp};

/// Imports `csv` through the use case; returns the report and the rejected lines as printed.
async fn import(
    app: &TestApp,
    csv: &str,
    list: &str,
    chunk_rows: usize,
) -> Result<(ImportReport, Vec<String>), TransferError> {
    let rejected = Arc::new(Mutex::new(Vec::new()));
    let sink = rejected.clone();
    let request = ImportRequest {
        list: ListSlug::parse(list).unwrap(),
        status: SubscriptionStatus::Confirmed,
        source: "import:test.csv".into(),
        chunk_rows,
        columns: None,
    };
    let input = std::io::Cursor::new(csv.as_bytes().to_vec());
    let report = subscriptions::import(&app.state.pool, input, request, move |event| {
        if let ImportEvent::Rejected { line, reason } = event {
            sink.lock().unwrap().push(format!("line {line}: {reason}"));
        }
    })
    .await?;
    let rejected = rejected.lock().unwrap().clone();
    Ok((report, rejected))
}

/// Exports a list through the use case, `page_rows` at a time, parsed back into records.
async fn export(app: &TestApp, list: &str, page_rows: i64) -> Vec<Vec<String>> {
    #[derive(Clone)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let out = Shared(Arc::new(Mutex::new(Vec::new())));
    let list = ListSlug::parse(list).unwrap();
    subscriptions::export(&app.state.pool, list, None, out.clone(), page_rows)
        .await
        .unwrap();
    let bytes = out.0.lock().unwrap().clone();
    records(&bytes)
}

fn records(csv: &[u8]) -> Vec<Vec<String>> {
    csv::Reader::from_reader(csv)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// Runs the real binary against the app's database.
/// Runs the binary in `dir` against the app's database; it must succeed.
fn cli(app: &TestApp, dir: &std::path::Path, args: &[&str]) -> Output {
    let output = run_cli(app, dir, args);
    assert!(output.status.success(), "{args:?}: {output:?}");
    output
}

fn run_cli(app: &TestApp, dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iscriviti"))
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", app.state.settings.database_url.expose())
        .env("RUST_LOG", "warn")
        .env_remove("ISCRIVITI_CONFIG")
        .output()
        .expect("the binary runs")
}

type SubscriberRow = (
    i64,
    String,
    Option<String>,
    String,
    bool,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
);

async fn all_subscribers(app: &TestApp) -> Vec<SubscriberRow> {
    app.db(|c| {
        subscribers::table
            .select((
                subscribers::id,
                subscribers::email,
                subscribers::name,
                subscribers::language,
                subscribers::blocked,
                subscribers::created_at,
                subscribers::updated_at,
            ))
            .order(subscribers::id)
            .load(c)
    })
    .await
}

async fn subscriber(app: &TestApp, email: &'static str) -> Option<db::subscribers::Subscriber> {
    app.db(move |c| db::subscribers::by_email(c, email)).await
}

#[tokio::test]
async fn the_import_command_reports_bad_rows_by_line_and_imports_the_rest() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let long = "è".repeat(101);
    let csv = format!(
        "Comune,NAME,Email\n\
         Roma,Mario Rossi,Mario.Rossi@Example.org\n\
         Milano,Luigi,luigi@\n\
         \"Napoli\n(centro)\",Anna,anna@example.org\n\
         Torino,Doppione,MARIO.ROSSI@example.org\n\
         Bari,{long},lungo@example.org\n\
         Pisa,\"Tab\there\",tab@example.org\n\
         Lecce,,senzanome@example.org\n\
         ,,\n"
    );
    std::fs::write(dir.path().join("iscritti.csv"), csv).unwrap();

    let out = run_cli(
        &app,
        dir.path(),
        &["import", "iscritti.csv", "--list", "newsletter"],
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "line 3: the e-mail address is not valid: \"luigi@\"",
            "line 6: duplicate of line 2",
            "line 7: the name is too long (at most 100 characters)",
            "line 8: the name contains characters that are not allowed (line breaks or control characters)",
            "line 10: no e-mail address",
            "5 bad rows were skipped (listed above); the other rows were imported",
        ]
    );
    // Done, but not all of it: a script can tell (2) from success (0) and failure (1).
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout.starts_with("8 rows read: 3 imported, 0 already on the list, 0 unsubscribed (left off), 0 suppressed (erased), 0 blocked, 5 bad;"),
        "{stdout}"
    );

    let mario = subscriber(&app, "mario.rossi@example.org").await.unwrap();
    assert_eq!(mario.name.as_deref(), Some("Mario Rossi"));
    assert_eq!(mario.language, "it");
    let subs = app
        .db(move |c| db::subscribers::subscriptions_of(c, mario.id))
        .await;
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].status.as_str(), "confirmed");
    assert_eq!(subs[0].source, "import:iscritti.csv");
    assert!(subs[0].confirmed_at.is_some());
    let anonymous = subscriber(&app, "senzanome@example.org").await.unwrap();
    assert_eq!(anonymous.name, None);
    assert!(subscriber(&app, "lungo@example.org").await.is_none());
    assert_eq!(app.count("subscribers").await, 3);
    assert_eq!(app.count("outbox").await, 0, "an import sends no mail");
}

#[tokio::test]
async fn an_import_never_subscribes_erased_suppressed_unsubscribed_or_blocked_readers() {
    let app = spawn_app().await;
    let (erased, _) = app
        .confirmed_subscriber("cancellata@example.org", "newsletter")
        .await;
    let path = app.path_of(&app.state.links.preferences(erased));
    assert_eq!(
        app.post_form(&format!("{path}/erase"), "").await.status(),
        200
    );
    let hash = app.state.suppression.entry("soppressa@example.org");
    let now = chrono::Utc::now().naive_utc();
    app.db(move |c| db::suppressions::add(c, &hash, "bounced", now))
        .await;
    let (left, list) = app
        .confirmed_subscriber("uscita@example.org", "newsletter")
        .await;
    let path = app.path_of(&app.state.links.unsubscribe(left, list));
    assert_eq!(app.post_form(&path, "").await.status(), 200);
    app.db(move |c| {
        db::subscribers::insert(c, "bloccata@example.org", None, "it", now)?;
        diesel::update(subscribers::table.filter(subscribers::email.eq("bloccata@example.org")))
            .set(subscribers::blocked.eq(true))
            .execute(c)
    })
    .await;
    app.pending_signup("attesa@example.org", "newsletter").await;

    let csv = "email,name\n\
               Cancellata@example.org,Cancellata\n\
               SOPPRESSA@example.org,Soppressa\n\
               uscita@EXAMPLE.org,Uscita\n\
               bloccata@example.org,Bloccata\n\
               attesa@example.org,Altro Nome\n\
               nuova@example.org,Nuova\n";
    let (report, rejected) = import(&app, csv, "newsletter", 1000).await.unwrap();
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(
        report,
        ImportReport {
            read: 6,
            imported: 1,
            already: 1,
            unsubscribed: 1,
            suppressed: 2,
            blocked: 1,
            bad: 0,
        }
    );
    assert!(subscriber(&app, "cancellata@example.org").await.is_none());
    assert!(subscriber(&app, "soppressa@example.org").await.is_none());
    for (email, status) in [
        ("uscita@example.org", Some("unsubscribed")),
        ("bloccata@example.org", None),
        ("attesa@example.org", Some("pending")),
        ("nuova@example.org", Some("confirmed")),
    ] {
        assert_eq!(
            app.status_of(email, "newsletter").await.as_deref(),
            status,
            "{email}"
        );
    }
    let waiting = subscriber(&app, "attesa@example.org").await.unwrap();
    assert_eq!(
        waiting.name.as_deref(),
        Some("Niccolò"),
        "keeps their own name"
    );
}

#[tokio::test]
async fn importing_the_same_file_again_changes_nothing() {
    let app = spawn_app().await;
    let mut csv = String::from("email,name\n");
    for i in 0..25 {
        csv.push_str(&format!("lettore{i}@example.org,Lettore {i}\n"));
    }
    let (first, _) = import(&app, &csv, "newsletter", 4).await.unwrap();
    assert_eq!((first.read, first.imported), (25, 25));
    let before = (
        export(&app, "newsletter", 7).await,
        all_subscribers(&app).await,
    );

    let (again, rejected) = import(&app, &csv, "newsletter", 4).await.unwrap();
    assert!(rejected.is_empty());
    assert_eq!((again.imported, again.already), (0, 25));
    let after = (
        export(&app, "newsletter", 7).await,
        all_subscribers(&app).await,
    );
    assert_eq!(before, after);
}

#[tokio::test]
async fn duplicates_are_found_in_any_letter_case_across_chunks() {
    let app = spawn_app().await;
    let csv = "email\n\
               uno@example.org\n\
               due@example.org\n\
               Uno@Example.org\n\
               tre@example.org\n\
               quattro@example.org\n\
               DUE@example.org\n\
               uno@example.org\n";
    let (report, rejected) = import(&app, csv, "newsletter", 2).await.unwrap();
    assert_eq!(
        rejected,
        [
            "line 4: duplicate of line 2",
            "line 7: duplicate of line 3",
            "line 8: duplicate of line 2",
        ]
    );
    assert_eq!((report.read, report.imported, report.bad), (7, 4, 3));
}

#[tokio::test]
async fn italian_names_and_curly_quotes_come_through_import_and_export_intact() {
    let app = spawn_app().await;
    let names = [
        "Niccolò Dell’Acqua",
        "“Zia” Lucìa Perù",
        "Àlvaro È Éèìòù",
        "Rossi, Mario \"il Grande\"",
    ];
    let mut file = csv::Writer::from_writer(Vec::new());
    file.write_record(["name", "email"]).unwrap();
    for (i, name) in names.iter().enumerate() {
        file.write_record([name.to_string(), format!("nome{i}@example.org")])
            .unwrap();
    }
    let csv = String::from_utf8(file.into_inner().unwrap()).unwrap();
    let (report, _) = import(&app, &csv, "newsletter", 1000).await.unwrap();
    assert_eq!(report.imported, 4);

    let exported = export(&app, "newsletter", 3).await;
    for (i, name) in names.iter().enumerate() {
        let email = format!("nome{i}@example.org");
        let stored = app
            .db(move |c| db::subscribers::by_email(c, &email))
            .await
            .unwrap();
        assert_eq!(stored.name.as_deref(), Some(*name));
        let row = exported.iter().find(|r| r[0] == stored.email).unwrap();
        assert_eq!(row[1], *name);
    }
}

#[tokio::test]
async fn an_exported_list_imported_into_another_list_exports_the_same_subscribers() {
    let app = spawn_app().await;
    app.create_list("economia", "Economia", true, true).await;
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("email,name\n");
    for i in 0..12 {
        csv.push_str(&format!("socio{i}@example.org,\"Socio {i}, “{i}”\"\n"));
    }
    import(&app, &csv, "newsletter", 5).await.unwrap();
    app.pending_signup("attesa@example.org", "newsletter").await;
    let (left, list) = app
        .confirmed_subscriber("uscita@example.org", "newsletter")
        .await;
    let path = app.path_of(&app.state.links.unsubscribe(left, list));
    assert_eq!(app.post_form(&path, "").await.status(), 200);

    let confirmed = cli(
        &app,
        dir.path(),
        &["export", "--list", "newsletter", "--status", "confirmed"],
    );
    assert_eq!(records(&confirmed.stdout).len(), 12);
    let everyone = cli(&app, dir.path(), &["export", "--list", "newsletter"]);
    let first = records(&everyone.stdout);
    assert_eq!(first.len(), 14);
    std::fs::write(dir.path().join("export.csv"), &everyone.stdout).unwrap();
    let out = cli(
        &app,
        dir.path(),
        &["import", "export.csv", "--list", "economia"],
    );
    let summary = String::from_utf8(out.stdout).unwrap();
    assert!(
        summary.starts_with("14 rows read: 13 imported, 0 already on the list, 1 unsubscribed"),
        "a row that says unsubscribed is left off: {summary}"
    );
    let second = records(&cli(&app, dir.path(), &["export", "--list", "economia"]).stdout);

    let key = |rows: &[Vec<String>]| -> Vec<(String, String, String)> {
        rows.iter()
            .filter(|r| r[3] != "unsubscribed")
            .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
            .collect()
    };
    assert_eq!(key(&first), key(&second));
    assert!(second
        .iter()
        .all(|r| r[3] == "confirmed" && r[4] == "import:export.csv"));
}

#[tokio::test]
async fn a_spreadsheet_file_with_semicolons_a_bom_and_crlf_imports() {
    let app = spawn_app().await;
    let csv = "\u{feff}Nome;Name;E-mail;EMAIL\r\nx;Chiara Pàlmieri;;chiara@example.org\r\n";
    let (report, rejected) = import(&app, csv, "newsletter", 1000).await.unwrap();
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(report.imported, 1);
    let chiara = subscriber(&app, "chiara@example.org").await.unwrap();
    assert_eq!(chiara.name.as_deref(), Some("Chiara Pàlmieri"));
}

#[tokio::test]
async fn an_import_without_an_email_column_or_into_an_unknown_list_writes_nothing() {
    let app = spawn_app().await;
    let no_column = import(&app, "mail,name\na@example.org,A\n", "newsletter", 10).await;
    assert!(
        matches!(no_column, Err(TransferError::NoColumn(ref want, ref found)) if want == "email" && found == "\"mail\", \"name\""),
        "{no_column:?}"
    );
    let no_list = import(&app, "email\na@example.org\n", "sconosciuta", 10).await;
    assert!(matches!(no_list, Err(TransferError::UnknownList(_))));
    assert_eq!(app.count("subscribers").await, 0);
}

#[tokio::test]
async fn pending_imports_are_asked_to_confirm_once_in_their_language() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fiera.csv"),
        "email,name\nattesa@example.org,Anna\nbloccato@example.org,\n",
    )
    .unwrap();
    let args = [
        "import",
        "fiera.csv",
        "--list",
        "newsletter",
        "--status",
        "pending",
    ];
    cli(&app, dir.path(), &args);
    // A blocked reader is not mailed; a reader who signed up by the form keeps their link.
    app.db(|c| {
        diesel::update(subscribers::table.filter(subscribers::email.eq("bloccato@example.org")))
            .set(subscribers::blocked.eq(true))
            .execute(c)
    })
    .await;
    app.pending_signup("modulo@example.org", "newsletter").await;

    let slug = || ListSlug::parse("newsletter").unwrap();
    let done = subscriptions::remind_pending(&app.state, slug())
        .await
        .unwrap();
    assert_eq!((done.asked, done.recently, done.blocked), (1, 1, 1));
    app.worker.drain().await.unwrap();
    let mails = app.mails(2).await;
    let mail = &mails[1];
    assert_eq!(mail.rcpt_to, ["attesa@example.org"]);
    assert_eq!(
        mail.parsed().subject(),
        Some("Conferma l’iscrizione: Newsletter")
    );
    assert!(mail.parsed().body_text(0).unwrap().contains("Anna"));

    let path = app.path_of(&crate::helpers::confirm_link(mail));
    assert_eq!(app.confirm(&path).await.status(), 200);
    assert_eq!(
        app.status_of("attesa@example.org", "newsletter")
            .await
            .as_deref(),
        Some("confirmed")
    );

    // Run again: the one left pending (from the form) still has a valid link.
    let again = subscriptions::remind_pending(&app.state, slug())
        .await
        .unwrap();
    assert_eq!((again.asked, again.recently, again.blocked), (0, 1, 1));
    app.worker.drain().await.unwrap();
    assert_eq!(app.smtp.received().len(), 2, "nobody is mailed twice");
}
