//! Typed runner targets: what `runner.target`, `runner.function`, `runner.url` and
//! `runner.options` mean together for each target, checked here so that `lgb validate`
//! refuses what an invoker would refuse, with the JSON path of each problem, before
//! anything connects.
//!
//! The document keeps `runner.options` as a map (configs written so far stay valid, and
//! `--set runner.options.qualifier=7` works); [`RunnerConfig::target_spec`] turns it
//! into [`LambdaOptions`] or [`UrlOptions`]. The invokers in `runner` build from these
//! typed values only. This module must not know the AWS SDKs or the invokers.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{RunnerConfig, Target};
use crate::error::{ConfigProblem, Error, Result};

/// Keys of `runner.options` for `target: lambda`.
pub const LAMBDA_OPTIONS: &[&str] = &["endpoint", "qualifier", "region", "profile"];
/// Keys of `runner.options` for `target: url`. `endpoint` is the Lambda API's, used
/// only to change the function's configuration (`runner.cold_start: force`, sweeps).
pub const URL_OPTIONS: &[&str] = &["auth", "region", "profile", "endpoint"];

/// Longest Lambda function name or ARN the Invoke API takes.
const MAX_FUNCTION_LEN: usize = 170;

/// How a Function URL authenticates callers (its `AuthType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
pub enum UrlAuth {
    /// `AWS_IAM`: requests are signed with SigV4 (service `lambda`).
    #[default]
    #[serde(rename = "AWS_IAM")]
    AwsIam,
    /// `NONE`: public URL, requests are sent unsigned.
    #[serde(rename = "NONE")]
    None,
}

impl UrlAuth {
    /// Parses `AWS_IAM` / `iam` / `NONE` / `none` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "AWS_IAM" | "IAM" => Some(UrlAuth::AwsIam),
            "NONE" => Some(UrlAuth::None),
            _ => None,
        }
    }
}

/// `runner.options` of `target: lambda`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
pub struct LambdaOptions {
    /// Version or alias to invoke.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    /// AWS region; default: the standard chain (`AWS_REGION`, profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// AWS profile for credentials and region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Endpoint of the Invoke API (an `http://` or `https://` URL; a local emulator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// `runner.options` of `target: url`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
pub struct UrlOptions {
    /// The URL's auth type: `AWS_IAM` (default; requests are signed) or `NONE`.
    pub auth: UrlAuth,
    /// Region to sign for; default: the URL's own region, then the AWS chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// AWS profile for credentials and region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Endpoint of the Lambda API, for changing the function's configuration
    /// (`cold_start: "force"`, `lgb sweep`); an `http://` or `https://` URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// `target: lambda`, checked: the function and its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LambdaTarget {
    /// Function name, partial or full ARN (`runner.function`).
    pub function: String,
    /// `runner.options`.
    pub options: LambdaOptions,
}

/// `target: url`, checked: the Function URL and its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct UrlTarget {
    /// The Function URL (`runner.url`), `http://` or `https://`.
    pub url: String,
    /// `runner.options`.
    pub options: UrlOptions,
}

/// Where workers run, with everything that target needs, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "target", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TargetSpec {
    /// In this process; `runner.options` is not read.
    Local,
    /// AWS Lambda through the Invoke API.
    Lambda(LambdaTarget),
    /// A Lambda Function URL.
    Url(UrlTarget),
}

impl RunnerConfig {
    /// The typed target: `runner.target` with the fields and `runner.options` it reads,
    /// or every problem, each with its JSON path (`runner.options.endpoint`). Connects
    /// to nothing; `lgb validate` and the invokers both call it.
    pub fn target_spec(&self) -> Result<TargetSpec> {
        match self.target {
            Target::Local => Ok(TargetSpec::Local),
            Target::Lambda => self.lambda_target().map(TargetSpec::Lambda),
            Target::Url => self.url_target().map(TargetSpec::Url),
        }
    }

    /// `runner.function` and `runner.options` read as a Lambda target, whatever
    /// `runner.target` says.
    pub fn lambda_target(&self) -> Result<LambdaTarget> {
        let mut problems = Vec::new();
        let mut options = string_options(&self.options, LAMBDA_OPTIONS, "lambda", &mut problems);
        let endpoint = options.remove("endpoint");
        if let Some(e) = &endpoint {
            if let Err(p) = check_url(e, "runner.options.endpoint") {
                problems.push(p);
            }
        }
        let function = match self.function_name("target `lambda` needs") {
            Ok(f) => f,
            Err(p) => {
                problems.push(p);
                String::new()
            }
        };
        if !problems.is_empty() {
            return Err(Error::Config(sorted(problems)));
        }
        Ok(LambdaTarget {
            function,
            options: LambdaOptions {
                qualifier: options.remove("qualifier"),
                region: options.remove("region"),
                profile: options.remove("profile"),
                endpoint,
            },
        })
    }

    /// `runner.function`, trimmed, if it can be a Lambda function name or ARN; otherwise
    /// the problem, whose message starts with `who` when it is missing (`target
    /// \`lambda\` needs`).
    pub(crate) fn function_name(&self, who: &str) -> std::result::Result<String, ConfigProblem> {
        match self
            .function
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            None => Err(ConfigProblem::new(
                "runner.function",
                format!(
                    "{who} the function's name or ARN (--set runner.function=NAME, or --targets)"
                ),
            )),
            Some(f) if f.len() > MAX_FUNCTION_LEN || f.chars().any(char::is_whitespace) => {
                Err(ConfigProblem::new(
                    "runner.function",
                    format!("`{f}` is not a Lambda function name or ARN"),
                ))
            }
            Some(f) => Ok(f.to_string()),
        }
    }

    /// `runner.url` and `runner.options` read as a Function URL target, whatever
    /// `runner.target` says.
    pub fn url_target(&self) -> Result<UrlTarget> {
        let mut problems = Vec::new();
        let mut options = string_options(&self.options, URL_OPTIONS, "url", &mut problems);
        let endpoint = options.remove("endpoint");
        if let Some(e) = &endpoint {
            if let Err(p) = check_url(e, "runner.options.endpoint") {
                problems.push(p);
            }
        }
        let auth = match options.remove("auth") {
            None => UrlAuth::default(),
            Some(a) => UrlAuth::parse(&a).unwrap_or_else(|| {
                problems.push(ConfigProblem::new(
                    "runner.options.auth",
                    format!("`{a}` is not a Function URL auth type; use AWS_IAM or NONE"),
                ));
                UrlAuth::default()
            }),
        };
        let url = match self.url.as_deref() {
            None => {
                problems.push(ConfigProblem::new(
                    "runner.url",
                    "target `url` needs the Function URL (--set runner.url=https://…)",
                ));
                None
            }
            Some(u) => match check_url(u, "runner.url") {
                Ok(u) => Some(u),
                Err(p) => {
                    problems.push(p);
                    None
                }
            },
        };
        if !problems.is_empty() {
            return Err(Error::Config(sorted(problems)));
        }
        Ok(UrlTarget {
            url: url.unwrap_or_default(),
            options: UrlOptions {
                auth,
                region: options.remove("region"),
                profile: options.remove("profile"),
                endpoint,
            },
        })
    }

    /// Every problem of the typed target (none for `local`), for validation.
    pub(crate) fn target_problems(&self) -> Vec<ConfigProblem> {
        match self.target_spec() {
            Ok(_) => Vec::new(),
            Err(e) => e.config_problems().to_vec(),
        }
    }
}

/// Problems in path order, so that a report reads like the document.
fn sorted(mut problems: Vec<ConfigProblem>) -> Vec<ConfigProblem> {
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    problems
}

/// `url`, trimmed, if it is an `http://` or `https://` URL with a host; otherwise the
/// problem at `path`.
pub(crate) fn check_url(url: &str, path: &str) -> std::result::Result<String, ConfigProblem> {
    let url = url.trim();
    let host = match url.split_once("://") {
        Some(("http" | "https", rest)) => rest.split(['/', '?', '#']).next().unwrap_or(""),
        _ => "",
    };
    if host.is_empty() || host.chars().any(char::is_whitespace) {
        return Err(ConfigProblem::new(
            path,
            format!("`{url}` is not an http:// or https:// URL"),
        ));
    }
    Ok(url.to_string())
}

/// `runner.options` as strings, pushing a problem for each key the target does not
/// know and each value that is not a non-empty string or a number (`--set
/// runner.options.qualifier=7` arrives as a number).
fn string_options(
    options: &BTreeMap<String, serde_json::Value>,
    known: &[&str],
    target: &str,
    problems: &mut Vec<ConfigProblem>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in options {
        let path = format!("runner.options.{k}");
        if !known.contains(&k.as_str()) {
            problems.push(ConfigProblem::new(
                path,
                format!(
                    "unknown option for target `{target}`; known: {}",
                    known.join(", ")
                ),
            ));
            continue;
        }
        match v {
            serde_json::Value::String(s) if !s.trim().is_empty() => {
                out.insert(k.clone(), s.trim().to_string());
            }
            serde_json::Value::Number(n) => {
                out.insert(k.clone(), n.to_string());
            }
            _ => problems.push(ConfigProblem::new(path, "must be a non-empty string")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(target: Target, json: serde_json::Value) -> RunnerConfig {
        let mut r: RunnerConfig = serde_json::from_value(json).unwrap();
        r.target = target;
        r
    }

    fn paths(e: Error) -> Vec<String> {
        e.config_problems().iter().map(|p| p.path.clone()).collect()
    }

    #[test]
    fn lambda_targets_are_typed_and_every_problem_is_named() {
        let r = runner(
            Target::Lambda,
            serde_json::json!({"function": "f", "options": {"qualifier": 7, "region": "eu-west-1"}}),
        );
        let TargetSpec::Lambda(t) = r.target_spec().unwrap() else {
            panic!("not a lambda target")
        };
        assert_eq!(t.function, "f");
        assert_eq!(t.options.qualifier.as_deref(), Some("7"));
        assert_eq!(t.options.region.as_deref(), Some("eu-west-1"));
        let r = runner(
            Target::Lambda,
            serde_json::json!({"options": {"qualifer": "live", "endpoint": "127.0.0.1:9"}}),
        );
        let err = r.target_spec().unwrap_err();
        assert_eq!(
            paths(err),
            [
                "runner.function",
                "runner.options.endpoint",
                "runner.options.qualifer"
            ]
        );
        let r = runner(
            Target::Lambda,
            serde_json::json!({"function": "my function"}),
        );
        assert!(r
            .lambda_target()
            .unwrap_err()
            .to_string()
            .contains("not a Lambda function name"));
    }

    #[test]
    fn url_targets_are_typed_and_every_problem_is_named() {
        let r = runner(
            Target::Url,
            serde_json::json!({"url": " https://x.lambda-url.eu-west-1.on.aws/ ", "options": {"auth": "none"}}),
        );
        let TargetSpec::Url(t) = r.target_spec().unwrap() else {
            panic!("not a url target")
        };
        assert_eq!(t.url, "https://x.lambda-url.eu-west-1.on.aws/");
        assert_eq!(t.options.auth, UrlAuth::None);
        let r = runner(
            Target::Url,
            serde_json::json!({"url": "ftp://x", "options": {"auth": "basic", "qualifier": "1"}}),
        );
        assert_eq!(
            paths(r.target_spec().unwrap_err()),
            [
                "runner.options.auth",
                "runner.options.qualifier",
                "runner.url"
            ]
        );
        for bad in ["http://", "https:// x", "127.0.0.1:9"] {
            assert!(check_url(bad, "p").is_err(), "{bad} passed");
        }
        assert_eq!(UrlAuth::parse("aws_iam"), Some(UrlAuth::AwsIam));
        assert_eq!(UrlAuth::parse("basic"), None);
    }

    #[test]
    fn local_reads_no_options() {
        let r = runner(
            Target::Local,
            serde_json::json!({"options": {"anything": 1}}),
        );
        assert_eq!(r.target_spec().unwrap(), TargetSpec::Local);
        assert!(r.target_problems().is_empty());
    }
}
