//! The layers stay layers: what use cases and the layers below them are made of never imports
//! the web layer, the command line or the code that assembles them.

use std::path::{Path, PathBuf};

/// Modules below `routes`, `cli` and `startup`.
const LOWER: &[&str] = &[
    "app",
    "config",
    "db",
    "delivery",
    "digests",
    "domain",
    "feeds",
    "links",
    "outbound",
    "mail",
    "ratelimit",
    "staff",
    "subscriptions",
    "telemetry",
    "templates",
];
const UPPER: &[&str] = &["startup", "routes", "cli"];

fn rust_files(at: &Path, out: &mut Vec<PathBuf>) {
    if at.is_dir() {
        for entry in std::fs::read_dir(at).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if at.is_file() && at.extension().is_some_and(|e| e == "rs") {
        out.push(at.to_owned());
    }
}

/// The upper modules a source file names through `crate::`, in a path or a `use` group.
fn upper_imports(source: &str) -> Vec<&'static str> {
    // The first identifier after each `crate::`, and every identifier of a `crate::{...}`.
    let mut named: Vec<&str> = Vec::new();
    for rest in source.split("crate::").skip(1) {
        let text = match rest.strip_prefix('{') {
            Some(group) => group.split('}').next().unwrap_or_default(),
            None => rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap_or_default(),
        };
        named.extend(text.split(|c: char| !(c.is_alphanumeric() || c == '_')));
    }
    UPPER
        .iter()
        .copied()
        .filter(|u| named.contains(u))
        .collect()
}

#[test]
fn no_lower_module_imports_startup_routes_or_cli() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for module in LOWER {
        rust_files(&src.join(module), &mut files);
        rust_files(&src.join(format!("{module}.rs")), &mut files);
    }
    assert!(files.len() > 40, "the lower modules were found: {files:?}");
    let offending: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let found = upper_imports(&std::fs::read_to_string(f).unwrap());
            (!found.is_empty()).then(|| format!("{} imports {found:?}", f.display()))
        })
        .collect();
    assert!(offending.is_empty(), "{}", offending.join("\n"));
}

#[test]
fn the_import_check_sees_both_forms_of_import() {
    assert_eq!(upper_imports("use crate::startup::AppState;"), ["startup"]);
    assert_eq!(upper_imports("use crate::{db, routes::X};"), ["routes"]);
    assert!(upper_imports("use crate::{db, mail};").is_empty());
    assert!(upper_imports("use crate::clipboard;").is_empty());
}
