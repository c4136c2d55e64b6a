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

/// `iscriviti` with a password on standard input (and none in the environment).
fn with_stdin(db_url: &str, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_iscriviti"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .env_remove("ISCRIVITI_CONFIG")
        .env_remove("ISCRIVITI_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Staff accounts from the shell: the password never on the command line, each mistake a
/// clear message and a non-zero exit that changes nothing, and the last admin kept.
#[test]
fn staff_accounts_are_managed_from_the_shell() {
    let db = TestDb::create();
    assert!(iscriviti(&db.url, &["migrate"]).status.success());
    let create = |email: &str, role: &str, password: &str| {
        with_stdin(
            &db.url,
            &["user", "create", email, "--role", role, "--language", "en"],
            &format!("{password}\n"),
        )
    };

    let out = create("capo@example.org", "admin", "correct horse battery staple");
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out)
        .0
        .contains("created admin account capo@example.org"));

    // From the environment, as a provisioning script does.
    let out = Command::new(env!("CARGO_BIN_EXE_iscriviti"))
        .args([
            "user",
            "create",
            "redazione@example.org",
            "--role",
            "editor",
        ])
        .env("DATABASE_URL", &db.url)
        .env("ISCRIVITI_PASSWORD", "una password lunga abbastanza")
        .env_remove("ISCRIVITI_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    for (email, role, password, says) in [
        ("corto@example.org", "admin", "short", "12"),
        (
            "ruolo@example.org",
            "owner",
            "correct horse battery staple",
            "editor",
        ),
        (
            "not-an-address",
            "admin",
            "correct horse battery staple",
            "address",
        ),
        (
            "capo@example.org",
            "editor",
            "correct horse battery staple",
            "already",
        ),
    ] {
        let out = create(email, role, password);
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{email} {role}: {err}");
        assert!(err.contains(says), "{email} {role}: {err}");
    }

    let out = iscriviti(&db.url, &["user", "ls"]);
    let (listing, _) = text(&out);
    assert!(out.status.success());
    assert_eq!(
        listing.lines().count(),
        3,
        "a header and two accounts: {listing}"
    );
    assert!(listing.contains("redazione@example.org") && listing.contains("editor"));

    // The last admin cannot be disabled; an editor can, and enabled again.
    let out = iscriviti(&db.url, &["user", "disable", "capo@example.org"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("admin"), "{}", text(&out).1);
    for verb in ["disable", "enable", "disable"] {
        let out = iscriviti(&db.url, &["user", verb, "redazione@example.org"]);
        assert!(out.status.success(), "{verb}: {out:?}");
    }
    let (listing, _) = text(&iscriviti(&db.url, &["user", "ls"]));
    assert!(listing.contains("disabled"), "{listing}");
    let out = iscriviti(&db.url, &["user", "disable", "nessuno@example.org"]);
    assert_eq!(out.status.code(), Some(1));

    let out = with_stdin(
        &db.url,
        &["user", "reset-password", "capo@example.org"],
        "a brand new passphrase\n",
    );
    assert!(out.status.success(), "{out:?}");
    let out = with_stdin(
        &db.url,
        &["user", "reset-password", "capo@example.org"],
        "tiny\n",
    );
    assert_eq!(out.status.code(), Some(1));
}
