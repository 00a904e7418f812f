//! Every command the documentation shows names things that exist: the `lgb`
//! subcommands and their options (checked against `lgb SUBCOMMAND --help`), the
//! repository's scripts and their subcommands, the cargo packages, binaries and
//! benches, and the files commands are given. A renamed option or a documented flag
//! that was never built (`--targets`, once) fails here, not for a user.
//!
//! What each command does is tested where it is run: the quickstart and the suite by
//! CI, `lgb run --targets …` and `lgb sweep` in `lambda_path`, the dry run of
//! docs/lambda.md in tests/services/test_lambda_docs.py, the services in
//! tests/services. Commands for AWS itself (`tofu`, `aws`) are not lgb's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::kit::lgb;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The documents whose commands users copy.
fn documents() -> Vec<PathBuf> {
    let root = repo();
    let mut docs = vec![root.join("README.md"), root.join("infra/README.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    more.sort();
    docs.extend(more);
    docs
}

/// The commands of a document's `sh` blocks: continuation lines joined, comments
/// dropped, `a && b` split; with the line they start on.
fn commands(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(lang) = trimmed.strip_prefix("```") {
            in_sh = !in_sh && matches!(lang.trim(), "sh" | "bash" | "shell");
            continue;
        }
        if !in_sh {
            continue;
        }
        let code = strip_comment(line);
        let (start, mut joined) = pending.take().unwrap_or((n + 1, String::new()));
        joined.push_str(code.trim_end_matches('\\').trim());
        joined.push(' ');
        if code.trim_end().ends_with('\\') {
            pending = Some((start, joined));
            continue;
        }
        for part in joined.split("&&") {
            let part = part.trim();
            if !part.is_empty() {
                out.push((start, part.to_string()));
            }
        }
    }
    out
}

/// `line` without a trailing `# comment` (a `#` after white space, outside quotes).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

/// Words of a command: split at white space outside quotes, quotes removed, and the
/// `[`/`]` of optional parts dropped.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let (mut single, mut double) = (false, false);
    for c in command.chars() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            c if c.is_whitespace() && !single && !double => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out.into_iter()
        .map(|w| w.trim_matches(|c| c == '[' || c == ']').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The problem with one `lgb` command, if any: its subcommand and every option it
/// uses must be in `lgb SUBCOMMAND --help`.
fn check_lgb(args: &[String], help: &mut HashMap<String, String>) -> Option<String> {
    let sub = args.first()?;
    let text = help.entry(sub.clone()).or_insert_with(|| {
        let out = lgb().args([sub.as_str(), "--help"]).output().unwrap();
        if out.status.success() {
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            String::new()
        }
    });
    if text.is_empty() {
        return Some(format!("`lgb {sub}` is not a subcommand"));
    }
    for a in &args[1..] {
        if !a.starts_with('-') || a == "-" {
            continue;
        }
        let flag = a.split('=').next().unwrap();
        let known = if flag.starts_with("--") {
            text.contains(&format!("{flag} "))
                || text.contains(&format!("{flag},"))
                || text.contains(&format!("{flag}\n"))
                || text.contains(&format!("{flag} <"))
        } else {
            text.contains(&format!("{flag},")) || text.contains(&format!("{flag} "))
        };
        if !known {
            return Some(format!("`lgb {sub}` has no option `{flag}`"));
        }
    }
    None
}

/// The problem with a `scripts/…` command, if any: the script exists and is
/// executable, and a subcommand it is given is one it handles.
fn check_script(script: &str, args: &[String]) -> Option<String> {
    let path = repo().join(script);
    let Ok(meta) = std::fs::metadata(&path) else {
        return Some(format!("no script {script}"));
    };
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o111 == 0 {
        return Some(format!("{script} is not executable"));
    }
    let text = std::fs::read_to_string(&path).unwrap();
    match args.first() {
        Some(sub) if !sub.starts_with('-') && !sub.starts_with('"') && !sub.contains('/') => {
            let handled = text.contains(&format!("{sub})"))
                || text.contains(&format!("cmd_{}", sub.replace('-', "_")));
            (!handled).then(|| format!("{script} has no subcommand `{sub}`"))
        }
        Some(flag) if flag.starts_with("--") => {
            (!text.contains(flag.as_str())).then(|| format!("{script} has no option `{flag}`"))
        }
        _ => None,
    }
}

/// The problem with a `cargo …` command, if any: its packages (`-p`, `--path`),
/// binaries and benches exist.
fn check_cargo(args: &[String]) -> Option<String> {
    let root = repo();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let package = value("-p")
        .map(|p| root.join(p))
        .or_else(|| value("--path").map(|p| root.join(p)));
    let manifest = match &package {
        Some(dir) => match std::fs::read_to_string(dir.join("Cargo.toml")) {
            Ok(m) => m,
            Err(_) => return Some(format!("no package at {}", dir.display())),
        },
        None => return None,
    };
    if let Some(bench) = value("--bench") {
        let declared = manifest.contains(&format!("name = \"{bench}\""));
        if !declared
            || !package
                .as_ref()
                .unwrap()
                .join(format!("benches/{bench}.rs"))
                .exists()
        {
            return Some(format!("no bench `{bench}`"));
        }
    }
    if let Some(bin) = value("--bin") {
        let dir = package.as_ref().unwrap();
        if !manifest.contains(&format!("name = \"{bin}\""))
            && !dir.join(format!("src/bin/{bin}.rs")).exists()
        {
            return Some(format!("no binary `{bin}`"));
        }
    }
    None
}

/// A file the command is given (`examples/…`, `benches/…`, `./lgb-py`) must exist.
fn check_paths(args: &[String]) -> Option<String> {
    let root = repo();
    args.iter()
        .filter(|a| {
            (a.starts_with("examples/") || a.starts_with("benches/") || a.starts_with("./"))
                && !a.contains('<')
                && !a.contains('*')
        })
        .find(|a| !root.join(a.as_str()).exists() && !Path::new(a.as_str()).exists())
        .map(|a| format!("no file {a}"))
}

#[test]
fn every_documented_command_names_what_exists() {
    let mut help = HashMap::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.strip_prefix(repo()).unwrap().display().to_string();
        for (line, command) in commands(&text) {
            let mut w = words(&command);
            // Leading VAR=value assignments.
            while w.first().is_some_and(|x| {
                x.split_once('=').is_some_and(|(k, _)| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                })
            }) {
                w.remove(0);
            }
            let Some(program) = w.first().cloned() else {
                continue;
            };
            let problem = match program.as_str() {
                "lgb" => check_lgb(&w[1..], &mut help),
                "cargo" => check_cargo(&w[1..]),
                p if p.starts_with("scripts/") => check_script(p, &w[1..]),
                _ => None,
            }
            .or_else(|| check_paths(&w[1..]));
            if matches!(program.as_str(), "lgb" | "cargo") || program.starts_with("scripts/") {
                checked += 1;
            }
            if let Some(p) = problem {
                problems.push(format!("{name}:{line}: {command}\n    {p}"));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} commands found: is the extraction broken?"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_catches_what_does_not_exist() {
    let mut help = HashMap::new();
    let w = |s: &str| words(s);
    assert!(check_lgb(&w("run bench.json --targets outputs.json")[..], &mut help).is_none());
    assert!(
        check_lgb(&w("run bench.json --target-list x")[..], &mut help)
            .unwrap()
            .contains("--target-list")
    );
    assert!(check_lgb(&w("launch bench.json")[..], &mut help)
        .unwrap()
        .contains("not a subcommand"));
    assert!(check_script("scripts/services", &w("start dynamodb")).is_none());
    assert!(check_script("scripts/services", &w("restart dynamodb")).is_some());
    assert!(check_script("scripts/deploy", &[]).is_some());
    assert!(check_cargo(&w("bench -p lgb-core --bench harness")).is_none());
    assert!(check_cargo(&w("bench -p lgb-core --bench nothing")).is_some());
    assert!(check_paths(&w("run examples/none.json")).is_some());
    assert_eq!(
        commands("```sh\nlgb run a.json \\\n  --set x=1   # why\nscripts/services start a && eval \"$(x)\"\n```\n"),
        [
            (2, "lgb run a.json --set x=1".to_string()),
            (4, "scripts/services start a".to_string()),
            (4, "eval \"$(x)\"".to_string())
        ]
    );
}
