//! What a deployment of `infra/` says about itself: the `lgb_targets` output that
//! `tofu output -json` (or `terraform output -json`) prints, read into types, and put
//! into a benchmark config for `lgb run --targets FILE`.
//!
//! This module owns the reading and the precedence (a value the config or `--set`
//! gives wins over the deployment's); it does not connect to anything. The shape is
//! documented in infra/README.md ("Outputs") and produced by infra/outputs.tf; a test
//! generates outputs from that file's HCL so a renamed output breaks a test, not a
//! user.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::config::Target;
use crate::error::{Error, Result};

/// The newest `lgb_targets.schema_version` this reader understands.
pub const TARGETS_SCHEMA_VERSION: u32 = 1;

/// The `lgb_targets` output of a deployment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DeployedTargets {
    /// Layout version of the output.
    pub schema_version: u32,
    /// Region of everything deployed.
    pub region: String,
    /// Prefix of every deployed name.
    #[serde(default)]
    pub name_prefix: String,
    /// One worker function per deployed database, by database type.
    pub workers: BTreeMap<String, DeployedWorker>,
}

/// One deployed worker function and the database it was deployed for.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DeployedWorker {
    /// Function name.
    pub function_name: String,
    /// Function ARN.
    #[serde(default)]
    pub function_arn: Option<String>,
    /// Function URL (ends with `/`).
    pub function_url: String,
    /// The URL's auth type (`AWS_IAM` or `NONE`).
    #[serde(default)]
    pub url_auth: Option<String>,
    /// Configured memory (MB).
    #[serde(default)]
    pub memory_mb: Option<u32>,
    /// Function timeout (s).
    #[serde(default)]
    pub timeout_s: Option<u32>,
    /// `x86_64` or `arm64`.
    #[serde(default)]
    pub architecture: Option<String>,
    /// CloudWatch log group.
    #[serde(default)]
    pub log_group: Option<String>,
    /// The config's `database` section for this deployment (adapter options under
    /// lgb's names; `null` means not set).
    pub database: serde_json::Map<String, Value>,
}

/// One config value that came from the deployment, for the run to print.
#[derive(Debug, Clone, PartialEq)]
pub struct FilledSetting {
    /// Its JSON path in the config, for example `database.table`.
    pub path: String,
    /// The value put there.
    pub value: Value,
}

impl DeployedTargets {
    /// Reads what `tofu output -json` printed (its `lgb_targets.value`), or the bare
    /// `lgb_targets` value. `source` names the file in errors.
    pub fn from_json_str(text: &str, source: &str) -> Result<Self> {
        let not_outputs = |why: String| {
            Error::config(
                "--targets",
                format!(
                    "{source} is not Terraform/OpenTofu output JSON of infra/ (what \
                     `tofu output -json > outputs.json` writes): {why}"
                ),
            )
        };
        let doc: Value =
            serde_json::from_str(text).map_err(|e| not_outputs(format!("not JSON ({e})")))?;
        let value = match doc.get("lgb_targets") {
            Some(output) => output.get("value").ok_or_else(|| {
                not_outputs(
                    "`lgb_targets` has no `value` (an output has `sensitive`, `type` and `value`)"
                        .into(),
                )
            })?,
            None if doc.get("workers").is_some() && doc.get("schema_version").is_some() => &doc,
            None => {
                let names: Vec<&str> = doc
                    .as_object()
                    .map(|o| o.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                return Err(not_outputs(if names.is_empty() {
                    "it has no outputs".into()
                } else {
                    format!(
                        "it has no `lgb_targets` output (it has: {})",
                        names.join(", ")
                    )
                }));
            }
        };
        let targets: DeployedTargets = serde_path_to_error::deserialize(value).map_err(|e| {
            not_outputs(format!("at lgb_targets.value.{}: {}", e.path(), e.inner()))
        })?;
        if targets.schema_version > TARGETS_SCHEMA_VERSION {
            return Err(not_outputs(format!(
                "its schema_version {} is newer than this lgb understands ({TARGETS_SCHEMA_VERSION}); upgrade lgb",
                targets.schema_version
            )));
        }
        Ok(targets)
    }

    /// Reads a file written by `tofu output -json`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        Self::from_json_str(&text, &path.display().to_string())
    }

    /// The deployed database types, sorted.
    pub fn deployed(&self) -> Vec<&str> {
        self.workers.keys().map(String::as_str).collect()
    }

    /// Puts the deployment into `config` (a config document, `--set` overrides already
    /// applied) for `target`: the worker of `database.type` as `runner.function` (and
    /// `runner.url` for target `url`), the region and URL auth into `runner.options`,
    /// and the deployed database settings into `database`. Values the config already
    /// has are kept. Returns what was filled in.
    pub fn apply(&self, config: &mut Value, target: Target) -> Result<Vec<FilledSetting>> {
        if target == Target::Local {
            return Err(Error::config(
                "runner.target",
                "--targets names deployed Lambda workers; use --target lambda or --target url",
            ));
        }
        let kind = config
            .pointer("/database/type")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::config("database.type", "is needed to pick a deployed worker"))?
            .to_string();
        let worker = self.workers.get(&kind).ok_or_else(|| {
            Error::config(
                "database.type",
                format!(
                    "`{kind}` is not deployed by these targets; deployed: {}",
                    if self.workers.is_empty() {
                        "none".to_string()
                    } else {
                        self.deployed().join(", ")
                    }
                ),
            )
        })?;
        if let Some(t) = worker.database.get("type").and_then(Value::as_str) {
            if t != kind {
                return Err(Error::config(
                    "--targets",
                    format!("the worker deployed for `{kind}` is set up for database type `{t}`"),
                ));
            }
        }
        let root = config
            .as_object_mut()
            .ok_or_else(|| Error::config("", "a config is a JSON object"))?;
        let mut filled = Vec::new();
        let mut fill = |section: &mut serde_json::Map<String, Value>,
                        prefix: &str,
                        key: &str,
                        value: Value| {
            if value.is_null() || section.get(key).is_some_and(|v| !v.is_null()) {
                return;
            }
            filled.push(FilledSetting {
                path: format!("{prefix}{key}"),
                value: value.clone(),
            });
            section.insert(key.to_string(), value);
        };
        {
            let runner = object_at(root, "runner")?;
            fill(
                runner,
                "runner.",
                "function",
                Value::from(worker.function_name.clone()),
            );
            if target == Target::Url {
                fill(
                    runner,
                    "runner.",
                    "url",
                    Value::from(worker.function_url.clone()),
                );
            }
            let options = object_at(runner, "options")?;
            fill(
                options,
                "runner.options.",
                "region",
                Value::from(self.region.clone()),
            );
            if target == Target::Url {
                if let Some(auth) = &worker.url_auth {
                    fill(
                        options,
                        "runner.options.",
                        "auth",
                        Value::from(auth.clone()),
                    );
                }
            }
        }
        let database = object_at(root, "database")?;
        for (key, value) in &worker.database {
            if key != "type" {
                fill(database, "database.", key, value.clone());
            }
        }
        Ok(filled)
    }
}

/// The object under `key`, made if absent.
fn object_at<'a>(
    parent: &'a mut serde_json::Map<String, Value>,
    key: &str,
) -> Result<&'a mut serde_json::Map<String, Value>> {
    parent
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Default::default()))
        .as_object_mut()
        .ok_or_else(|| Error::config(key, "must be an object"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outputs() -> Value {
        json!({
            "function_names": {"sensitive": false, "type": ["map", "string"], "value": {"dynamodb": "lgb-dynamodb"}},
            "lgb_targets": {"sensitive": false, "type": ["object", {}], "value": {
                "schema_version": 1, "region": "eu-west-1", "name_prefix": "lgb",
                "workers": {
                    "dynamodb": {
                        "function_name": "lgb-dynamodb",
                        "function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:lgb-dynamodb",
                        "function_url": "https://abc.lambda-url.eu-west-1.on.aws/",
                        "url_auth": "AWS_IAM", "memory_mb": 1024, "timeout_s": 300,
                        "architecture": "x86_64", "log_group": "/aws/lambda/lgb-dynamodb",
                        "database": {"type": "dynamodb", "table": "lgb-bench", "region": "eu-west-1",
                                     "partition_key": {"name": "pk", "type": "S"}, "sort_key": null}
                    },
                    "immudb": {
                        "function_name": "lgb-immudb",
                        "function_url": "https://def.lambda-url.eu-west-1.on.aws/",
                        "database": {"type": "immudb", "address": "immudb.lgb.internal:3322",
                                     "database": "defaultdb", "password_secret_id": "arn:aws:secretsmanager:eu-west-1:1:secret:lgb/immudb"}
                    }
                }
            }}
        })
    }

    #[test]
    fn fills_what_the_config_leaves_open_and_says_so() {
        let t = DeployedTargets::from_json_str(&outputs().to_string(), "outputs.json").unwrap();
        assert_eq!(t.deployed(), ["dynamodb", "immudb"]);
        let mut cfg = json!({"database": {"type": "dynamodb", "region": "us-east-2"}, "tests": []});
        let filled = t.apply(&mut cfg, Target::Url).unwrap();
        let paths: Vec<&str> = filled.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "runner.function",
                "runner.url",
                "runner.options.region",
                "runner.options.auth",
                "database.partition_key",
                "database.table"
            ]
        );
        assert_eq!(
            cfg["runner"]["url"],
            "https://abc.lambda-url.eu-west-1.on.aws/"
        );
        assert_eq!(cfg["runner"]["function"], "lgb-dynamodb");
        // The config's own region wins; a null (sort_key) sets nothing.
        assert_eq!(cfg["database"]["region"], "us-east-2");
        assert!(cfg["database"].get("sort_key").is_none());
        assert_eq!(cfg["database"]["table"], "lgb-bench");

        let mut cfg =
            json!({"database": {"type": "immudb"}, "runner": {"function": "mine"}, "tests": []});
        let filled = t.apply(&mut cfg, Target::Lambda).unwrap();
        assert!(!filled.iter().any(|f| f.path == "runner.function"));
        assert_eq!(cfg["runner"]["function"], "mine");
        assert!(cfg["runner"].get("url").is_none());
        assert_eq!(cfg["database"]["address"], "immudb.lgb.internal:3322");
    }

    #[test]
    fn an_undeployed_type_names_the_deployed_ones() {
        let t = DeployedTargets::from_json_str(&outputs().to_string(), "outputs.json").unwrap();
        let mut cfg = json!({"database": {"type": "timestream"}, "tests": []});
        let err = t.apply(&mut cfg, Target::Lambda).unwrap_err();
        assert_eq!(err.config_problems()[0].path, "database.type");
        assert!(
            err.to_string().contains("deployed: dynamodb, immudb"),
            "{err}"
        );
        let err = t.apply(&mut cfg, Target::Local).unwrap_err();
        assert_eq!(err.config_problems()[0].path, "runner.target");
    }

    #[test]
    fn other_files_are_refused_saying_what_they_are_not() {
        for (text, why) in [
            ("name,value\n", "not JSON"),
            (
                r#"{"database": {"type": "memory"}}"#,
                "no `lgb_targets` output (it has: database)",
            ),
            (r#"{"lgb_targets": {"sensitive": false}}"#, "has no `value`"),
            (
                r#"{"lgb_targets": {"value": {"schema_version": 1, "region": "r", "workers": {"dynamodb": {"function_name": "f"}}}}}"#,
                "workers.dynamodb",
            ),
            (
                r#"{"lgb_targets": {"value": {"schema_version": 9, "region": "r", "workers": {}}}}"#,
                "upgrade lgb",
            ),
        ] {
            let err = DeployedTargets::from_json_str(text, "x.json").unwrap_err();
            assert_eq!(err.config_problems()[0].path, "--targets", "{err}");
            let msg = err.to_string();
            assert!(
                msg.contains("x.json is not Terraform/OpenTofu output JSON"),
                "{msg}"
            );
            assert!(msg.contains(why), "{why}: {msg}");
        }
        // The bare `lgb_targets` value is accepted too.
        let bare = outputs()["lgb_targets"]["value"].to_string();
        assert_eq!(
            DeployedTargets::from_json_str(&bare, "v.json")
                .unwrap()
                .region,
            "eu-west-1"
        );
    }
}
