//! No import cycle between the crate's source files.
//!
//! A file depends on another when it names an item that lives there: `use crate::..`,
//! `use super::..`, a path in code (`crate::db::tx::retry(..)`, `dialect::upsert(..)` through a
//! `use`, a child module `foo::bar`), or an attribute (`#[diesel(table_name = ..)]`). A `pub use`
//! re-export is followed to the file that defines the item, so a parent `mod.rs` that only
//! re-exports does not tie its children together; declaring a child (`mod foo;`) is not a
//! dependency. The graph's strongly connected components must all be single files: a cycle is
//! reported with the path that closes it and the line in each file that makes each step.
//!
//! This reads the source as text (comments and string literals removed), which is all that
//! module paths need; it knows nothing of macros beyond `$crate`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Cycles left to another branch, each with the files it ties (exactly). An entry whose cycle
/// is gone fails the test too, so that it is taken out.
const LEFT_TO_OTHER_BRANCHES: &[&[&str]] = &[];

#[test]
fn no_source_file_takes_part_in_an_import_cycle() {
    let graph = Graph::of_crate(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    // The reading sees real dependencies, through re-exports and `use` aliases alike.
    for (from, to) in [
        ("db/tx.rs", "db/dialect.rs"),
        ("db/dialect.rs", "db/connection.rs"),
        ("db/outbox/claim.rs", "db/tx.rs"),
        ("state.rs", "metrics.rs"),
        ("messaging/twilio.rs", "messaging/delivery.rs"),
        ("messaging/provider.rs", "messaging/twilio.rs"),
    ] {
        assert!(
            graph.edges.get(from).is_some_and(|e| e.contains_key(to)),
            "{from} should be seen to use {to}"
        );
    }
    let components = graph.components();
    let unexpected: Vec<String> = components
        .iter()
        .filter(|c| {
            !LEFT_TO_OTHER_BRANCHES
                .iter()
                .any(|known| same_files(known, c))
        })
        .map(|c| graph.describe(c))
        .collect();
    assert!(
        unexpected.is_empty(),
        "import cycles between source files (each line: file -> file it uses, at line):\n{}",
        unexpected.join("\n\n")
    );
    for known in LEFT_TO_OTHER_BRANCHES {
        assert!(
            components.iter().any(|c| same_files(known, c)),
            "the cycle {known:?} is gone (or changed): take it out of LEFT_TO_OTHER_BRANCHES"
        );
    }
}

fn same_files(known: &[&str], component: &BTreeSet<String>) -> bool {
    known.len() == component.len() && known.iter().all(|f| component.contains(*f))
}

/// The checker itself: a planted cycle is found, a re-export through a parent is followed, and
/// a child declaration or a test module's `use super::*` is not a dependency.
#[test]
fn the_checker_finds_a_planted_cycle_and_only_that() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |path: &str, text: &str| {
        let path = src.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod db;\npub mod app;\n");
    write(
        "db/mod.rs",
        "pub mod conn;\npub mod a;\npub mod b;\npub mod c;\npub use conn::Conn;\n\
         pub fn open() -> Conn { conn::make() }\n",
    );
    // A unit test module may use anything: it is not part of the program.
    write(
        "db/conn.rs",
        "pub struct Conn;\npub fn make() -> Conn { Conn }\n\
         #[cfg(test)]\nmod tests {\n    use crate::app::run;\n    fn t() { run(); crate::app::run() }\n}\n",
    );
    // a -> b -> c -> a, each a different way of naming a path.
    write(
        "db/a.rs",
        "use crate::db::Conn; // through the parent's re-export: not a use of db/mod.rs\n\
         use super::b;\npub fn f(_: Conn) { b::g() }\n\
         #[cfg(test)]\nmod tests { use super::*; }\n",
    );
    write("db/b.rs", "pub fn g() { crate::db::c::h() }\n");
    write(
        "db/c.rs",
        "/* crate::app::nothing */ const S: &str = \"crate::app::x\";\n\
         pub fn h() { let _ = S; super::a::f(crate::db::open()) }\n",
    );
    write(
        "app/mod.rs",
        "use crate::db;\npub fn run() { db::open(); }\n",
    );

    let cycles = Graph::of_crate(src.to_path_buf()).cycles();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    let cycle = &cycles[0];
    for file in ["db/a.rs", "db/b.rs", "db/c.rs"] {
        assert!(cycle.contains(file), "{cycle}");
    }
    for file in ["db/mod.rs", "db/conn.rs", "app/mod.rs", "lib.rs"] {
        assert!(!cycle.contains(file), "{cycle}");
    }

    // Cutting one edge opens it.
    write("db/c.rs", "pub fn h() {}\n");
    assert!(Graph::of_crate(src.to_path_buf()).cycles().is_empty());
}

type ModPath = Vec<String>;

#[derive(Default)]
struct Graph {
    /// Module path (file modules and inline ones) -> the file (relative to src/) it lives in.
    modules: BTreeMap<ModPath, String>,
    /// Per module: name -> path that a `pub use` re-exports under that name.
    reexports: HashMap<ModPath, HashMap<String, ModPath>>,
    /// file -> file it depends on -> first line that does.
    edges: BTreeMap<String, BTreeMap<String, usize>>,
}

impl Graph {
    fn of_crate(src: PathBuf) -> Graph {
        let mut files = Vec::new();
        collect_rs(&src, &mut files);
        files.sort();
        let mut graph = Graph::default();
        let mut parsed = Vec::new();
        for path in files {
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let Some(module) = module_of_file(&rel) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).unwrap();
            let tokens = tokenize(&text);
            let items = scan(&module, &tokens);
            graph.modules.insert(module.clone(), rel.clone());
            for inline in &items.inline_modules {
                graph.modules.insert(inline.clone(), rel.clone());
            }
            parsed.push((rel, items));
        }
        for (_, items) in &parsed {
            for (scope, name, target) in &items.reexports {
                graph
                    .reexports
                    .entry(scope.clone())
                    .or_default()
                    .insert(name.clone(), target.clone());
            }
        }
        for (rel, items) in &parsed {
            for (path, line) in &items.paths {
                if let Some(target) = graph.resolve(path, 0)
                    && &target != rel
                {
                    graph
                        .edges
                        .entry(rel.clone())
                        .or_default()
                        .entry(target)
                        .or_insert(*line);
                }
            }
        }
        graph
    }

    /// The file that defines what `path` names, following re-exports.
    fn resolve(&self, path: &[String], depth: usize) -> Option<String> {
        let (len, file) = (1..=path.len())
            .rev()
            .find_map(|n| self.modules.get(&path[..n]).map(|f| (n, f)))?;
        if depth < 16
            && let Some(name) = path.get(len)
            && let Some(target) = self.reexports.get(&path[..len]).and_then(|r| r.get(name))
        {
            let mut next = target.clone();
            next.extend_from_slice(&path[len + 1..]);
            if next != path
                && let Some(found) = self.resolve(&next, depth + 1)
            {
                return Some(found);
            }
        }
        Some(file.clone())
    }

    /// Each strongly connected component of more than one file.
    fn components(&self) -> Vec<BTreeSet<String>> {
        let (nodes, succ) = self.adjacency();
        tarjan(&succ)
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|c| c.into_iter().map(|i| nodes[i].clone()).collect())
            .collect()
    }

    /// Each component as text: its files and one cycle through them.
    fn cycles(&self) -> Vec<String> {
        self.components().iter().map(|c| self.describe(c)).collect()
    }

    fn adjacency(&self) -> (Vec<String>, Vec<Vec<usize>>) {
        let nodes: Vec<String> = self
            .modules
            .values()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let index: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let succ: Vec<Vec<usize>> = nodes
            .iter()
            .map(|n| {
                self.edges
                    .get(n)
                    .map(|e| {
                        e.keys()
                            .filter_map(|t| index.get(t.as_str()).copied())
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect();
        (nodes, succ)
    }

    fn describe(&self, component: &BTreeSet<String>) -> String {
        let (nodes, succ) = self.adjacency();
        let members: BTreeSet<usize> = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| component.contains(*n))
            .map(|(i, _)| i)
            .collect();
        let mut text = format!(
            "{} files: {}\n",
            members.len(),
            members
                .iter()
                .map(|&i| nodes[i].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        // One cycle through the first member: a shortest way back to it.
        let start = *members.iter().next().unwrap();
        let back = shortest_path(&succ, &members, start);
        for pair in back.windows(2) {
            let (from, to) = (&nodes[pair[0]], &nodes[pair[1]]);
            let line = self.edges[from][to];
            text.push_str(&format!("  {from}:{line} -> {to}\n"));
        }
        // MODULE_CYCLES_ALL=1: every edge inside the component, to see where to cut.
        if std::env::var_os("MODULE_CYCLES_ALL").is_some() {
            text.push_str("  all edges inside:\n");
            for &from in &members {
                for &to in &succ[from] {
                    if members.contains(&to) {
                        let (f, t) = (&nodes[from], &nodes[to]);
                        text.push_str(&format!("    {f}:{} -> {t}\n", self.edges[f][t]));
                    }
                }
            }
        }
        text
    }
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `lib.rs` -> crate, `a/mod.rs` and `a.rs` -> crate::a, `a/b.rs` -> crate::a::b. `main.rs`
/// and `bin/` are other crates.
fn module_of_file(rel: &str) -> Option<ModPath> {
    if rel == "main.rs" || rel.starts_with("bin/") {
        return None;
    }
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod") | Some("lib")) {
        parts.pop();
    }
    let mut path = vec!["crate".to_string()];
    path.extend(parts);
    Some(path)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
    PathSep,
    Newline,
}

/// Identifiers, `::` and single punctuation; comments, strings and chars removed; newlines kept
/// for line numbers.
fn tokenize(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let newlines_in = |slice: &[char], out: &mut Vec<Tok>| {
        for _ in slice.iter().filter(|&&c| c == '\n') {
            out.push(Tok::Newline);
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            out.push(Tok::Newline);
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let start = i;
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            newlines_in(&chars[start..i.min(chars.len())], &mut out);
        } else if (c == 'r' || c == 'b') && raw_string_start(&chars, i).is_some() {
            let (hashes, body) = raw_string_start(&chars, i).unwrap();
            let start = i;
            i = body;
            loop {
                if i >= chars.len() {
                    break;
                }
                if chars[i] == '"' && (0..hashes).all(|k| chars.get(i + 1 + k) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            newlines_in(&chars[start..i.min(chars.len())], &mut out);
        } else if c == '"' || (c == 'b' && next == Some('"')) {
            let start = i;
            i += if c == 'b' { 2 } else { 1 };
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            newlines_in(&chars[start..i.min(chars.len())], &mut out);
        } else if c == '\'' || (c == 'b' && next == Some('\'')) {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            let j = if c == 'b' { i + 1 } else { i };
            if chars.get(j + 1) == Some(&'\\') {
                let mut k = j + 2;
                while k < chars.len() && chars[k] != '\'' {
                    k += 1;
                }
                i = k + 1;
            } else if chars.get(j + 2) == Some(&'\'') {
                i = j + 3;
            } else {
                // A lifetime: skip the quote, the name follows as an identifier.
                i = j + 1;
            }
        } else if c.is_alphabetic()
            || c == '_'
            || (c == '$' && next.is_some_and(|n| n.is_alphabetic()))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let word = word.strip_prefix("r#").map(String::from).unwrap_or(word);
            out.push(Tok::Ident(if word == "$crate" {
                "crate".into()
            } else {
                word
            }));
        } else if c.is_ascii_digit() {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
        } else if c == ':' && next == Some(':') {
            out.push(Tok::PathSep);
            i += 2;
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// At `r"`, `r#"`, `br"`, `br#"`: the number of hashes and where the body starts.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if chars[j] == 'b' {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    // Not the tail of an identifier (`for"`) nor `r#ident`.
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some((hashes, j + 1))
}

#[derive(Default)]
struct Items {
    inline_modules: Vec<ModPath>,
    /// (module, name, target) of each `pub use`.
    reexports: Vec<(ModPath, String, ModPath)>,
    /// Every absolute crate path the file names, with its line.
    paths: Vec<(ModPath, usize)>,
}

struct Scope {
    module: ModPath,
    /// Inside `#[cfg(test)] mod ..`: unit tests may use what they like (they are not built
    /// into the program, so they cannot tie its modules together).
    test: bool,
    /// Brace depth at which this inline module's body closes.
    depth: usize,
    /// Names brought in by `use` (and child modules): name -> absolute path.
    names: HashMap<String, ModPath>,
}

fn scan(module: &ModPath, tokens: &[Tok]) -> Items {
    let mut items = Items::default();
    // Declared children of each scope are known before their first use: collect them first.
    let mut scopes = vec![Scope {
        module: module.clone(),
        test: false,
        depth: 0,
        names: HashMap::new(),
    }];
    let children = declared_children(tokens);
    for (scope_path, child) in &children {
        let mut full = module.clone();
        full.extend(scope_path.iter().cloned());
        if scope_path.is_empty() {
            let mut target = full.clone();
            target.push(child.clone());
            scopes[0].names.insert(child.clone(), target);
        }
    }
    let mut depth = 0usize;
    let mut line = 1usize;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Tok::Newline => line += 1,
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if scopes.len() > 1 && scopes.last().unwrap().depth == depth {
                    scopes.pop();
                }
            }
            Tok::Ident(word) if word == "mod" => {
                if let (Some(Tok::Ident(name)), Some(Tok::Punct('{'))) = (
                    next_real(tokens, i + 1),
                    next_real(tokens, skip_real(tokens, i + 1) + 1),
                ) {
                    let mut path = scopes.last().unwrap().module.clone();
                    path.push(name.clone());
                    items.inline_modules.push(path.clone());
                    // Inner children declared with `mod x;` inside it are rare: ignored.
                    let open = skip_real(tokens, skip_real(tokens, i + 1) + 1);
                    for t in &tokens[i..open] {
                        if *t == Tok::Newline {
                            line += 1;
                        }
                    }
                    depth += 1;
                    let test = scopes.last().unwrap().test || is_cfg_test_before(tokens, i);
                    scopes.push(Scope {
                        module: path,
                        test,
                        depth: depth - 1,
                        names: HashMap::new(),
                    });
                    i = open + 1;
                    continue;
                }
            }
            Tok::Ident(word) if word == "use" => {
                let public = is_pub_before(tokens, i);
                let end = (i..tokens.len())
                    .find(|&k| tokens[k] == Tok::Punct(';'))
                    .unwrap_or(tokens.len());
                let body: Vec<Tok> = tokens[i + 1..end]
                    .iter()
                    .filter(|t| **t != Tok::Newline)
                    .cloned()
                    .collect();
                let scope = scopes.last().unwrap();
                let mut leaves = Vec::new();
                use_tree(&body, &mut 0, Vec::new(), &mut leaves);
                let mut resolved = Vec::new();
                for (path, alias) in leaves {
                    if let Some(abs) = absolute(&path, scope) {
                        resolved.push((abs, alias));
                    }
                }
                let scope_module = scope.module.clone();
                let test = scope.test;
                for (abs, alias) in resolved {
                    if !test {
                        items.paths.push((abs.clone(), line));
                    }
                    if let Some(alias) = alias {
                        if public {
                            items.reexports.push((
                                scope_module.clone(),
                                alias.clone(),
                                abs.clone(),
                            ));
                        }
                        scopes.last_mut().unwrap().names.insert(alias, abs);
                    }
                }
                for t in &tokens[i..end] {
                    if *t == Tok::Newline {
                        line += 1;
                    }
                }
                i = end + 1;
                continue;
            }
            // The start of a path in code (not a segment of one): `a::b::c`.
            Tok::Ident(first)
                if (i == 0 || tokens[i - 1] != Tok::PathSep)
                    && tokens.get(i + 1) == Some(&Tok::PathSep) =>
            {
                let mut path = vec![first.clone()];
                let mut k = i + 1;
                while tokens.get(k) == Some(&Tok::PathSep) {
                    match tokens.get(k + 1) {
                        Some(Tok::Ident(seg)) => {
                            path.push(seg.clone());
                            k += 2;
                        }
                        _ => break,
                    }
                }
                if let Some(abs) = absolute(&path, scopes.last().unwrap()).or_else(|| {
                    // A name from an enclosing scope (a test module using its file's imports
                    // goes through `use super::*`, which names the file itself).
                    scopes.iter().rev().skip(1).find_map(|s| absolute(&path, s))
                }) && !scopes.last().unwrap().test
                {
                    items.paths.push((abs, line));
                }
                i = k;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    items
}

/// `mod name;` declarations at the top of the file: (enclosing inline path, name).
fn declared_children(tokens: &[Tok]) -> Vec<(ModPath, String)> {
    let mut out = Vec::new();
    let real: Vec<&Tok> = tokens.iter().filter(|t| **t != Tok::Newline).collect();
    for w in real.windows(3) {
        if let (Tok::Ident(m), Tok::Ident(name), Tok::Punct(';')) = (w[0], w[1], w[2])
            && m == "mod"
        {
            out.push((Vec::new(), name.clone()));
        }
    }
    out
}

fn next_real(tokens: &[Tok], from: usize) -> Option<&Tok> {
    tokens[from.min(tokens.len())..]
        .iter()
        .find(|t| **t != Tok::Newline)
}

fn skip_real(tokens: &[Tok], from: usize) -> usize {
    (from..tokens.len())
        .find(|&k| tokens[k] != Tok::Newline)
        .unwrap_or(tokens.len())
}

/// `#[cfg(test)]` right before the token at `at`.
fn is_cfg_test_before(tokens: &[Tok], at: usize) -> bool {
    let before: Vec<&Tok> = tokens[..at]
        .iter()
        .rev()
        .filter(|t| **t != Tok::Newline)
        .take(7)
        .collect();
    let want = [
        Tok::Punct(']'),
        Tok::Punct(')'),
        Tok::Ident("test".into()),
        Tok::Punct('('),
        Tok::Ident("cfg".into()),
        Tok::Punct('['),
        Tok::Punct('#'),
    ];
    before.len() == 7 && before.iter().zip(want.iter()).all(|(a, b)| *a == b)
}

/// `pub use`, `pub(crate) use`, `pub(super) use`.
fn is_pub_before(tokens: &[Tok], at: usize) -> bool {
    let mut k = at;
    let mut prev = || {
        while k > 0 {
            k -= 1;
            if tokens[k] != Tok::Newline {
                return Some(tokens[k].clone());
            }
        }
        None
    };
    match prev() {
        Some(Tok::Ident(w)) => w == "pub",
        Some(Tok::Punct(')')) => {
            let _inner = prev();
            let _open = prev();
            matches!(prev(), Some(Tok::Ident(w)) if w == "pub")
        }
        _ => false,
    }
}

/// The leaves of a use tree: (path, the name it brings in; None for a glob).
fn use_tree(
    body: &[Tok],
    at: &mut usize,
    prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    let mut path = prefix;
    loop {
        match body.get(*at) {
            Some(Tok::Ident(seg)) if seg == "as" => {
                *at += 1;
                if let Some(Tok::Ident(alias)) = body.get(*at) {
                    *at += 1;
                    let name = if alias == "_" {
                        None
                    } else {
                        Some(alias.clone())
                    };
                    out.push((path, name));
                }
                return;
            }
            Some(Tok::Ident(seg)) => {
                path.push(seg.clone());
                *at += 1;
                if body.get(*at) == Some(&Tok::PathSep) {
                    *at += 1;
                    continue;
                }
                let name = if seg == "self" {
                    path.pop();
                    path.last().cloned()
                } else {
                    Some(seg.clone())
                };
                if body.get(*at) == Some(&Tok::Ident("as".into())) {
                    continue;
                }
                out.push((path, name));
                return;
            }
            Some(Tok::Punct('*')) => {
                *at += 1;
                out.push((path, None));
                return;
            }
            Some(Tok::Punct('{')) => {
                *at += 1;
                loop {
                    match body.get(*at) {
                        Some(Tok::Punct('}')) => {
                            *at += 1;
                            return;
                        }
                        Some(Tok::Punct(',')) => *at += 1,
                        None => return,
                        _ => use_tree(body, at, path.clone(), out),
                    }
                }
            }
            Some(Tok::PathSep) => {
                // `use ::std::..`: an external crate.
                *at += 1;
                path.push(String::new());
            }
            _ => return,
        }
    }
}

/// The absolute crate path of `path` as written in `scope`, or None when it is not ours.
fn absolute(path: &[String], scope: &Scope) -> Option<ModPath> {
    let first = path.first()?;
    let mut abs: ModPath = match first.as_str() {
        "crate" => vec!["crate".into()],
        "self" => scope.module.clone(),
        "super" => {
            let mut m = scope.module.clone();
            m.pop();
            m
        }
        "" => return None,
        name => {
            let mut base = scope.names.get(name)?.clone();
            base.extend(path[1..].iter().cloned());
            return Some(base);
        }
    };
    let mut rest = &path[1..];
    while rest.first().is_some_and(|s| s == "super") {
        abs.pop();
        rest = &rest[1..];
    }
    abs.extend(rest.iter().cloned());
    (abs.first().is_some_and(|s| s == "crate")).then_some(abs)
}

/// Tarjan's strongly connected components.
fn tarjan(succ: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        succ: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &s.succ[v].clone() {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(i) if s.on_stack[w] => s.low[v] = s.low[v].min(i),
                _ => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            s.out.push(component);
        }
    }
    let n = succ.len();
    let mut s = State {
        succ,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out
}

/// A shortest walk from `start` back to itself inside `members` (breadth first).
fn shortest_path(succ: &[Vec<usize>], members: &BTreeSet<usize>, start: usize) -> Vec<usize> {
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &succ[v] {
            if !members.contains(&w) {
                continue;
            }
            if w == start {
                let mut walk = vec![start, v];
                let mut at = v;
                while at != start {
                    at = parent[&at];
                    walk.push(at);
                }
                walk.reverse();
                return walk;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    vec![start]
}
