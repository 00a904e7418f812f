//! [`DeployedFunction`] for [`LambdaFunction`]: the facts the preflight reads
//! (GetFunctionConfiguration, GetFunctionConcurrency, GetAccountSettings) and the
//! versions and aliases a sweep publishes, points and deletes (PublishVersion,
//! CreateAlias/UpdateAlias/GetAlias/DeleteAlias, DeleteFunction of a version).
//! Each call and the IAM action it needs is listed in `iam.rs` (`LAMBDA_ADMIN`).

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_lambda::error::ProvideErrorMetadata;

use super::deployed::{AccountFacts, DeployedFunction, FunctionFacts, PublishedVersion};
use super::lambda::{LambdaFunction, LambdaInvoker};
use super::Invoker;
use crate::error::{Error, Result};

/// A count Lambda gives as `i32`, as `u32` (never negative).
fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// Lambda's refusal of a `MemorySize` (the account's cap, 3008 MB on new accounts, or
/// Lambda's own 10240): the size and Lambda's words, at `--memory`.
fn memory_refused(memory_mb: u32, code: Option<&str>, message: Option<&str>) -> Option<Error> {
    let message = message.unwrap_or_default();
    let refused = matches!(
        code,
        Some("InvalidParameterValueException" | "ValidationException")
    ) && message.contains("MemorySize");
    refused.then(|| {
        let cap = message
            .rsplit("less than or equal to ")
            .next()
            .and_then(|t| t.trim().trim_end_matches('.').parse::<u32>().ok());
        Error::config(
            "--memory",
            match cap {
                Some(cap) => format!(
                    "{memory_mb} MB is more than this account allows ({cap} MB; new accounts are \
                     capped at 3008 MB until AWS Support raises it); Lambda said: {message}"
                ),
                None => format!("Lambda refused {memory_mb} MB: {message}"),
            },
        )
    })
}

#[async_trait]
impl DeployedFunction for LambdaFunction {
    async fn facts(&self, qualifier: Option<&str>) -> Result<FunctionFacts> {
        let conf = self
            .client
            .get_function_configuration()
            .function_name(&self.function)
            .set_qualifier(qualifier.map(str::to_string))
            .send()
            .await
            .map_err(|e| self.map_error("GetFunctionConfiguration", e))?;
        let reserved = self
            .client
            .get_function_concurrency()
            .function_name(&self.function)
            .send()
            .await
            .map_err(|e| self.map_error("GetFunctionConcurrency", e))?
            .reserved_concurrent_executions()
            .map(count);
        let environment_error = conf.environment().and_then(|e| e.error()).map(|e| {
            format!(
                "{}: {}",
                e.error_code().unwrap_or("Error"),
                e.message().unwrap_or_default()
            )
        });
        Ok(FunctionFacts {
            function: self.function.clone(),
            version: conf.version().unwrap_or("$LATEST").to_string(),
            memory_mb: conf.memory_size().map_or(128, count),
            timeout_s: conf.timeout().map_or(3, count),
            architecture: conf
                .architectures()
                .first()
                .map_or("x86_64", |a| a.as_str())
                .to_string(),
            kms_key_arn: conf
                .kms_key_arn()
                .filter(|k| !k.is_empty())
                .map(str::to_string),
            environment_error,
            description: conf.description().unwrap_or_default().to_string(),
            code_sha256: conf.code_sha256().unwrap_or_default().to_string(),
            reserved_concurrency: reserved,
        })
    }

    async fn account(&self) -> Result<AccountFacts> {
        let out = self
            .client
            .get_account_settings()
            .send()
            .await
            .map_err(|e| self.map_error("GetAccountSettings", e))?;
        let limit = out.account_limit().ok_or_else(|| {
            Error::Backend("GetAccountSettings answered without an AccountLimit".into())
        })?;
        let all = count(limit.concurrent_executions());
        Ok(AccountFacts {
            concurrent_executions: all,
            unreserved_concurrent_executions: limit
                .unreserved_concurrent_executions()
                .map_or(all, count),
        })
    }

    async fn set_memory(&self, memory_mb: u32, description: &str) -> Result<()> {
        for attempt in 0..5 {
            let sent = self
                .client
                .update_function_configuration()
                .function_name(&self.function)
                .memory_size(i32::try_from(memory_mb).unwrap_or(i32::MAX))
                .description(description)
                .send()
                .await;
            match sent {
                Ok(_) => return self.wait_until_updated().await,
                Err(e) if attempt < 4 && e.code() == Some("ResourceConflictException") => {
                    self.wait_until_updated().await?;
                }
                Err(e) => {
                    return Err(memory_refused(memory_mb, e.code(), e.message())
                        .unwrap_or_else(|| self.map_error("UpdateFunctionConfiguration", e)))
                }
            }
        }
        Err(Error::Backend(format!(
            "`{}` kept refusing configuration updates (another update in progress)",
            self.function
        )))
    }

    async fn publish_version(&self, description: &str) -> Result<PublishedVersion> {
        let out = self
            .client
            .publish_version()
            .function_name(&self.function)
            .description(description)
            .send()
            .await
            .map_err(|e| self.map_error("PublishVersion", e))?;
        let version = out
            .version()
            .filter(|v| !v.is_empty() && *v != "$LATEST")
            .ok_or_else(|| Error::Backend("PublishVersion answered without a version".into()))?;
        Ok(PublishedVersion {
            version: version.to_string(),
            memory_mb: out.memory_size().map_or(0, count),
        })
    }

    async fn delete_version(&self, version: &str) -> Result<()> {
        if version == "$LATEST" || version.is_empty() {
            return Err(Error::Internal(
                "a sweep never deletes $LATEST or the function".into(),
            ));
        }
        self.client
            .delete_function()
            .function_name(&self.function)
            .qualifier(version)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.map_error("DeleteFunction (a version)", e))
    }

    async fn put_alias(&self, name: &str, version: &str, description: &str) -> Result<()> {
        if self.alias(name).await?.is_some() {
            self.client
                .update_alias()
                .function_name(&self.function)
                .name(name)
                .function_version(version)
                .description(description)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.map_error("UpdateAlias", e))
        } else {
            self.client
                .create_alias()
                .function_name(&self.function)
                .name(name)
                .function_version(version)
                .description(description)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.map_error("CreateAlias", e))
        }
    }

    async fn alias(&self, name: &str) -> Result<Option<String>> {
        match self
            .client
            .get_alias()
            .function_name(&self.function)
            .name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.function_version().map(str::to_string)),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(self.map_error("GetAlias", e)),
        }
    }

    async fn delete_alias(&self, name: &str) -> Result<()> {
        self.client
            .delete_alias()
            .function_name(&self.function)
            .name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.map_error("DeleteAlias", e))
    }

    fn invoker_at(&self, qualifier: &str) -> Arc<dyn Invoker> {
        Arc::new(LambdaInvoker::new(
            self.client.clone(),
            self.function.clone(),
            Some(qualifier.to_string()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_memory_cap_is_a_config_error_naming_it() {
        let e = memory_refused(
            4096,
            Some("InvalidParameterValueException"),
            Some("'MemorySize' value failed to satisfy constraint: Member must have value less than or equal to 3008"),
        )
        .unwrap();
        assert_eq!(e.config_problems()[0].path, "--memory");
        assert!(
            e.to_string()
                .contains("4096 MB is more than this account allows (3008 MB"),
            "{e}"
        );
        assert!(
            memory_refused(4096, Some("ResourceConflictException"), Some("MemorySize")).is_none()
        );
        assert!(memory_refused(
            4096,
            Some("InvalidParameterValueException"),
            Some("Timeout")
        )
        .is_none());
    }
}
