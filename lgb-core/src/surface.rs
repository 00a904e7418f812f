//! The public surface of lgb-core, in one list, and the checks that keep it.
//!
//! `docs/architecture.md` lists, between its `surface` markers, every public module and
//! the names each one exports; a test fails when the crate grows (or loses) a public
//! item the list does not show, so a new public name is a decision written down. A
//! second check keeps one public path per item: a `pub use` may re-export only from a
//! private module (or another crate); only the prelude gathers items that live
//! elsewhere.
//!
//! The list is read off the sources, as `layers.rs` reads the imports: items declared
//! `pub` at a module's top level (methods belong to their type, and go with it),
//! modules reachable through `pub mod`, and `pub use` with glob re-exports expanded.
//! Only compiled for tests: it reads the sources, it is not part of the library.

use std::collections::{BTreeMap, BTreeSet};

use crate::layers::strip_comments;

/// The module that gathers re-exports on purpose.
const PRELUDE: &str = "prelude";

/// One module's source, reduced to its top-level statements.
#[derive(Debug, Default)]
struct Module {
    /// Child modules declared `pub mod`.
    public_children: BTreeSet<String>,
    /// Names of items declared `pub` here (not re-exports).
    items: BTreeSet<String>,
    /// `pub use` leaves: (exported name, source module path or `None` for another crate,
    /// source item name; `*` for a glob).
    uses: Vec<(String, Option<String>, String)>,
}

/// The module path of a file under `src/` (`runner/mod.rs` → `runner`,
/// `database/immudb/verify.rs` → `database::immudb::verify`, `lib.rs` → ``).
fn module_path(file: &str) -> String {
    let trimmed = file.trim_end_matches(".rs");
    let trimmed = trimmed.strip_suffix("/mod").unwrap_or(trimmed);
    if trimmed == "lib" {
        return String::new();
    }
    trimmed.replace('/', "::")
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}::{child}")
    }
}

/// An inline module: its name, whether it is `pub`, and its own statements.
type InlineModule = (String, bool, Vec<String>);

/// The statements at the top level of `src` (brace depth 0), each as one string,
/// with `#[cfg(test)]` modules and attributes dropped; inline modules are returned
/// separately with their own statements.
fn statements(src: &str) -> (Vec<String>, Vec<InlineModule>) {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut inline = Vec::new();
    let mut i = 0;
    let mut start = 0;
    let mut test_attr = false;
    while i < b.len() {
        match b[i] {
            b'#' if src[start..i].trim().is_empty() => {
                // An attribute: `#[…]` or `#![…]`, skipped whole.
                let open = src[i..].find('[').map_or(b.len(), |p| i + p);
                let end = matching(b, open, b'[', b']');
                let attr = src[i..end].replace(' ', "");
                if attr.starts_with("#[cfg(test)]") || attr.starts_with("#[cfg(doctest)]") {
                    test_attr = true;
                }
                i = end;
                start = i;
            }
            b';' => {
                if !test_attr {
                    out.push(src[start..i].trim().to_string());
                }
                test_attr = false;
                i += 1;
                start = i;
            }
            b'{' => {
                let end = matching(b, i, b'{', b'}');
                let head = src[start..i].trim().to_string();
                let words: Vec<&str> = head.split_whitespace().collect();
                if head.starts_with("pub use") || head.starts_with("use") {
                    // A braced import list: the statement runs on to its `;`.
                    i = end;
                    continue;
                }
                if !test_attr {
                    if let Some(pos) = words.iter().position(|w| *w == "mod") {
                        let public = words[0] == "pub";
                        let name = words.get(pos + 1).copied().unwrap_or("").to_string();
                        let (inner, _) = statements(&src[i + 1..end - 1]);
                        inline.push((name, public, inner));
                    } else {
                        out.push(head);
                    }
                }
                test_attr = false;
                i = end;
                start = i;
            }
            _ => i += 1,
        }
    }
    (out, inline)
}

/// The index just past the bracket that closes the one at `open`.
fn matching(b: &[u8], open: usize, o: u8, c: u8) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        if b[i] == o {
            depth += 1;
        } else if b[i] == c {
            depth -= 1;
            if depth == 0 {
                return i + 1;
            }
        }
        i += 1;
    }
    b.len()
}

/// The leaves of a use tree such as `a::{b::C, D as E, f::*}`: (prefix path, name,
/// exported name).
fn use_leaves(tree: &str) -> Vec<(Vec<String>, String, String)> {
    let words: Vec<&str> = tree.split_whitespace().collect();
    let tree = words.join(" ").replace(" as ", "@").replace(' ', "");
    let mut out = Vec::new();
    leaves(&tree, &mut Vec::new(), &mut out);
    out
}

fn leaves(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, String, String)>) {
    // Split at top-level commas.
    let mut depth = 0;
    let mut parts = Vec::new();
    let mut last = 0;
    for (i, c) in tree.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&tree[last..i]);
                last = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&tree[last..]);
    for part in parts.into_iter().filter(|p| !p.is_empty()) {
        if let Some(brace) = part.find('{') {
            let head: Vec<String> = part[..brace]
                .trim_end_matches("::")
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let n = head.len();
            prefix.extend(head);
            leaves(&part[brace + 1..part.len() - 1], prefix, out);
            prefix.truncate(prefix.len() - n);
        } else {
            let (path, alias) = match part.split_once('@') {
                Some((p, a)) => (p, Some(a)),
                None => (part, None),
            };
            let mut segs: Vec<String> = prefix.clone();
            segs.extend(path.split("::").map(str::to_string));
            let name = segs.pop().unwrap_or_default();
            let (segs, name) = if name == "self" {
                let n = segs.last().cloned().unwrap_or_default();
                (segs[..segs.len().saturating_sub(1)].to_vec(), n)
            } else {
                (segs, name)
            };
            let exported = alias.map_or(name.clone(), str::to_string);
            out.push((segs, name, exported));
        }
    }
}

/// The module a use path names, seen from `here`: `crate::a` → `a`, `super::b` → the
/// parent's `b`, `c` → the child `c` when it is a module of this crate; `None` for
/// another crate.
fn resolve(here: &str, segs: &[String], modules: &BTreeMap<String, Module>) -> Option<String> {
    let mut base: Vec<String> = if here.is_empty() {
        Vec::new()
    } else {
        here.split("::").map(str::to_string).collect()
    };
    let mut rest = segs;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        Some(first) if !modules.contains_key(&join(here, first)) => return None,
        Some(_) | None => {}
    }
    base.extend(rest.iter().cloned());
    Some(base.join("::"))
}

/// Every public module and the names it exports (one line each), and the problems:
/// re-exports of items that already have a public path.
pub(crate) fn surface(files: &[(String, String)]) -> (Vec<String>, Vec<String>) {
    let mut modules: BTreeMap<String, Module> = BTreeMap::new();
    for (file, src) in files {
        if file == "layers.rs" || file == "surface.rs" {
            continue;
        }
        let path = module_path(file);
        let (stmts, inline) = statements(&strip_comments(src));
        let mut inline_mods = vec![(path.clone(), stmts)];
        for (name, public, inner) in inline {
            let child = join(&path, &name);
            if public {
                modules
                    .entry(path.clone())
                    .or_default()
                    .public_children
                    .insert(name);
            }
            inline_mods.push((child, inner));
        }
        for (mpath, stmts) in inline_mods {
            let mut m = modules.remove(&mpath).unwrap_or_default();
            for s in stmts {
                let words: Vec<&str> = s.split_whitespace().collect();
                if words.first() != Some(&"pub") {
                    continue;
                }
                let kind_at = words
                    .iter()
                    .position(|w| {
                        matches!(
                            *w,
                            "fn" | "struct"
                                | "enum"
                                | "trait"
                                | "type"
                                | "const"
                                | "static"
                                | "mod"
                                | "use"
                                | "union"
                                | "macro_rules!"
                        )
                    })
                    .unwrap_or(0);
                let kind = words.get(kind_at).copied().unwrap_or("");
                if kind == "use" {
                    let tree = s.split_once("use").map_or("", |(_, t)| t);
                    for (segs, name, exported) in use_leaves(tree) {
                        m.uses.push((exported, Some(segs.join("::")), name));
                    }
                    continue;
                }
                let name = words
                    .get(kind_at + 1)
                    .map(|w| {
                        w.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .next()
                            .unwrap_or("")
                            .to_string()
                    })
                    .unwrap_or_default();
                if kind == "mod" {
                    m.public_children.insert(name);
                } else if !name.is_empty() {
                    m.items.insert(name);
                }
            }
            modules.insert(mpath, m);
        }
    }
    // Resolve the re-exports' source modules now that every module is known.
    let here_paths: Vec<String> = modules.keys().cloned().collect();
    for here in &here_paths {
        let uses = std::mem::take(&mut modules.get_mut(here).expect("known").uses);
        let resolved = uses
            .into_iter()
            .map(|(exported, segs, name)| {
                let segs: Vec<String> = segs
                    .unwrap_or_default()
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                (exported, resolve(here, &segs, &modules), name)
            })
            .collect();
        modules.get_mut(here).expect("known").uses = resolved;
    }
    // Public modules: reachable from the root through `pub mod`.
    let mut public = BTreeSet::new();
    let mut stack = vec![String::new()];
    while let Some(p) = stack.pop() {
        if let Some(m) = modules.get(&p) {
            for c in &m.public_children {
                stack.push(join(&p, c));
            }
        }
        public.insert(p);
    }
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for p in &public {
        let Some(m) = modules.get(p) else {
            continue;
        };
        let mut names: BTreeSet<String> = m.items.clone();
        names.extend(m.public_children.iter().map(|c| format!("{c}::")));
        for (exported, source, name) in &m.uses {
            match source {
                Some(src) if name == "*" => {
                    if let Some(g) = modules.get(src) {
                        names.extend(g.items.iter().cloned());
                    }
                    if public.contains(src) && p != PRELUDE {
                        problems.push(format!("`{p}` re-exports all of public `{src}`"));
                    }
                }
                Some(src) => {
                    names.insert(exported.clone());
                    let src_is_public_module = public.contains(src)
                        && modules.get(src).is_some_and(|s| s.items.contains(name));
                    let src_is_module = public.contains(&join(src, name));
                    if (src_is_public_module || src_is_module) && p != PRELUDE {
                        let shown = if p.is_empty() { "the crate root" } else { p };
                        problems.push(format!(
                            "`{shown}` re-exports `{}`, which is public at `{src}::{name}`: \
                             one public path per item",
                            exported
                        ));
                    }
                }
                None => {
                    names.insert(exported.clone());
                }
            }
        }
        let module = if p.is_empty() { "lgb_core" } else { p.as_str() };
        let names: Vec<String> = names.into_iter().collect();
        lines.push(format!("{module}: {}", names.join(", ")));
    }
    (lines, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::sources;
    use std::path::Path;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(p, s)| (p.to_string(), s.to_string()))
            .collect()
    }

    #[test]
    fn reads_items_modules_and_reexports() {
        let (lines, problems) = surface(&files(&[
            (
                "lib.rs",
                "pub mod a;\nmod hidden;\n#[cfg(test)]\nmod tests { pub fn t() {} }\n\
                 pub use hidden::{Inner, deep::{Deeper as D}};\npub use a::Thing;\n\
                 pub mod prelude { pub use crate::a::Thing; }",
            ),
            (
                "a.rs",
                "/// doc\npub struct Thing { pub x: u8 }\nimpl Thing { pub fn new() {} }\n\
                 pub(crate) fn internal() {}\npub async fn go() {}\nfn private() {}\n\
                 pub use self::inner::*;\nmod inner;",
            ),
            ("a/inner.rs", "pub const LIMIT: u32 = 1;"),
            ("hidden.rs", "pub struct Inner;\npub mod deep;"),
            ("hidden/deep.rs", "pub enum Deeper { A }"),
        ]));
        assert_eq!(
            lines,
            [
                "lgb_core: D, Inner, Thing, a::, prelude::",
                "a: LIMIT, Thing, go",
                "prelude: Thing",
            ]
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("re-exports `Thing`"), "{problems:?}");
    }

    /// Run with `LGB_PRINT_SURFACE=1` to print the list to paste into the document.
    #[test]
    fn the_architecture_document_lists_the_public_surface() {
        let (lines, _) = surface(&sources());
        if std::env::var_os("LGB_PRINT_SURFACE").is_some() {
            println!("{}", lines.join("\n"));
        }
        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/architecture.md");
        let text = std::fs::read_to_string(&doc).expect("docs/architecture.md");
        let start = text.find("<!-- surface -->").expect("surface start marker");
        let end = text.find("<!-- /surface -->").expect("surface end marker");
        let listed: Vec<&str> = text[start..end]
            .lines()
            .filter(|l| l.contains(": ") && !l.starts_with("<!--") && !l.starts_with("```"))
            .collect();
        let shown: BTreeSet<&str> = listed.iter().copied().collect();
        let actual: BTreeSet<&str> = lines.iter().map(String::as_str).collect();
        let unlisted: Vec<_> = actual.difference(&shown).collect();
        let stale: Vec<_> = shown.difference(&actual).collect();
        assert!(
            unlisted.is_empty() && stale.is_empty(),
            "docs/architecture.md's public surface is out of date (LGB_PRINT_SURFACE=1 \
             cargo test -p lgb-core --lib surface -- --nocapture prints it)\n\
             in the code, not listed: {unlisted:#?}\nlisted, not in the code: {stale:#?}"
        );
    }

    /// The frontends' sources and the documents whose examples import the prelude.
    fn users() -> Vec<(String, String)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut out = Vec::new();
        let mut add = |dir: &str, ext: &str| {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                return;
            };
            let mut paths: Vec<_> = entries.map(|e| e.expect("entry").path()).collect();
            paths.sort();
            for p in paths {
                if p.extension().is_some_and(|e| e == ext) {
                    let text = std::fs::read_to_string(&p).expect("readable");
                    out.push((
                        format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()),
                        text,
                    ));
                }
            }
        };
        for dir in ["lgb-cli/src", "lgb-py/src", "lgb-lambda/src"] {
            add(dir, "rs");
        }
        add("docs", "md");
        out.push((
            "README.md".into(),
            std::fs::read_to_string(root.join("README.md")).expect("README.md"),
        ));
        out
    }

    #[test]
    fn the_prelude_is_what_the_frontends_and_examples_import() {
        let (lines, _) = surface(&sources());
        let prelude: Vec<&str> = lines
            .iter()
            .find_map(|l| l.strip_prefix("prelude: "))
            .expect("a prelude")
            .split(", ")
            .collect();
        let users = users();
        let word = |text: &str, name: &str| {
            text.match_indices(name).any(|(at, _)| {
                let before = text[..at].chars().next_back();
                let after = text[at + name.len()..].chars().next();
                let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !ident(before) && !ident(after)
            })
        };
        // Every name in the prelude is used by a frontend or an example that imports it.
        let unused: Vec<&&str> = prelude
            .iter()
            .filter(|n| {
                !users
                    .iter()
                    .any(|(_, t)| t.contains("lgb_core::prelude") && word(t, n))
            })
            .collect();
        assert!(
            unused.is_empty(),
            "in the prelude, used by no frontend or example: {unused:?}"
        );
        // And the frontends take those names from the prelude, not from their modules.
        let mut by_path = Vec::new();
        for (file, text) in users.iter().filter(|(f, _)| f.ends_with(".rs")) {
            let (stmts, _) = statements(&strip_comments(text));
            for st in stmts {
                let Some(tree) = st.strip_prefix("use lgb_core::") else {
                    continue;
                };
                for (segs, name, _) in use_leaves(tree) {
                    if segs.first().map(String::as_str) != Some("prelude")
                        && prelude.contains(&name.as_str())
                    {
                        by_path.push(format!("{file}: lgb_core::{}::{name}", segs.join("::")));
                    }
                }
            }
        }
        assert!(
            by_path.is_empty(),
            "frontends import prelude items by their module paths (use lgb_core::prelude::…):\n{}",
            by_path.join("\n")
        );
    }

    #[test]
    fn every_item_has_one_public_path() {
        let (_, problems) = surface(&sources());
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
