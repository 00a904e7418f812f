//! Sample `tofu output -json` documents generated from infra/outputs.tf itself, so a
//! renamed or removed output (or field of `lgb_targets`) breaks the tests that read
//! them, not a user.
//!
//! It reads just enough HCL: `output "NAME" { value = … }` blocks, object bodies of
//! `key = value` lines, `{ for db, x in … : db => { … } }` maps (one entry per database
//! of `local.database_settings`), and scalars (an expression to the end of its line).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// infra/outputs.tf of this repository.
pub fn outputs_tf() -> String {
    let path = crate::services::repo_root().join("infra/outputs.tf");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// One parsed HCL value.
#[derive(Debug, Clone)]
pub enum Hcl {
    /// `{ key = value … }`
    Object(Vec<(String, Hcl)>),
    /// `{ for k, v in … : k => VALUE }`
    ForMap(Box<Hcl>),
    /// Anything else, as written.
    Scalar(String),
}

/// The `value` of every `output` block, by output name.
pub fn outputs(hcl: &str) -> BTreeMap<String, Hcl> {
    let mut out = BTreeMap::new();
    let mut rest = hcl;
    while let Some(i) = rest.find("output \"") {
        let after = &rest[i + 8..];
        let name_end = after.find('"').expect("output name ends");
        let name = after[..name_end].to_string();
        let open = after.find('{').expect("output block opens");
        let close = matching(after, open);
        let body = parse_object(&after[open + 1..close]);
        let value = body
            .into_iter()
            .find(|(k, _)| k == "value")
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("output {name} has no value"));
        out.insert(name, value);
        rest = &after[close..];
    }
    out
}

/// The object of `locals { NAME = { … } }`.
pub fn local(hcl: &str, name: &str) -> Hcl {
    let start = hcl.find("locals {").expect("a locals block");
    let after = &hcl[start + 7..];
    let close = matching(after, 0);
    parse_object(&after[1..close])
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no local {name}"))
}

/// Index of the brace closing the one at `open`.
fn matching(s: &str, open: usize) -> usize {
    let mut depth = 0;
    let mut in_string = false;
    for (i, c) in s.char_indices().skip_while(|(i, _)| *i < open) {
        match c {
            '"' => in_string = !in_string,
            '{' | '[' if !in_string => depth += 1,
            '}' | ']' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces in: {s}")
}

fn parse_value(text: &str) -> (Hcl, usize) {
    let trimmed = text.trim_start();
    let lead = text.len() - trimmed.len();
    if trimmed.starts_with('{') {
        let close = matching(trimmed, 0);
        let inner = &trimmed[1..close];
        let value = match inner.trim_start().strip_prefix("for ") {
            Some(f) => {
                let arrow = f.find("=>").expect("for expression has =>");
                let (v, _) = parse_value(&f[arrow + 2..]);
                Hcl::ForMap(Box::new(v))
            }
            None => Hcl::Object(parse_object(inner)),
        };
        (value, lead + close + 1)
    } else {
        let end = trimmed.find('\n').unwrap_or(trimmed.len());
        (Hcl::Scalar(trimmed[..end].trim().to_string()), lead + end)
    }
}

fn parse_object(body: &str) -> Vec<(String, Hcl)> {
    let mut fields = Vec::new();
    let mut rest = body;
    loop {
        rest = rest.trim_start();
        while rest.starts_with('#') {
            rest = rest[rest.find('\n').unwrap_or(rest.len())..].trim_start();
        }
        if rest.is_empty() {
            return fields;
        }
        let Some(eq) = rest.find('=') else {
            return fields;
        };
        let key = rest[..eq].trim().trim_matches('"').to_string();
        let (value, used) = parse_value(&rest[eq + 1..]);
        fields.push((key, value));
        rest = &rest[eq + 1 + used..];
    }
}

/// A JSON value for `hcl`: objects keep their keys, `for` maps get one entry per
/// name of `keys`, and scalars take `scalar(path)` (`path` like
/// `workers.dynamodb.function_name`), or a placeholder.
pub fn sample(
    hcl: &Hcl,
    path: &str,
    keys: &[String],
    scalar: &dyn Fn(&str) -> Option<Value>,
) -> Value {
    match hcl {
        Hcl::Object(fields) => {
            let mut m = Map::new();
            for (k, v) in fields {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                m.insert(k.clone(), sample(v, &p, keys, scalar));
            }
            Value::Object(m)
        }
        Hcl::ForMap(v) => Value::Object(
            keys.iter()
                .map(|k| (k.clone(), sample(v, &format!("{path}.{k}"), keys, scalar)))
                .collect(),
        ),
        Hcl::Scalar(expr) => scalar(path).unwrap_or_else(|| placeholder(path, expr)),
    }
}

fn placeholder(path: &str, expr: &str) -> Value {
    let last = path.rsplit('.').next().unwrap_or(path);
    if let Ok(n) = expr.parse::<u64>() {
        return json!(n);
    }
    // A plain string literal (`type = "dynamodb"`) is its own value.
    if let Some(inner) = expr.strip_prefix('"').and_then(|e| e.strip_suffix('"')) {
        if !inner.contains("${") {
            return json!(inner);
        }
    }
    match last {
        "memory_mb" | "timeout_s" => json!(1024),
        "sort_key" => Value::Null,
        _ => json!(format!("sample-{}", path.replace('.', "-"))),
    }
}

/// The document `tofu output -json` would print for a deployment of `databases`,
/// shaped by infra/outputs.tf: each output as `{"sensitive", "type", "value"}`, the
/// `database` of each worker from `local.database_settings`. `scalar` picks values
/// by path (`lgb_targets.workers.dynamodb.database.table`).
pub fn sample_outputs(databases: &[&str], scalar: &dyn Fn(&str) -> Option<Value>) -> Value {
    let hcl = outputs_tf();
    let settings = local(&hcl, "database_settings");
    let keys: Vec<String> = databases.iter().map(|d| d.to_string()).collect();
    let mut doc = Map::new();
    for (name, value) in outputs(&hcl) {
        let mut v = sample(&value, &name, &keys, scalar);
        if name == "lgb_targets" {
            if let (Hcl::Object(db_fields), Some(workers)) = (
                &settings,
                v.get_mut("workers").and_then(Value::as_object_mut),
            ) {
                for (db, worker) in workers.iter_mut() {
                    let def = db_fields
                        .iter()
                        .find(|(k, _)| k == db)
                        .unwrap_or_else(|| panic!("local.database_settings has no {db}"));
                    worker["database"] = sample(
                        &def.1,
                        &format!("lgb_targets.workers.{db}.database"),
                        &keys,
                        scalar,
                    );
                }
            }
        }
        doc.insert(
            name,
            json!({"sensitive": false, "type": "generated from infra/outputs.tf", "value": v}),
        );
    }
    Value::Object(doc)
}
