//! The command line as a cron job or an operator uses it: exit codes and error messages.

use std::process::{Command, Output};

use crate::helpers::TestDb;

fn iscriviti(db_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iscriviti"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .env_remove("ISCRIVITI_CONFIG")
        .output()
        .expect("the binary runs")
}

/// A command that did its work exits 0, every time: no connection may still be opening when
/// the process exits (on PostgreSQL that crashed in OpenSSL's exit handler, 12 runs in 70).
#[test]
fn a_command_exits_0_after_success_every_time() {
    let db = TestDb::create();
    let migrated = iscriviti(&db.url, &["migrate"]);
    assert!(migrated.status.success(), "{migrated:?}");
    let mut failures = Vec::new();
    for i in 0..50 {
        let args: &[&str] = if i % 2 == 0 {
            &["list", "ls"]
        } else {
            &["subscriber", "ls"]
        };
        let out = iscriviti(&db.url, args);
        if !out.status.success() {
            failures.push(format!("run {i} {args:?}: {:?}", out.status));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Each cause is printed once, in order, after `error:`.
#[test]
fn errors_print_each_cause_once() {
    let out = iscriviti("postgres://nobody@127.0.0.1:1/x", &["list", "ls"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: opening the database: could not open a database connection:"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("Connection refused").count(), 1, "{stderr}");

    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, b"bind = \n").unwrap();
    let config = file.path().to_str().unwrap();
    let out = iscriviti("sqlite://unused.db", &["--config", config, "list", "ls"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: the configuration file"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("TOML parse error").count(), 1, "{stderr}");
}
