//! What lgb reads of a deployed worker function and its account before anything is
//! paid (the preflight), and the published versions and aliases a memory sweep
//! measures through: [`DeployedFunction`]. The Lambda implementation is
//! `LambdaFunction` (`runner/lambda_admin.rs`); everything that decides what to do
//! with these facts lives above the runner (`preflight`, `sweep`).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{FunctionControl, Invoker};
use crate::error::Result;

/// A deployed function's settings that decide whether a run fits it
/// (GetFunctionConfiguration and GetFunctionConcurrency).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FunctionFacts {
    /// Name or ARN, as the config gives it.
    pub function: String,
    /// The version a qualifier resolves to (`$LATEST` without one).
    pub version: String,
    /// `MemorySize` in MB.
    pub memory_mb: u32,
    /// `Timeout` in seconds.
    pub timeout_s: u32,
    /// `x86_64` or `arm64`.
    pub architecture: String,
    /// The customer managed KMS key of the environment, when one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// Lambda's error about the environment (for example when the caller may not use
    /// its KMS key): then the variables could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_error: Option<String>,
    /// The function's description (a sweep restores it).
    #[serde(default)]
    pub description: String,
    /// `CodeSha256`: which code the version runs.
    #[serde(default)]
    pub code_sha256: String,
    /// Reserved concurrency, when the function has a reservation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<u32>,
}

/// The account's concurrency (GetAccountSettings' `AccountLimit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AccountFacts {
    /// `ConcurrentExecutions`: invocations in flight over the whole account and region.
    pub concurrent_executions: u32,
    /// `UnreservedConcurrentExecutions`: what functions without a reservation share.
    pub unreserved_concurrent_executions: u32,
}

/// A version published for a sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedVersion {
    /// The version number Lambda gave it.
    pub version: String,
    /// Its `MemorySize`.
    pub memory_mb: u32,
}

/// A deployed function as the preflight and the sweep see it: its facts and its
/// account's, and versions and aliases to measure sizes side by side without touching
/// `$LATEST` while measuring.
#[async_trait]
pub trait DeployedFunction: FunctionControl {
    /// The function's settings at `qualifier` (`None`: `$LATEST`) and its reservation.
    async fn facts(&self, qualifier: Option<&str>) -> Result<FunctionFacts>;
    /// The account's concurrency.
    async fn account(&self) -> Result<AccountFacts>;
    /// Sets `$LATEST`'s memory and description and waits until the update is done.
    /// Lambda's refusal of the size (the account's cap) is a config error at `--memory`.
    async fn set_memory(&self, memory_mb: u32, description: &str) -> Result<()>;
    /// Publishes `$LATEST` as a new version.
    async fn publish_version(&self, description: &str) -> Result<PublishedVersion>;
    /// Deletes a published version (never `$LATEST`).
    async fn delete_version(&self, version: &str) -> Result<()>;
    /// Points alias `name` at `version`, creating it or moving it.
    async fn put_alias(&self, name: &str, version: &str, description: &str) -> Result<()>;
    /// The version alias `name` points at, if it exists.
    async fn alias(&self, name: &str) -> Result<Option<String>>;
    /// Deletes alias `name` (nothing when it does not exist).
    async fn delete_alias(&self, name: &str) -> Result<()>;
    /// An invoker of this function at `qualifier` (a version or alias), with the
    /// client settings of the run's invoker.
    fn invoker_at(&self, qualifier: &str) -> Arc<dyn Invoker>;
}

/// Restores `environment` minus the cold-start nonce, if the function's environment
/// now carries one: what a run with `cold_start: "force"` leaves behind (also after a
/// stop or an error), so that `tofu plan` shows no drift. The rest of the current
/// environment is kept as it is now.
pub async fn remove_cold_start_nonce(control: &dyn FunctionControl) -> Result<bool> {
    let mut env: BTreeMap<String, String> = control.settings().await?.environment;
    if env.remove(super::COLD_START_NONCE_VAR).is_none() {
        return Ok(false);
    }
    control.update(None, Some(&env)).await?;
    Ok(true)
}

/// The deployed function of `config.runner` (its `runner.function`, reached with the
/// Lambda API settings of `runner.options`), for targets `lambda` and `url`; `None`
/// for local workers or when no function is named (a Function URL alone).
pub async fn connect(
    config: &crate::config::BenchmarkConfig,
) -> Result<Option<Arc<dyn DeployedFunction>>> {
    use crate::config::Target;
    let named = config
        .runner
        .function
        .as_deref()
        .is_some_and(|f| !f.trim().is_empty());
    match config.runner.target {
        Target::Local => Ok(None),
        _ if !named => Ok(None),
        #[cfg(feature = "lambda")]
        _ => Ok(Some(Arc::new(
            super::lambda::LambdaFunction::from_config(&config.runner).await?,
        ))),
        #[cfg(not(feature = "lambda"))]
        _ => Err(crate::error::Error::config(
            "runner.target",
            "remote targets are not compiled in; enable feature `lambda`",
        )),
    }
}
