//! The catalog: the database adapters and operations a build knows
//! ([`Registries`]), and loading a config checked against them.
//!
//! It sits above `operation` because it holds both registries; `config` below it
//! validates adapter and operation options through the [`OptionChecks`] trait that
//! [`Registries`] implements. It must not run anything.

use std::path::Path;

use crate::config::{BenchmarkConfig, DatabaseConfig, OperationConfig, OptionChecks};
use crate::database::DatabaseRegistry;
use crate::error::{ConfigProblem, Error, Result};
use crate::operation::OperationRegistry;

/// The registries a config is validated against: built-ins plus user additions.
#[derive(Debug, Clone, Default)]
pub struct Registries {
    /// Database adapters.
    pub databases: DatabaseRegistry,
    /// Operation strategies.
    pub operations: OperationRegistry,
}

impl Registries {
    /// The built-in adapters and operations compiled into this build.
    pub fn builtin() -> Self {
        Self::default()
    }
}

impl OptionChecks for Registries {
    fn database_problems(&self, config: &DatabaseConfig) -> Vec<ConfigProblem> {
        self.databases.validate(config)
    }

    fn operation_problems(&self, config: &OperationConfig) -> Vec<ConfigProblem> {
        self.operations.validate(config)
    }
}

impl BenchmarkConfig {
    /// Parses, applies `overrides` (`path=value`), and validates with the built-in registries.
    pub fn from_json_str(text: &str, overrides: &[String]) -> Result<Self> {
        Self::from_json_str_with(text, overrides, &Registries::builtin())
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        Self::from_json_str(&text, overrides)
    }
}
