//! What a deployed worker was deployed for, and the check that keeps it there.
//!
//! A worker deployed by infra/ runs with an IAM role, and anyone allowed to invoke it
//! chooses the request. Without a pin, a request could point the worker at any host
//! and have it send a password (or SigV4-signed calls) there. infra/ therefore sets
//! [`DEPLOYMENT_ENV`] on each function to the `database` section of its deployment
//! (the same object `tofu output -json` shows under `lgb_targets.workers.<db>.database`):
//!
//! ```json
//! {"type": "immudb", "address": "immudb.lgb.lgb.internal:3322", "database": "defaultdb",
//!  "password_secret_id": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:lgb/immudb-AbCdEf"}
//! ```
//!
//! A pinned worker runs only that adapter type, and for every option that says where
//! the adapter connects or reads a secret (the adapter's
//! [`crate::database::AdapterOptions::DESTINATIONS`], plus every option the deployment
//! names) it accepts only the deployed value: a request that leaves such an option
//! out gets the deployed value, a request that sets another value (or sets one the
//! deployment leaves unset, such as an `endpoint`) is refused before anything is
//! built or connected, with class `rejected` and a message naming the option and what
//! is deployed. Without the variable (local runs, tests, library users) nothing is
//! pinned. A variable that cannot be read pins the worker to nothing: every request is
//! refused, never run unpinned.

use serde_json::{Map, Value};

use crate::config::DatabaseConfig;
use crate::error::{Error, Result};

/// The environment variable a deployed worker reads its [`Deployment`] from.
pub const DEPLOYMENT_ENV: &str = "LGB_DEPLOYMENT";

/// The database a worker was deployed for. See the [module docs](self).
///
/// ```
/// use lgb_core::config::DatabaseConfig;
/// use lgb_core::worker::Deployment;
///
/// let deployed = Deployment::from_json_str(
///     r#"{"type": "dynamodb", "table": "lgb-bench", "region": "eu-west-1"}"#,
/// ).unwrap();
/// let destinations = ["table", "region", "endpoint"];
///
/// // Left out: the deployed table and region are filled in.
/// let mut asked = DatabaseConfig::new("dynamodb");
/// let ran = deployed.admit(&asked, &destinations).unwrap();
/// assert_eq!(ran.options["table"], "lgb-bench");
///
/// // Another endpoint: refused, naming the option.
/// asked.options.insert("endpoint".into(), "http://10.0.0.9:8000".into());
/// let refused = deployed.admit(&asked, &destinations).unwrap_err();
/// assert_eq!(refused.class(), lgb_core::ErrorClass::Rejected);
/// assert!(refused.to_string().contains("database.endpoint"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    database: DatabaseConfig,
}

impl Deployment {
    /// A deployment of `database`.
    pub fn new(database: DatabaseConfig) -> Self {
        Self { database }
    }

    /// Reads a deployment from its JSON (what [`DEPLOYMENT_ENV`] holds).
    pub fn from_json_str(text: &str) -> Result<Self> {
        let database: DatabaseConfig = serde_json::from_str(text).map_err(|e| {
            Error::config(
                DEPLOYMENT_ENV,
                format!("is not a database section (an object with `type`): {e}"),
            )
        })?;
        if database.kind.trim().is_empty() {
            return Err(Error::config(DEPLOYMENT_ENV, "`type` must not be empty"));
        }
        Ok(Self { database })
    }

    /// The deployment this process's environment names: `Ok(None)` when
    /// [`DEPLOYMENT_ENV`] is unset or empty, an error when it is set but unreadable.
    pub fn from_env() -> Result<Option<Self>> {
        match std::env::var(DEPLOYMENT_ENV) {
            Ok(v) if v.trim().is_empty() => Ok(None),
            Ok(v) => Self::from_json_str(&v).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(Error::config(DEPLOYMENT_ENV, "is not valid UTF-8"))
            }
        }
    }

    /// The deployed database section.
    pub fn database(&self) -> &DatabaseConfig {
        &self.database
    }

    /// The configuration a request for `requested` runs with, or why it may not run
    /// here: another adapter type, or another value of an option in `destinations`
    /// or in the deployment. Options the request leaves out get the deployed value.
    pub fn admit(
        &self,
        requested: &DatabaseConfig,
        destinations: &[&str],
    ) -> Result<DatabaseConfig> {
        if requested.kind != self.database.kind {
            return Err(refusal(vec![format!(
                "database.type: this worker is deployed for `{}`; the request asks for `{}`",
                self.database.kind, requested.kind
            )]));
        }
        let mut admitted = requested.clone();
        let mut problems = Vec::new();
        let deployed_keys = self.database.options.keys().map(String::as_str);
        let mut keys: Vec<&str> = destinations.iter().copied().chain(deployed_keys).collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            let deployed = set(&self.database.options, key);
            match (set(&requested.options, key), deployed) {
                (None, None) => {}
                (None, Some(d)) => {
                    admitted.options.insert(key.to_string(), d.clone());
                }
                (Some(r), Some(d)) if r == d => {}
                (Some(r), Some(d)) => problems.push(format!(
                    "database.{key}: this worker is deployed for {}; the request asks for {}",
                    show(d),
                    show(r)
                )),
                (Some(r), None) => problems.push(format!(
                    "database.{key}: this worker is deployed without it (the default); \
                     the request sets {}",
                    show(r)
                )),
            }
        }
        if problems.is_empty() {
            Ok(admitted)
        } else {
            Err(refusal(problems))
        }
    }
}

/// A refusal of a pinned worker: class `rejected`, never retried by the runner.
fn refusal(problems: Vec<String>) -> Error {
    Error::Rejected(format!(
        "refused by the deployment ({DEPLOYMENT_ENV}): {}",
        problems.join("; ")
    ))
}

/// The option's value, `None` when absent or `null`.
fn set<'a>(options: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    options.get(key).filter(|v| !v.is_null())
}

/// A value for a message: strings in backticks, anything else as JSON, cut short.
fn show(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut cut: String = text.chars().take(120).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    format!("`{cut}`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;

    const IMMUDB: &[&str] = &[
        "address",
        "database",
        "password_secret_id",
        "secrets_manager_endpoint",
    ];

    fn db(v: Value) -> DatabaseConfig {
        serde_json::from_value(v).unwrap()
    }

    fn immudb() -> Deployment {
        Deployment::new(db(serde_json::json!({
            "type": "immudb", "address": "immudb.internal:3322", "database": "defaultdb",
            "password_secret_id": "arn:secret"
        })))
    }

    #[test]
    fn the_exfiltration_request_is_refused_naming_the_address() {
        let asked = db(serde_json::json!({
            "type": "immudb", "address": "198.51.100.7:3322",
            "password_env": "AWS_SECRET_ACCESS_KEY"
        }));
        let e = immudb().admit(&asked, IMMUDB).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Rejected);
        let m = e.to_string();
        assert!(m.contains("database.address"), "{m}");
        assert!(m.contains("immudb.internal:3322"), "{m}");
    }

    #[test]
    fn another_type_is_refused() {
        let e = immudb()
            .admit(&DatabaseConfig::new("memory"), IMMUDB)
            .unwrap_err();
        assert!(e.to_string().contains("database.type"), "{e}");
        assert_eq!(e.class(), ErrorClass::Rejected);
    }

    #[test]
    fn a_destination_the_deployment_leaves_unset_may_not_be_set() {
        let asked = db(serde_json::json!({
            "type": "immudb", "secrets_manager_endpoint": "http://198.51.100.7"
        }));
        let e = immudb().admit(&asked, IMMUDB).unwrap_err();
        assert!(
            e.to_string().contains("database.secrets_manager_endpoint"),
            "{e}"
        );
    }

    #[test]
    fn omitted_options_get_the_deployed_values_and_others_pass() {
        let asked = db(serde_json::json!({"type": "immudb", "verified": true, "address": null}));
        let ran = immudb().admit(&asked, IMMUDB).unwrap();
        assert_eq!(ran.options["address"], "immudb.internal:3322");
        assert_eq!(ran.options["password_secret_id"], "arn:secret");
        assert_eq!(ran.options["verified"], true);
        // Every mismatch is named, not only the first.
        let asked = db(serde_json::json!({"type": "immudb", "address": "a:1", "database": "x"}));
        let m = immudb().admit(&asked, IMMUDB).unwrap_err().to_string();
        assert!(
            m.contains("database.address") && m.contains("database.database"),
            "{m}"
        );
    }

    #[test]
    fn options_the_deployment_names_are_pinned_too() {
        let deployed = Deployment::from_json_str(
            r#"{"type": "dynamodb", "table": "t1", "partition_key": {"name": "pk", "type": "S"}}"#,
        )
        .unwrap();
        let asked = db(serde_json::json!({
            "type": "dynamodb", "table": "t1", "partition_key": {"name": "id", "type": "S"}
        }));
        let m = deployed.admit(&asked, &[]).unwrap_err().to_string();
        assert!(m.contains("database.partition_key"), "{m}");
    }

    #[test]
    fn unreadable_deployments_are_errors() {
        for bad in ["[]", "{}", r#"{"type": ""}"#, "not json"] {
            let e = Deployment::from_json_str(bad).unwrap_err();
            assert_eq!(e.config_problems()[0].path, DEPLOYMENT_ENV, "{bad}");
        }
    }
}
