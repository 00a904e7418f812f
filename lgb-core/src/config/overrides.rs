//! `--set path=value` overrides applied to the raw JSON before validation.

use serde_json::Value;

use crate::error::{Error, Result};

/// One step of an override path.
#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
}

fn parse_path(path: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            match name.parse::<usize>() {
                Ok(i) if steps.last().is_some() => steps.push(Step::Index(i)),
                _ => steps.push(Step::Field(name.to_string())),
            }
        } else if rest.is_empty() {
            return None;
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let end = stripped.find(']')?;
            steps.push(Step::Index(stripped[..end].parse().ok()?));
            rest = &stripped[end + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    (!steps.is_empty()).then_some(steps)
}

/// Applies one override `path=value` to `doc`.
///
/// `path` uses dots and indexes (`tests[0].concurrency` or `tests.0.concurrency`);
/// `value` is parsed as JSON when it can be (`8`, `true`, `{"a":1}`) and taken as a
/// string otherwise (`30s`). Missing objects on the way are created.
///
/// ```
/// let mut doc = serde_json::json!({"tests": [{"name": "a"}]});
/// lgb_core::config::apply_override(&mut doc, "tests[0].concurrency=8").unwrap();
/// lgb_core::config::apply_override(&mut doc, "tests.0.duration=30s").unwrap();
/// assert_eq!(doc["tests"][0]["concurrency"], 8);
/// assert_eq!(doc["tests"][0]["duration"], "30s");
/// ```
pub fn apply_override(doc: &mut Value, spec: &str) -> Result<()> {
    let (path, raw) = spec.split_once('=').ok_or_else(|| {
        Error::config(
            format!("--set {spec}"),
            "expected PATH=VALUE, for example tests[0].concurrency=8",
        )
    })?;
    let path = path.trim();
    let steps = parse_path(path)
        .ok_or_else(|| Error::config(format!("--set {path}"), "not a valid path"))?;
    let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    let mut here = doc;
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        here = match step {
            Step::Field(name) => {
                if here.is_null() {
                    *here = Value::Object(Default::default());
                }
                let obj = here.as_object_mut().ok_or_else(|| {
                    Error::config(
                        format!("--set {path}"),
                        format!("`{name}` is inside a value that is not an object"),
                    )
                })?;
                if last {
                    obj.insert(name.clone(), value);
                    return Ok(());
                }
                obj.entry(name.clone()).or_insert(Value::Null)
            }
            Step::Index(idx) => {
                let arr = here.as_array_mut().ok_or_else(|| {
                    Error::config(
                        format!("--set {path}"),
                        format!("[{idx}] indexes a value that is not an array"),
                    )
                })?;
                let len = arr.len();
                let slot = arr.get_mut(*idx).ok_or_else(|| {
                    Error::config(
                        format!("--set {path}"),
                        format!("index {idx} is out of range (the array has {len} items)"),
                    )
                })?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_parse_both_styles() {
        assert_eq!(
            parse_path("tests[1].op").unwrap(),
            vec![
                Step::Field("tests".into()),
                Step::Index(1),
                Step::Field("op".into())
            ]
        );
        assert_eq!(parse_path("tests.1.op"), parse_path("tests[1].op"));
        assert!(parse_path("a..b").is_none());
        assert!(parse_path("a[x]").is_none());
    }

    #[test]
    fn creates_objects_and_rejects_bad_targets() {
        let mut doc = json!({"tests": [{"name": "a"}], "n": 3});
        apply_override(&mut doc, "runner.workers=4").unwrap();
        assert_eq!(doc["runner"]["workers"], 4);
        apply_override(&mut doc, "database={\"type\":\"memory\"}").unwrap();
        assert_eq!(doc["database"]["type"], "memory");
        let err = apply_override(&mut doc, "tests[3].name=x").unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
        let err = apply_override(&mut doc, "n.x=1").unwrap_err();
        assert!(err.to_string().contains("not an object"), "{err}");
        assert!(apply_override(&mut doc, "novalue").is_err());
    }
}
