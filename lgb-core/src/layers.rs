//! The layer order of lgb-core, in one place, and the check that keeps it.
//!
//! Every top-level module belongs to one layer; a module may use (`crate::…`, or
//! `super::…` climbing out of its own module) only modules of its own layer or of the
//! layers below it, and the edges within a layer must not form a cycle.
//! `docs/architecture.md` shows this order between its `layers` markers; a test
//! checks that the document and [`LAYERS`] agree.
//!
//! Only compiled for tests: it reads the sources, it is not part of the library.

use std::collections::{BTreeMap, BTreeSet};

/// Layers, lowest first; each with its top-level modules.
pub(crate) const LAYERS: &[&[&str]] = &[
    &["units", "error", "redact", "record", "clock", "iam"],
    &["config"],
    &["metrics"],
    &["workload"],
    &["database"],
    &["operation"],
    &["catalog", "targets"],
    &["executor"],
    &["protocol"],
    &["worker"],
    &["results"],
    &["runner"],
    &["preflight", "sweep", "report", "session"],
];

/// Names at the crate root that are re-exports, and the module they come from.
const ROOT_ALIASES: &[(&str, &str)] = &[
    ("Error", "error"),
    ("ErrorClass", "error"),
    ("Result", "error"),
    ("ConfigProblem", "error"),
];

/// Files that are not a layer: the crate root (module list and prelude) and this check.
const NOT_LAYERED: &[&str] = &["lib", "layers", "surface"];

/// A reference from one top-level module to another, and where it was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Edge {
    pub from: String,
    pub to: String,
    pub file: String,
}

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module of a file under `src/` (`runner/lambda.rs` → `runner`) and
/// how deep the file's own module is (`runner/mod.rs` → 1, `runner/lambda.rs` → 2).
fn module_of(path: &str) -> (String, usize) {
    let parts: Vec<&str> = path.split('/').collect();
    let top = parts[0].trim_end_matches(".rs").to_string();
    let depth = if parts.last() == Some(&"mod.rs") {
        parts.len() - 1
    } else {
        parts.len()
    };
    (top, depth.max(1))
}

/// The source without comments (line, doc and block comments), so that paths in
/// documentation are not counted as uses.
pub(crate) fn strip_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        if in_str {
            if b[i] == b'\\' {
                i += 2;
                continue;
            }
            if b[i] == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        if b[i] == b'r'
            && (b[i + 1..].starts_with(b"\"") || b[i + 1..].starts_with(b"#"))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            // A raw string r"…" or r#"…"#: skipped to its closing quote and hashes.
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            let open = i + 1 + hashes;
            if b.get(open) == Some(&b'"') {
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                let end = b[open + 1..]
                    .windows(close.len())
                    .position(|w| w == close.as_slice())
                    .map_or(b.len(), |p| open + 1 + p + close.len());
                out.push(' ');
                i = end;
                continue;
            }
        }
        if b[i] == b'"' {
            // Strings are dropped too: a path in a message is no use of a module.
            in_str = true;
            out.push(' ');
            i += 1;
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal such as '"' or '\\': skip it whole.
            let end = b[i + 1..]
                .iter()
                .skip(1)
                .position(|&c| c == b'\'')
                .map_or(b.len(), |p| i + 2 + p + 1);
            out.push(' ');
            i = end;
        } else {
            let ch = src[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first names of the paths after `crate::` at `rest`: one for `crate::a::…`, each
/// item's for `crate::{a::X, b}`.
fn first_names(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    let Some(inner) = rest.strip_prefix('{') else {
        let id = ident_at(rest);
        return if id.is_empty() {
            vec![]
        } else {
            vec![id.to_string()]
        };
    };
    let mut names = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => item_start = true,
            c if c.is_whitespace() => {}
            _ if item_start && depth == 0 => {
                item_start = false;
                let id = ident_at(&inner[i..]);
                if !id.is_empty() {
                    names.push(id.to_string());
                }
            }
            _ => {}
        }
    }
    names
}

fn boundary_before(s: &str, at: usize) -> bool {
    s[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
}

/// Every reference of `source` (the file at `path` under `src/`) to a top-level module,
/// including its own; references the check cannot place are returned as errors.
pub(crate) fn references(path: &str, source: &str) -> (Vec<Edge>, Vec<String>) {
    let (from, depth) = module_of(path);
    let code = strip_comments(source);
    let mut edges = Vec::new();
    let mut unknown = Vec::new();
    let mut push = |name: String| {
        let to = ROOT_ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map_or(name.clone(), |(_, m)| m.to_string());
        if rank(&to).is_some() || NOT_LAYERED.contains(&to.as_str()) {
            edges.push(Edge {
                from: from.clone(),
                to,
                file: path.to_string(),
            });
        } else {
            unknown.push(format!("{path}: `crate::{name}` is no module of a layer"));
        }
    };
    for (at, _) in code.match_indices("crate::") {
        if boundary_before(&code, at) {
            first_names(&code[at + "crate::".len()..])
                .into_iter()
                .for_each(&mut push);
        }
    }
    // `super::` chains that climb to the crate root name a top-level module too.
    let mut at = 0;
    while let Some(p) = code[at..].find("super::") {
        let start = at + p;
        let mut end = start;
        let mut ups = 0;
        while code[end..].starts_with("super::") {
            ups += 1;
            end += "super::".len();
        }
        if boundary_before(&code, start) && ups >= depth {
            first_names(&code[end..]).into_iter().for_each(&mut push);
        }
        at = end;
    }
    (edges, unknown)
}

/// Every problem with `files` (path under `src/`, source): references that go up a
/// layer, to a module in no layer, top-level modules in no layer, and cycles.
pub(crate) fn problems(files: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut edges = BTreeSet::new();
    for (path, source) in files {
        let (from, _) = module_of(path);
        if NOT_LAYERED.contains(&from.as_str()) {
            continue;
        }
        if rank(&from).is_none() {
            out.push(format!("{path}: module `{from}` is in no layer of LAYERS"));
            continue;
        }
        let (found, unknown) = references(path, source);
        out.extend(unknown);
        edges.extend(found.into_iter().filter(|e| e.from != e.to));
    }
    for e in &edges {
        if NOT_LAYERED.contains(&e.to.as_str()) {
            out.push(format!(
                "{}: `{}` uses the crate root's `{}`",
                e.file, e.from, e.to
            ));
        } else if rank(&e.to) > rank(&e.from) {
            out.push(format!(
                "{}: `{}` uses `{}`, a higher layer",
                e.file, e.from, e.to
            ));
        }
    }
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in &edges {
        graph.entry(&e.from).or_default().insert(&e.to);
    }
    if let Some(cycle) = find_cycle(&graph) {
        out.push(format!("import cycle: {}", cycle.join(" -> ")));
    }
    out
}

fn find_cycle<'a>(graph: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Option<Vec<&'a str>> {
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        done: &mut BTreeSet<&'a str>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(i) = stack.iter().position(|n| *n == node) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(node);
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, done, stack) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node);
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut done, &mut Vec::new()))
}

/// Every `.rs` file under `lgb-core/src`, as (path under `src/`, text), in order.
pub(crate) fn sources() -> Vec<(String, String)> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("src is readable")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let rel = p.strip_prefix(root).expect("under src");
                let rel = rel.to_string_lossy().replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&p).expect("source")));
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    assert!(out.len() > 40, "found the sources: {}", out.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(p, s)| (p.to_string(), s.to_string()))
            .collect()
    }

    #[test]
    fn lgb_core_goes_one_way() {
        let problems = problems(&sources());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn every_reference_form_is_found() {
        let src = r#"
            use crate::{config::{A, B}, error::Error, database};
            use crate::metrics::X; // crate::report in a comment
            /// [`crate::runner`] in a doc
            fn f() { let _ = crate::workload::keys::fnv1a64(1); let s = "crate::worker"; }
            macro_rules! m { () => { $crate::runner::x() } }
            fn g() -> crate::Result<()> { super::super::protocol::y() }
        "#;
        let (edges, unknown) = references("operation/context.rs", src);
        let to: BTreeSet<&str> = edges.iter().map(|e| e.to.as_str()).collect();
        assert_eq!(
            to,
            BTreeSet::from(["config", "error", "database", "metrics", "workload", "protocol"])
        );
        assert!(unknown.is_empty(), "{unknown:?}");
        // In a top-level file, one `super::` is already the crate root.
        let (edges, _) = references("executor.rs", "use super::runner::X;");
        assert_eq!(edges[0].to, "runner");
        let (edges, _) = references("runner/mod.rs", "use super::report;");
        assert_eq!(edges[0].to, "report");
        let (edges, _) = references("runner/lambda.rs", "use super::Runner;");
        assert!(edges.is_empty(), "inside its own module: {edges:?}");
    }

    #[test]
    fn the_check_fails_on_upward_uses_cycles_and_unknown_modules() {
        let bad = files(&[
            (
                "config/mod.rs",
                "use crate::{units::X, database::DatabaseConfig};",
            ),
            ("database/mod.rs", "use crate::units::HumanDuration;"),
            ("units.rs", "fn f() { crate::error::x(); }"),
            ("error.rs", "use crate::units::Y;"),
            ("metrics/mod.rs", "use crate::nowhere::Z;"),
            ("gadgets.rs", "use crate::error::Error;"),
        ]);
        let p = problems(&bad);
        let has = |s: &str| p.iter().any(|m| m.contains(s));
        assert!(has("`config` uses `database`, a higher layer"), "{p:?}");
        assert!(has("import cycle: "), "{p:?}");
        assert!(has("`crate::nowhere` is no module"), "{p:?}");
        assert!(has("module `gadgets` is in no layer"), "{p:?}");
        assert!(
            !has("`database` uses `config`"),
            "downward is allowed: {p:?}"
        );
        let good = files(&[
            ("database/mod.rs", "use crate::units::HumanDuration;"),
            ("units.rs", "use crate::error::Error;"),
        ]);
        assert!(problems(&good).is_empty());
    }

    #[test]
    fn the_architecture_document_shows_this_order() {
        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/architecture.md");
        let text = std::fs::read_to_string(&doc).expect("docs/architecture.md");
        let start = text.find("<!-- layers -->").expect("layers start marker");
        let end = text.find("<!-- /layers -->").expect("layers end marker");
        let shown: Vec<Vec<String>> = text[start..end]
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| layer") && !l.contains("---"))
            .map(|l| {
                let cell = l.split('|').nth(2).unwrap_or("");
                cell.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .collect()
            })
            .collect();
        let wanted: Vec<Vec<String>> = LAYERS
            .iter()
            .map(|l| l.iter().map(|m| m.to_string()).collect())
            .collect();
        assert_eq!(
            shown, wanted,
            "docs/architecture.md's layer table and LAYERS"
        );
    }
}
