//! The rules between the layers, kept by reading the sources:
//! - an edge (`src/soap`, `src/http`, `src/edge`) never reaches the database layer (no
//!   `crate::db`, no `with_db`: its work goes through `crate::app`);
//! - nor does anything else outside `src/app` and `src/db`: workers, the CLI, startup and the
//!   feature modules call use cases too (see [`OUTSIDE_APP_MAY_NAME_DB`] for the exceptions);
//! - `app` knows no edge and no actix web type;
//! - `db` imports only the domain and the leaves, never `app`, an edge, a feature module or the
//!   configuration; `domain` imports only itself, `error` and the `crypto` leaf; the leaves
//!   (`crypto`, `seed`, `database.rs`) import nothing of ours.
//!
//! - a write transaction is opened through `db::tx`, which runs it again after a conflict (a
//!   deadlock, a Galera certification failure at COMMIT...): only `db/tx.rs` and
//!   `db/dialect.rs` open one directly (see [`MAY_OPEN_TRANSACTIONS`] for the other exceptions).
//!
//! A failure names each offending file and line.

use std::fs;
use std::path::{Path, PathBuf};

const EDGES: [&str; 3] = ["src/soap", "src/http", "src/edge"];
const APP: &str = "src/app";

/// What an edge must not write: the database layer, or database work of its own.
const EDGE_FORBIDDEN: [&str; 3] = ["crate::db", "super::db", ".with_db("];

/// What `app` must not write: an edge, or actix's web types.
const APP_FORBIDDEN: [&str; 13] = [
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
    // Queries are written in db, beside their tables: app orchestrates, it writes no SQL.
    "db::schema",
    "diesel::prelude",
    "diesel::dsl",
];

/// Files outside `src/app` and `src/db` that may still name the database layer, each with the
/// reason. None is left: the workers, the CLI, startup and the feature modules call `app`.
const OUTSIDE_APP_MAY_NAME_DB: &[(&str, &str)] = &[];

/// The modules of the crate (`crate::<name>`) that files under a directory may name.
const DB_MAY_NAME: [&str; 7] = [
    "db",
    "domain",
    "error",
    "telemetry",
    "crypto",
    "seed",
    "database",
];
const DOMAIN_MAY_NAME: [&str; 3] = ["domain", "error", "crypto"];
const LEAVES: [&str; 3] = ["src/crypto", "src/seed", "src/database.rs"];

/// What opens a transaction without the retry of `db::tx` (`write_transaction(` also matches
/// `flat_write_transaction(`).
const TRANSACTION_OPENERS: [&str; 2] = ["write_transaction(", ".transaction("];

/// Files that may open a transaction directly, with what and why.
const MAY_OPEN_TRANSACTIONS: &[(&str, &str, &str)] = &[
    ("src/db/tx.rs", "", "the retrying helpers themselves"),
    ("src/db/dialect.rs", "", "the transactions the helpers open"),
    (
        "src/db/master/rows.rs",
        ".transaction(",
        "a savepoint per master-data row, inside the push's retried transaction",
    ),
    (
        "src/db/results.rs",
        ".transaction(",
        "read_contents: a read-only transaction, for one consistent view of a batch",
    ),
];

/// The lines of `files` (path from the crate's root, text) that open a transaction, but for
/// the exceptions in `allowed`.
fn direct_transactions(files: &[(String, String)], allowed: &[(&str, &str, &str)]) -> Vec<String> {
    let mut found = Vec::new();
    for (shown, text) in files {
        for (number, code) in code_lines(text) {
            for word in TRANSACTION_OPENERS {
                let excused = allowed
                    .iter()
                    .any(|(file, what, _)| file == shown && (what.is_empty() || *what == word));
                if code.contains(word) && !excused {
                    found.push(format!("{shown}:{number}: `{word}` in `{}`", code.trim()));
                }
            }
        }
    }
    found
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, or `dir` itself when it is a file (none when it does not
/// exist).
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    if dir.is_file() {
        return vec![dir.to_path_buf()];
    }
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

/// The crate's modules a file names (`crate::x::..`, `use crate::{x, y::z}`), each with its
/// line: the first segment of every path that starts at `crate::`.
fn crate_modules_named(lines: &[(usize, String)]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    // An open `crate::{` group: its line, its text so far and its brace depth.
    let mut group: Option<(usize, String, i32)> = None;
    for (number, code) in lines {
        let mut rest = code.as_str();
        if let Some((start, text, depth)) = group.as_mut() {
            for c in rest.chars() {
                match c {
                    '{' => *depth += 1,
                    '}' => *depth -= 1,
                    _ => {}
                }
                if *depth == 0 {
                    break;
                }
                text.push(c);
            }
            text.push(' ');
            if *depth > 0 {
                continue;
            }
            found.extend(group_items(text).into_iter().map(|m| (*start, m)));
            group = None;
            rest = rest.split_once('}').map_or("", |(_, after)| after);
        }
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            if let Some(inner) = rest.strip_prefix('{') {
                let mut depth = 1;
                let mut text = String::new();
                let mut consumed = inner.len();
                for (i, c) in inner.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        consumed = i + 1;
                        break;
                    }
                    text.push(c);
                }
                if depth > 0 {
                    group = Some((*number, text, depth));
                    break;
                }
                found.extend(group_items(&text).into_iter().map(|m| (*number, m)));
                rest = &inner[consumed..];
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push((*number, name));
                }
            }
        }
    }
    found
}

/// The first segment of each top-level item of a `{..}` use group.
fn group_items(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in text.chars().chain([',']) {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                let first: String = current
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !first.is_empty() {
                    items.push(first);
                }
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items
}

/// Files under `dirs` that name a module of the crate not in `allowed`.
fn foreign_modules(dirs: &[&str], allowed: &[&str]) -> (usize, Vec<String>) {
    let root = root();
    let mut files = 0;
    let mut found = Vec::new();
    for dir in dirs {
        for path in rust_files(&root.join(dir)) {
            files += 1;
            let shown = shown(&root, &path);
            let text = fs::read_to_string(&path).expect("a readable source file");
            for (number, module) in crate_modules_named(&code_lines(&text)) {
                if !allowed.contains(&module.as_str()) {
                    found.push(format!("{shown}:{number}: names `crate::{module}`"));
                }
            }
        }
    }
    (files, found)
}

fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every source file but those under `src/app` and `src/db`, as paths from the crate's root.
fn outside_app_and_db() -> Vec<String> {
    let root = root();
    rust_files(&root.join("src"))
        .iter()
        .map(|path| shown(&root, path))
        .filter(|shown| !shown.starts_with("src/app/") && !shown.starts_with("src/db/"))
        .collect()
}

fn violations(dirs: &[&str], forbidden: &[&str], check_groups: bool) -> (usize, Vec<String>) {
    let root = root();
    let mut files = 0;
    let mut found = Vec::new();
    for dir in dirs {
        for path in rust_files(&root.join(dir)) {
            files += 1;
            let shown = shown(&root, &path);
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
fn nothing_outside_app_and_db_reaches_the_database_layer() {
    let files = outside_app_and_db();
    assert!(
        files.iter().any(|f| f == "src/cli.rs")
            && files.iter().any(|f| f.starts_with("src/workers/")),
        "the CLI and the workers should be among the files checked: {files:?}"
    );
    let checked: Vec<&str> = files
        .iter()
        .map(String::as_str)
        .filter(|f| {
            !OUTSIDE_APP_MAY_NAME_DB
                .iter()
                .any(|(allowed, _)| allowed == f)
        })
        .collect();
    let (_, found) = violations(&checked, &EDGE_FORBIDDEN, true);
    assert!(
        found.is_empty(),
        "workers, the CLI, startup and feature modules must call crate::app, not the database \
         layer (move the work into a use case):\n{}",
        found.join("\n")
    );
    for (allowed, _) in OUTSIDE_APP_MAY_NAME_DB {
        let (_, still) = violations(&[allowed], &EDGE_FORBIDDEN, true);
        assert!(
            !still.is_empty(),
            "{allowed} no longer names the database layer: take it out of OUTSIDE_APP_MAY_NAME_DB"
        );
    }
}

#[test]
fn db_imports_only_the_domain_and_the_leaves() {
    let (files, found) = foreign_modules(&["src/db"], &DB_MAY_NAME);
    assert!(files > 20, "only {files} db files found: did db move?");
    assert!(
        found.is_empty(),
        "db may name only {DB_MAY_NAME:?} (pass plain values instead of feature types):\n{}",
        found.join("\n")
    );
}

#[test]
fn domain_and_the_leaves_import_nothing_above_them() {
    let (files, found) = foreign_modules(&["src/domain"], &DOMAIN_MAY_NAME);
    assert!(
        files > 5,
        "only {files} domain files found: did domain move?"
    );
    assert!(
        found.is_empty(),
        "domain may name only {DOMAIN_MAY_NAME:?}:\n{}",
        found.join("\n")
    );
    for leaf in LEAVES {
        let own = leaf.trim_start_matches("src/").trim_end_matches(".rs");
        let (files, found) = foreign_modules(&[leaf], &[own, "error"]);
        assert!(files >= 1, "{leaf} not found: did it move?");
        assert!(
            found.is_empty(),
            "{leaf} is a leaf: it names nothing of ours:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn app_knows_no_edge_and_no_web_type() {
    let (files, found) = violations(&[APP], &APP_FORBIDDEN, false);
    assert!(files >= 5, "only {files} app files found: did app move?");
    assert!(
        found.is_empty(),
        "app must not import an edge or actix's web types, nor write queries:\n{}",
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
    // Every module a path or a group names, through nested groups and across lines.
    let named = crate_modules_named(&code_lines(
        "use crate::{\n    app::{self, clients},\n    config::Config,\n};\nlet x = crate::db::f(); // crate::memo\nuse crate::{error::Error, domain};\nlet y = dollar$crate::z;\n",
    ));
    assert_eq!(
        named,
        vec![
            (1, "app".to_string()),
            (1, "config".to_string()),
            (5, "db".to_string()),
            (6, "error".to_string()),
            (6, "domain".to_string()),
        ]
    );
}

#[test]
fn write_transactions_are_opened_through_db_tx() {
    let root = root();
    let files: Vec<(String, String)> = rust_files(&root.join("src"))
        .iter()
        .map(|path| {
            let text = fs::read_to_string(path).expect("a readable source file");
            (shown(&root, path), text)
        })
        .collect();
    assert!(files.len() > 100, "only {} source files found", files.len());
    let found = direct_transactions(&files, MAY_OPEN_TRANSACTIONS);
    assert!(
        found.is_empty(),
        "open write transactions with db::tx (tx::write, tx::retrying...), which run them again \
         after a conflict, or justify the exception in MAY_OPEN_TRANSACTIONS:\n{}",
        found.join("\n")
    );
    // An exception that no longer opens anything is stale.
    for (file, what, _) in MAY_OPEN_TRANSACTIONS {
        let (_, text) = files
            .iter()
            .find(|(shown, _)| shown == file)
            .unwrap_or_else(|| panic!("{file} is gone: drop its exception"));
        let opens = code_lines(text).iter().any(|(_, code)| {
            TRANSACTION_OPENERS
                .iter()
                .any(|word| (what.is_empty() || what == word) && code.contains(word))
        });
        assert!(opens, "{file} opens no transaction: drop its exception");
    }
}

#[test]
fn the_transaction_check_sees_direct_transactions_and_only_those() {
    let file = |name: &str, text: &str| (name.to_string(), text.to_string());
    let files = [
        file(
            "src/app/x.rs",
            "/// see [`dialect::write_transaction`]\nlet a = dialect::write_transaction(conn, |c| f(c));\n",
        ),
        file(
            "src/db/y.rs",
            "dialect::flat_write_transaction(conn, w)?; // tx::write\nconn.transaction(|c| g(c))\n",
        ),
        file("src/db/z.rs", "tx::write(conn, |c| h(c))\n"),
        file(
            "src/db/tx.rs",
            "dialect::write_transaction(conn, &mut work)\n",
        ),
    ];
    assert_eq!(
        direct_transactions(&files, &[("src/db/tx.rs", "", "")]),
        vec![
            "src/app/x.rs:2: `write_transaction(` in `let a = dialect::write_transaction(conn, |c| f(c));`",
            "src/db/y.rs:1: `write_transaction(` in `dialect::flat_write_transaction(conn, w)?;`",
            "src/db/y.rs:2: `.transaction(` in `conn.transaction(|c| g(c))`",
        ]
    );
    // An exception for one opener does not excuse the other.
    assert_eq!(
        direct_transactions(&files[1..2], &[("src/db/y.rs", ".transaction(", "")]).len(),
        1
    );
}
