//! The one rule between the layers, kept by reading the sources: an edge (`src/soap`,
//! `src/http`, `src/edge`) never reaches the database layer (no `crate::db`, no `with_db`: its
//! work goes through `crate::app`), and `app` knows no edge and no actix web type. A failure
//! names each offending file and line.

use std::fs;
use std::path::{Path, PathBuf};

const EDGES: [&str; 3] = ["src/soap", "src/http", "src/edge"];
const APP: &str = "src/app";

/// What an edge must not write: the database layer, or database work of its own.
const EDGE_FORBIDDEN: [&str; 3] = ["crate::db", "super::db", ".with_db("];

/// What `app` must not write: an edge, or actix's web types.
const APP_FORBIDDEN: [&str; 10] = [
    "crate::soap",
    "crate::http",
    "crate::edge",
    "crate::state",
    "AppState",
    "actix_web::web",
    "actix_web::{",
    "HttpResponse",
    "HttpRequest",
    "web::Data",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir` (none when `dir` does not exist).
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.expect("a readable directory entry").path();
        if path.is_dir() {
            found.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The code of a file, comments left out, with each line's number.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .map(|(index, line)| {
            // A trailing comment starts at the first `//` outside a string (not a URL's).
            let code = line
                .match_indices("//")
                .map(|(at, _)| at)
                .find(|at| line[..*at].matches('"').count() % 2 == 0)
                .map_or(line, |at| &line[..at]);
            (index + 1, code.to_string())
        })
        .collect()
}

/// `use crate::{...}` groups that name `db` (`use crate::{db, ...}`, `use crate::{db::x, ...}`),
/// which the plain text search would miss; reported at the group's first line.
fn grouped_db_imports(lines: &[(usize, String)]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut group: Option<(usize, String)> = None;
    for (number, code) in lines {
        if group.is_none()
            && let Some(at) = code.find("use crate::{")
        {
            group = Some((*number, String::new()));
            let rest = &code[at + "use crate::{".len()..];
            group.as_mut().expect("just set").1.push_str(rest);
        } else if let Some((_, text)) = group.as_mut() {
            text.push(' ');
            text.push_str(code);
        }
        if let Some((start, text)) = &group
            && text.contains(';')
        {
            let names_db = text
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .any(|token| token == "db" || token.starts_with("db::"));
            if names_db {
                found.push(*start);
            }
            group = None;
        }
    }
    found
}

fn violations(dirs: &[&str], forbidden: &[&str], check_groups: bool) -> (usize, Vec<String>) {
    let root = root();
    let mut files = 0;
    let mut found = Vec::new();
    for dir in dirs {
        for path in rust_files(&root.join(dir)) {
            files += 1;
            let shown = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string();
            let text = fs::read_to_string(&path).expect("a readable source file");
            let lines = code_lines(&text);
            for (number, code) in &lines {
                for word in forbidden {
                    if code.contains(word) {
                        found.push(format!("{shown}:{number}: `{word}` in `{}`", code.trim()));
                    }
                }
            }
            if check_groups {
                for number in grouped_db_imports(&lines) {
                    found.push(format!(
                        "{shown}:{number}: a `use crate::{{..}}` names `db`"
                    ));
                }
            }
        }
    }
    (files, found)
}

#[test]
fn no_edge_reaches_the_database_layer() {
    let (files, found) = violations(&EDGES, &EDGE_FORBIDDEN, true);
    assert!(
        files > 20,
        "only {files} edge files found: did the edges move?"
    );
    assert!(
        found.is_empty(),
        "edges must call crate::app, not the database layer:\n{}",
        found.join("\n")
    );
}

#[test]
fn app_knows_no_edge_and_no_web_type() {
    let (files, found) = violations(&[APP], &APP_FORBIDDEN, false);
    assert!(files >= 5, "only {files} app files found: did app move?");
    assert!(
        found.is_empty(),
        "app must not import an edge or actix's web types:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_checks_see_what_they_look_for() {
    // The readers themselves: a grouped import of db is caught, comments are not code.
    let lines = code_lines(
        "// crate::db in a comment\nuse crate::{\n    auth,\n    db::outbox,\n};\nuse crate::{app, domain};\nlet u = \"http://x\"; // crate::db\n",
    );
    assert!(lines.iter().all(|(_, code)| !code.contains("crate::db")));
    assert_eq!(grouped_db_imports(&lines), vec![2]);
    assert_eq!(
        grouped_db_imports(&code_lines("use crate::{db, error::Error};")),
        vec![1]
    );
    assert!(grouped_db_imports(&code_lines("use crate::{dbx, error::Error};")).is_empty());
}
