//! The local services of `scripts/services` (moto for DynamoDB and Timestream, immudb,
//! InfluxDB 1.6.7, the Lambda Runtime Interface Emulator) as tests reach them. A service that cannot
//! start fails the test loudly with the script's output: tests never skip.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The repository root (where `scripts/services` lives). Found at run time from the
/// directory of the crate under test (cargo sets `CARGO_MANIFEST_DIR` for test
/// binaries), so that a test kit built in another checkout sharing the target
/// directory still finds this one; at compile time's place otherwise.
pub fn repo_root() -> PathBuf {
    let at_run_time = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .and_then(|crate_dir| {
            crate_dir
                .ancestors()
                .find(|d| d.join("scripts/services").is_file())
                .map(PathBuf::from)
        });
    at_run_time.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("lgb-testkit sits in the repository root")
            .to_path_buf()
    })
}

/// The path of `scripts/services`.
pub fn script() -> PathBuf {
    repo_root().join("scripts/services")
}

/// Runs `scripts/services ARGS` and returns its standard output; panics with its
/// output when it fails.
pub fn run(args: &[&str]) -> String {
    let script = script();
    let out = Command::new(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "scripts/services {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A free TCP port on 127.0.0.1 (`scripts/services free-port`).
pub fn free_port() -> u16 {
    run(&["free-port"])
        .trim()
        .parse()
        .expect("scripts/services free-port prints a port")
}

/// The name of service `name`'s endpoint variable: `LGB_DYNAMODB_ENDPOINT`,
/// `LGB_LAMBDA_RIE_ENDPOINT`, …
pub fn endpoint_var(name: &str) -> String {
    format!("LGB_{}_ENDPOINT", name.to_uppercase().replace('-', "_"))
}

/// The `export`ed variables of `scripts/services env` output.
pub fn parse_exports(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.trim_matches(|c| c == '"' || c == '\'').to_string(),
            )
        })
        .collect()
}

/// This process's environment plus the variables of local service `name`
/// (`dynamodb`, `immudb`, `timestream`, `lambda-rie`), starting it with
/// `scripts/services start` when it is not running.
///
/// If the service's endpoint variable (for example `LGB_DYNAMODB_ENDPOINT`) is already
/// set in the environment (`eval "$(scripts/services env)"`), the environment is used
/// as it is and nothing is started.
pub fn service_env(name: &str) -> HashMap<String, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, HashMap<String, String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(env) = cache.lock().unwrap().get(name) {
        return env.clone();
    }
    let var = endpoint_var(name);
    let env = if std::env::var(&var).is_ok() {
        std::env::vars().collect()
    } else {
        run(&["start", name]);
        let mut env: HashMap<String, String> = std::env::vars().collect();
        env.extend(parse_exports(&run(&["env", name])));
        env
    };
    assert!(env.contains_key(&var), "service `{name}` gave no {var}");
    cache.lock().unwrap().insert(name.to_string(), env.clone());
    env
}

/// The endpoint of local service `name` (started if needed), e.g.
/// `http://127.0.0.1:PORT` for `dynamodb`.
pub fn endpoint(name: &str) -> String {
    service_env(name)[&endpoint_var(name)].clone()
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
    env[&endpoint_var(name)].clone()
}

/// The HTTP endpoint of the local InfluxDB (Debian's 1.6.7, v1 API, no
/// authentication), started with `scripts/services start influxdb` when needed.
pub fn influxdb_endpoint() -> String {
    endpoint("influxdb")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_and_its_script_are_found() {
        assert!(script().is_file(), "{}", script().display());
        assert!(repo_root().join("Cargo.toml").is_file());
    }

    #[test]
    fn exports_are_parsed_without_quotes() {
        let env = parse_exports(
            "export LGB_DYNAMODB_ENDPOINT='http://127.0.0.1:1'\n# comment\nexport AWS_REGION=\"us-east-1\"\n",
        );
        assert_eq!(env["LGB_DYNAMODB_ENDPOINT"], "http://127.0.0.1:1");
        assert_eq!(env["AWS_REGION"], "us-east-1");
        assert_eq!(env.len(), 2);
        assert_eq!(endpoint_var("lambda-rie"), "LGB_LAMBDA_RIE_ENDPOINT");
    }

    #[test]
    fn prefixes_differ_by_test_and_not_by_call() {
        assert_eq!(unique_prefix("a"), unique_prefix("a"));
        assert_ne!(unique_prefix("a"), unique_prefix("b"));
    }
}
