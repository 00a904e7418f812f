//! Helpers shared by the integration tests: local services and the adapter
//! conformance suite.
#![allow(dead_code, missing_docs)]

pub mod conformance;
pub mod exec;
pub mod proxy;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The repository root (where `scripts/services` lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `export`ed variables of local service `name` (`dynamodb`, `immudb`,
/// `timestream`, `lambda-rie`), starting it with `scripts/services start` when it is
/// not running. A service that cannot start fails the test loudly: tests never skip.
///
/// If the service's endpoint variable (for example `LGB_DYNAMODB_ENDPOINT`) is already
/// set in the environment, the environment is used as it is and nothing is started.
pub fn service_env(name: &str) -> HashMap<String, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, HashMap<String, String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(env) = cache.lock().unwrap().get(name) {
        return env.clone();
    }
    let var = format!("LGB_{}_ENDPOINT", name.to_uppercase().replace('-', "_"));
    let env = if std::env::var(&var).is_ok() {
        std::env::vars().collect()
    } else {
        let script = repo_root().join("scripts/services");
        let out = Command::new(&script)
            .args(["start", name])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "service `{name}` did not start:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(&script)
            .args(["env", name])
            .output()
            .expect("scripts/services env");
        assert!(out.status.success(), "scripts/services env {name} failed");
        let mut env: HashMap<String, String> = std::env::vars().collect();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((k, v)) = line
                .trim()
                .strip_prefix("export ")
                .and_then(|l| l.split_once('='))
            {
                env.insert(
                    k.to_string(),
                    v.trim_matches('"').trim_matches('\'').to_string(),
                );
            }
        }
        env
    };
    assert!(env.contains_key(&var), "service `{name}` gave no {var}");
    cache.lock().unwrap().insert(name.to_string(), env.clone());
    env
}

/// The endpoint of AWS-protocol service `name` (`dynamodb` or `timestream`, both moto
/// servers); puts the service's AWS_* defaults into this process's environment (where
/// not already set), so that the standard credential chain finds them.
pub fn aws_endpoint(name: &str) -> String {
    let env = service_env(name);
    static ENV_SET: std::sync::Once = std::sync::Once::new();
    ENV_SET.call_once(|| {
        for var in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
        ] {
            if std::env::var_os(var).is_none() {
                let value = env
                    .get(var)
                    .unwrap_or_else(|| panic!("scripts/services env gave no {var}"));
                std::env::set_var(var, value);
            }
        }
    });
    let var = format!("LGB_{}_ENDPOINT", name.to_uppercase());
    env[&var].clone()
}

/// A key prefix unique to this test process, so tests against long-lived services
/// never see each other's data.
pub fn unique_prefix(test: &str) -> String {
    static RUN: OnceLock<String> = OnceLock::new();
    let run = RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("{:x}{:x}", std::process::id(), nanos % 0xffff_ffff)
    });
    format!("t{run}-{test}-")
}
