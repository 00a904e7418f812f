//! The catalog: the database adapters and operations a build knows
//! ([`Registries`]), and loading a config checked against them.
//!
//! It sits above `operation` because it holds both registries; `config` below it
//! validates adapter and operation options through the [`OptionChecks`] trait that
//! [`Registries`] implements. It must not run anything.

use serde_json::Value;

use crate::config::{
    BenchmarkConfig, DatabaseConfig, Distribution, OperationConfig, OptionChecks, Preset,
};
use crate::database::DatabaseRegistry;
use crate::error::ConfigProblem;
#[cfg(test)]
use crate::error::Result;
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

/// One thing a config can name: an adapter, operation, key distribution or preset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The name a config uses.
    pub name: String,
    /// What it is, for people; for an adapter this build lacks, the feature to enable.
    pub description: String,
    /// Whether this build can use it (only built-in adapters behind a cargo feature
    /// can be absent).
    pub compiled_in: bool,
}

/// One kind of thing in the catalog, with its entries in the order shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSection {
    /// Heading, `Operations:`.
    pub title: &'static str,
    /// Entries, sorted by name within the compiled-in and absent groups.
    pub entries: Vec<CatalogEntry>,
}

impl Registries {
    /// What a config of this build can name, as `lgb list` prints it: database
    /// adapters (compiled in first, then the built-ins this build lacks), operations,
    /// key distributions and presets.
    pub fn catalog(&self) -> Vec<CatalogSection> {
        let entry = |(name, description): (String, String)| CatalogEntry {
            name,
            description,
            compiled_in: true,
        };
        let mut databases: Vec<CatalogEntry> =
            self.databases.describe().into_iter().map(entry).collect();
        databases.extend(
            self.databases
                .not_compiled()
                .into_iter()
                .map(|(name, feature)| CatalogEntry {
                    name: name.to_string(),
                    description: format!("(not compiled in; build with feature `{feature}`)"),
                    compiled_in: false,
                }),
        );
        let statics = |pairs: &mut dyn Iterator<Item = (&str, &str)>| {
            pairs
                .map(|(n, d)| entry((n.to_string(), d.to_string())))
                .collect()
        };
        vec![
            CatalogSection {
                title: "Databases (compiled in):",
                entries: databases,
            },
            CatalogSection {
                title: "Operations:",
                entries: self.operations.describe().into_iter().map(entry).collect(),
            },
            CatalogSection {
                title: "Key distributions:",
                entries: statics(&mut Distribution::NAMES.into_iter()),
            },
            CatalogSection {
                title: "Presets:",
                entries: statics(&mut Preset::ALL.into_iter().map(|p| (p.name(), p.description()))),
            },
        ]
    }
}

impl OptionChecks for Registries {
    fn database_problems(&self, config: &DatabaseConfig) -> Vec<ConfigProblem> {
        self.databases.validate(config)
    }

    fn operation_problems(&self, config: &OperationConfig) -> Vec<ConfigProblem> {
        self.operations.validate(config)
    }

    fn fit_problems(&self, config: &BenchmarkConfig) -> Vec<ConfigProblem> {
        database_problems(config, self)
    }
}

/// What the database cannot do or hold, found without connecting: operations of a
/// test its adapter cannot run (named with the adapter and why), and a data set that
/// cannot fit in this machine's memory for adapters that keep data in process. Run
/// before any load, by `lgb validate` and `lgb run` alike.
pub(crate) fn database_problems(
    cfg: &BenchmarkConfig,
    registries: &Registries,
) -> Vec<ConfigProblem> {
    let mut p = Vec::new();
    let Ok(factory) = registries.databases.factory(&cfg.database.kind) else {
        return p;
    };
    let options = Value::Object(cfg.database.options.clone());
    let kind = &cfg.database.kind;
    if let Some(caps) = factory.capabilities(&options) {
        for (i, t) in cfg.tests.iter().enumerate() {
            let t = t.resolved();
            let Some(op) = &t.operation else { continue };
            let Ok(strategy) = registries.operations.build(op, cfg.workload.scan_length) else {
                continue;
            };
            let at = if t.preset.is_some() {
                format!("tests[{i}].preset")
            } else {
                format!("tests[{i}].operation")
            };
            for problem in strategy.check(&caps) {
                p.push(ConfigProblem::new(
                    &at,
                    format!("{} (database `{kind}`)", problem.message),
                ));
            }
        }
    }
    let w = &cfg.workload;
    let key_bytes = (w.key_prefix.len() + crate::workload::keys::KEY_DIGITS) as u64;
    let name_bytes = (0..w.fields)
        .map(|f| format!("field{f}").len() as u64)
        .sum::<u64>();
    let record_bytes = (w.fields as u64)
        .saturating_mul(w.field_size.0)
        .saturating_add(name_bytes)
        .saturating_add(key_bytes);
    if let (Some(need), Some(available)) = (
        factory.memory_needed(&options, w.records, record_bytes, w.fields as u64),
        available_memory(),
    ) {
        if need > available {
            p.push(ConfigProblem::new(
                "workload.records",
                format!(
                    "{} records of about {record_bytes} bytes need about {} of memory in database `{kind}`, \
                     over the {} this machine has available; lower `workload.records`",
                    w.records,
                    bytesize::ByteSize(need).display().iec(),
                    bytesize::ByteSize(available).display().iec()
                ),
            ));
        }
    }
    p
}

/// Memory this machine has available now (Linux `MemAvailable`), if known.
pub(crate) fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
impl BenchmarkConfig {
    /// Parses, applies `overrides` and validates with the built-in registries: the
    /// crate's unit tests' shorthand for `Session::load` (which layers below the
    /// session cannot name).
    pub(crate) fn from_json_str(text: &str, overrides: &[String]) -> Result<Self> {
        Self::from_json_str_with(text, overrides, &Registries::builtin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_lists_every_registry_and_says_what_is_not_compiled_in() {
        let sections = Registries::builtin().catalog();
        let titles: Vec<&str> = sections.iter().map(|s| s.title).collect();
        assert_eq!(
            titles,
            [
                "Databases (compiled in):",
                "Operations:",
                "Key distributions:",
                "Presets:"
            ]
        );
        let names = |i: usize| -> Vec<&str> {
            sections[i]
                .entries
                .iter()
                .map(|e| e.name.as_str())
                .collect()
        };
        let dbs = &sections[0].entries;
        for gated in ["dynamodb", "immudb", "timestream"] {
            let e = dbs.iter().find(|e| e.name == gated).expect(gated);
            let compiled = match gated {
                "dynamodb" => cfg!(feature = "dynamodb"),
                "immudb" => cfg!(feature = "immudb"),
                _ => cfg!(feature = "timestream"),
            };
            assert_eq!(e.compiled_in, compiled, "{gated}");
            assert_eq!(
                e.description.contains("not compiled in"),
                !compiled,
                "{e:?}"
            );
        }
        assert!(dbs.iter().any(|e| e.name == "memory" && e.compiled_in));
        assert!(names(1).contains(&"batch_write"));
        assert!(names(2).contains(&"zipfian"));
        assert!(names(3).contains(&"ycsb-a"));
        assert!(sections
            .iter()
            .flat_map(|s| &s.entries)
            .all(|e| !e.description.is_empty()));

        let mut mine = Registries::builtin();
        mine.databases
            .register_factory("immudb", mine.databases.factory("memory").unwrap().clone());
        assert!(mine.catalog()[0]
            .entries
            .iter()
            .any(|e| e.name == "immudb" && e.compiled_in));
    }
}
