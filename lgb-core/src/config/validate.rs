//! Validation of a whole config document. It reports every problem it finds, each with
//! the JSON path of the offending value, before anything runs.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde_json::Value;

use super::{BenchmarkConfig, DatabaseConfig, OperationConfig};
use crate::error::{ConfigProblem, Error, Result};

/// The checks of adapter and operation options that validation asks of the layers
/// that own them: config sits below the registries, so it takes them as this trait
/// ([`crate::catalog::Registries`] implements it).
pub trait OptionChecks {
    /// Every problem with the options of `config` (paths relative to `database`).
    fn database_problems(&self, config: &DatabaseConfig) -> Vec<ConfigProblem>;
    /// Every problem with the options of `config` (paths relative to the operation).
    fn operation_problems(&self, config: &OperationConfig) -> Vec<ConfigProblem>;
    /// What the database of a parsed, otherwise valid `config` cannot do or hold,
    /// found without connecting (full JSON paths): operations its adapter cannot run
    /// and data sets too large for an adapter that keeps data in process.
    fn fit_problems(&self, config: &BenchmarkConfig) -> Vec<ConfigProblem>;
}

/// Turns a JSON pointer (`/tests/0/concurrency`) into a path (`tests[0].concurrency`).
pub(crate) fn pointer_to_path(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.parse::<usize>().is_ok() {
            out.push('[');
            out.push_str(&part);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    out
}

fn schema_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        jsonschema::validator_for(&BenchmarkConfig::json_schema())
            .expect("the generated config schema is a valid JSON Schema")
    })
}

fn schema_problems(value: &Value) -> Vec<ConfigProblem> {
    let typed = typed_messages(value);
    schema_validator()
        .iter_errors(value)
        .map(|e| {
            let path = pointer_to_path(&e.instance_path().to_string());
            // "not valid under any of the schemas listed in anyOf" says little; the
            // typed parser's message for the same value says what was expected.
            let message = typed
                .iter()
                .find(|p| p.path == path)
                .map(|p| p.message.clone())
                .unwrap_or_else(|| e.to_string());
            ConfigProblem::new(path, message)
        })
        .collect()
}

/// The first typed-parse error of each section, by path.
fn typed_messages(value: &Value) -> Vec<ConfigProblem> {
    fn first<T: serde::de::DeserializeOwned>(v: &Value, base: &str) -> Option<ConfigProblem> {
        serde_path_to_error::deserialize::<_, T>(v).err().map(|e| {
            let inner = e.path().to_string();
            let path = match (base.is_empty(), inner == ".") {
                (_, true) => base.to_string(),
                (true, false) => inner,
                (false, false) if inner.starts_with('[') => format!("{base}{inner}"),
                (false, false) => format!("{base}.{inner}"),
            };
            ConfigProblem::new(path, e.inner().to_string())
        })
    }
    let mut out = Vec::new();
    if let Some(w) = value.get("workload") {
        out.extend(first::<super::WorkloadConfig>(w, "workload"));
    }
    if let Some(r) = value.get("runner") {
        out.extend(first::<super::RunnerConfig>(r, "runner"));
    }
    if let Some(tests) = value.get("tests").and_then(Value::as_array) {
        for (i, t) in tests.iter().enumerate() {
            out.extend(first::<super::TestConfig>(t, &format!("tests[{i}]")));
        }
    }
    out
}

/// Validates a raw config document and returns the typed config, or every problem.
pub(crate) fn validate_value(value: &Value, checks: &dyn OptionChecks) -> Result<BenchmarkConfig> {
    let mut problems = schema_problems(value);
    if problems.is_empty() {
        // What the schema cannot say (a duration above `HumanDuration::MAX`, say) the
        // typed parser refuses: its first problem in each section, not only the first.
        problems = typed_messages(value);
    }

    // Adapter and operation options are open in the document schema; their own
    // factories check them, so their problems are reported alongside the others.
    if let Some(db) = value.get("database") {
        if let Ok(cfg) = serde_json::from_value(db.clone()) {
            problems.extend(checks.database_problems(&cfg));
        }
    }
    if let Some(tests) = value.get("tests").and_then(Value::as_array) {
        for (i, t) in tests.iter().enumerate() {
            if let Some(op) = t.get("operation") {
                if let Ok(cfg) = serde_json::from_value(op.clone()) {
                    problems.extend(
                        checks
                            .operation_problems(&cfg)
                            .into_iter()
                            .map(|p| prefix(&format!("tests[{i}].operation"), p)),
                    );
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::Config(problems));
    }

    let cfg: BenchmarkConfig = serde_path_to_error::deserialize(value)
        .map_err(|e| Error::config(e.path().to_string(), e.inner().to_string()))?;
    let mut problems = semantic_problems(&cfg);
    if problems.is_empty() {
        problems = checks.fit_problems(&cfg);
    }
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(Error::Config(problems))
    }
}

fn prefix(base: &str, p: ConfigProblem) -> ConfigProblem {
    let path = if p.path.is_empty() {
        base.to_string()
    } else {
        format!("{base}.{}", p.path)
    };
    ConfigProblem::new(path, p.message)
}

/// Longest measured duration a test may ask for: a Lambda invocation ends at 15 minutes.
pub const MAX_TEST_DURATION: std::time::Duration = std::time::Duration::from_secs(14 * 60);
/// Most tasks one worker may run.
pub const MAX_CONCURRENCY: u32 = 4096;
/// Most workers one test may fan out to.
pub const MAX_WORKERS: u32 = 1000;
/// Largest record (fields × field size) a workload may ask for.
pub const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;
/// Most records a workload may load, and most operations a test may count: 2^48
/// (2.8 × 10^14), far past any benchmark, and low enough that every key number a run
/// makes (records, plus each worker's inserts interleaved above them) fits in 64 bits.
pub const MAX_RECORDS: u64 = 1 << 48;
/// Largest batch (load batch, batch write, parallel read fan-out).
pub const MAX_BATCH: usize = 10_000;

/// Problems with a workload, under `base` (`workload`).
pub(crate) fn workload_problems(w: &super::WorkloadConfig, base: &str) -> Vec<ConfigProblem> {
    let mut p = Vec::new();
    if w.records == 0 || w.records > MAX_RECORDS {
        p.push(ConfigProblem::new(
            format!("{base}.records"),
            format!("must be between 1 and {MAX_RECORDS}"),
        ));
    }
    if w.load_batch == 0 || w.load_batch > MAX_BATCH {
        p.push(ConfigProblem::new(
            format!("{base}.load_batch"),
            format!("must be between 1 and {MAX_BATCH}"),
        ));
    }
    if !(1..=super::validate::MAX_CONCURRENCY).contains(&w.load_concurrency) {
        p.push(ConfigProblem::new(
            format!("{base}.load_concurrency"),
            format!("must be between 1 and {MAX_CONCURRENCY}"),
        ));
    }
    // The scan operation takes the same bound for its `max_length` (defaulting to
    // this), so a value validation accepts never fails every worker.
    if w.scan_length == 0 || w.scan_length > MAX_BATCH {
        p.push(ConfigProblem::new(
            format!("{base}.scan_length"),
            format!("must be between 1 and {MAX_BATCH}"),
        ));
    }
    if (w.fields as u64).saturating_mul(w.field_size.0) > MAX_RECORD_BYTES {
        p.push(ConfigProblem::new(
            format!("{base}.field_size"),
            format!(
                "records of {} fields × {} bytes are over the 16 MiB limit",
                w.fields, w.field_size.0
            ),
        ));
    }
    p.extend(w.distribution.problems(&format!("{base}.distribution")));
    p
}

/// Problems with one test, under `base` (`tests[3]`).
pub(crate) fn test_problems(t: &super::TestConfig, base: &str) -> Vec<ConfigProblem> {
    let mut p = Vec::new();
    let at = |field: &str| format!("{base}.{field}");
    if t.name.trim().is_empty() {
        p.push(ConfigProblem::new(at("name"), "must not be empty"));
    }
    if !(1..=MAX_CONCURRENCY).contains(&t.concurrency) {
        p.push(ConfigProblem::new(
            at("concurrency"),
            format!("must be between 1 and {MAX_CONCURRENCY}"),
        ));
    }
    if let Some(w) = t.workers {
        if !(1..=MAX_WORKERS).contains(&w) {
            p.push(ConfigProblem::new(
                at("workers"),
                format!("must be between 1 and {MAX_WORKERS}"),
            ));
        }
    }
    if let Some(d) = t.duration {
        if d.0.is_zero() {
            p.push(ConfigProblem::new(
                at("duration"),
                "must be longer than zero",
            ));
        }
        // Checked: a request built in code may carry durations the parser would refuse
        // (above `HumanDuration::MAX`), and a worker checks those too.
        if d.0
            .checked_add(t.warmup.0)
            .is_none_or(|total| total > MAX_TEST_DURATION)
        {
            p.push(ConfigProblem::new(
                at("duration"),
                "duration plus warmup must stay under 14 minutes (a Lambda invocation ends at 15)",
            ));
        }
    } else if t.warmup.0 > MAX_TEST_DURATION {
        p.push(ConfigProblem::new(
            at("warmup"),
            "must stay under 14 minutes",
        ));
    }
    if t.operations.is_some_and(|n| n == 0 || n > MAX_RECORDS) {
        p.push(ConfigProblem::new(
            at("operations"),
            format!("must be between 1 and {MAX_RECORDS}"),
        ));
    }
    if let Some(rate) = t.rate {
        if !(rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0) {
            p.push(ConfigProblem::new(
                at("rate"),
                "must be a positive number of operations per second, at most 10000000",
            ));
        }
    }
    if t.timeout.0.is_zero() || t.timeout.0 > MAX_TEST_DURATION {
        p.push(ConfigProblem::new(
            at("timeout"),
            "must be longer than zero and under 14 minutes",
        ));
    }
    if let Some(d) = &t.distribution {
        p.extend(d.problems(&at("distribution")));
    }
    p
}

fn semantic_problems(cfg: &BenchmarkConfig) -> Vec<ConfigProblem> {
    let mut p = Vec::new();
    if cfg.tests.is_empty() {
        p.push(ConfigProblem::new("tests", "needs at least one test"));
    }
    p.extend(workload_problems(&cfg.workload, "workload"));
    p.extend(cfg.runner.target_problems());
    if !(1..=MAX_WORKERS).contains(&cfg.runner.workers) {
        p.push(ConfigProblem::new(
            "runner.workers",
            format!("must be between 1 and {MAX_WORKERS}"),
        ));
    }
    if !(1..=MAX_WORKERS).contains(&cfg.runner.max_in_flight) {
        p.push(ConfigProblem::new(
            "runner.max_in_flight",
            format!("must be between 1 and {MAX_WORKERS}"),
        ));
    }
    if cfg.runner.ramp.0 > MAX_TEST_DURATION {
        p.push(ConfigProblem::new(
            "runner.ramp",
            "must be under 14 minutes",
        ));
    }
    if cfg.runner.cold_start == super::ColdStart::Force && cfg.runner.target == super::Target::Local
    {
        p.push(ConfigProblem::new(
            "runner.cold_start",
            "`force` needs a Lambda target (`lambda` or `url`); local workers have no sandboxes",
        ));
    }
    let mut names = HashSet::new();
    for (i, t) in cfg.tests.iter().enumerate() {
        let base = format!("tests[{i}]");
        if !t.name.trim().is_empty() && !names.insert(t.name.as_str()) {
            p.push(ConfigProblem::new(
                format!("{base}.name"),
                format!(
                    "`{}` is used by an earlier test; names must be unique",
                    t.name
                ),
            ));
        }
        match (&t.preset, &t.operation) {
            (None, None) => p.push(ConfigProblem::new(
                format!("{base}.operation"),
                "a test needs an `operation` or a `preset`",
            )),
            (Some(_), Some(_)) => p.push(ConfigProblem::new(
                format!("{base}.preset"),
                "give either `preset` or `operation`, not both",
            )),
            _ => {}
        }
        p.extend(test_problems(t, &base));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_paths() {
        assert_eq!(
            pointer_to_path("/tests/0/concurrency"),
            "tests[0].concurrency"
        );
        assert_eq!(pointer_to_path(""), "");
        assert_eq!(pointer_to_path("/a~1b"), "a/b");
    }

    /// Option checks that find nothing: the document's own rules only.
    struct NoOptionChecks;

    impl OptionChecks for NoOptionChecks {
        fn database_problems(&self, _: &DatabaseConfig) -> Vec<ConfigProblem> {
            Vec::new()
        }
        fn operation_problems(&self, _: &OperationConfig) -> Vec<ConfigProblem> {
            Vec::new()
        }
        fn fit_problems(&self, _: &BenchmarkConfig) -> Vec<ConfigProblem> {
            Vec::new()
        }
    }

    fn problems_of(test: &str) -> Vec<ConfigProblem> {
        let doc = format!(
            r#"{{"database": {{"type": "memory"}}, "tests": [{{"name": "a", "operation": {{"type": "read"}}, {test}}}]}}"#
        );
        let value: Value = serde_json::from_str(&doc).unwrap();
        match validate_value(&value, &NoOptionChecks) {
            Err(Error::Config(p)) => p,
            other => panic!("expected config problems for {test}, got {other:?}"),
        }
    }

    #[test]
    fn records_and_operations_stay_where_key_numbers_fit() {
        let p = problems_of(r#""operations": 18446744073709551615"#);
        assert_eq!(p[0].path, "tests[0].operations", "{p:?}");
        assert!(p[0].message.contains(&MAX_RECORDS.to_string()), "{p:?}");
        assert!(problems_of(r#""operations": 0"#)[0].path == "tests[0].operations");
        let doc: Value = serde_json::from_str(
            r#"{"database": {"type": "noop"}, "workload": {"records": 18446744073709551615},
                "tests": [{"name": "a", "operation": {"type": "read"}}]}"#,
        )
        .unwrap();
        let Err(Error::Config(p)) = validate_value(&doc, &NoOptionChecks) else {
            panic!("refused")
        };
        assert_eq!(p[0].path, "workload.records", "{p:?}");
        let at_limit = format!(
            r#"{{"database": {{"type": "noop"}}, "workload": {{"records": {MAX_RECORDS}}},
                "tests": [{{"name": "a", "operation": {{"type": "read"}}, "operations": {MAX_RECORDS}}}]}}"#
        );
        let doc: Value = serde_json::from_str(&at_limit).unwrap();
        assert!(validate_value(&doc, &NoOptionChecks).is_ok());
    }

    #[test]
    fn a_duration_that_would_overflow_is_a_problem_at_its_path() {
        let p = problems_of(r#""duration": "18446744073709551615s", "warmup": "1s""#);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path, "tests[0].duration");
        assert!(
            p[0].message
                .contains("longer than the longest duration lgb accepts (366 days)"),
            "{p:?}"
        );
        let p = problems_of(r#""duration": "1s", "warmup": "18446744073709551615s""#);
        assert_eq!(p[0].path, "tests[0].warmup", "{p:?}");
        // Every section's problem is reported, not only the first one met.
        let doc: Value = serde_json::from_str(
            r#"{"database": {"type": "memory"}, "runner": {"ramp": "400d"},
                "tests": [{"name": "a", "operation": {"type": "read"}, "duration": "400d"}]}"#,
        )
        .unwrap();
        let Err(Error::Config(p)) = validate_value(&doc, &NoOptionChecks) else {
            panic!("refused")
        };
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["runner.ramp", "tests[0].duration"], "{p:?}");
        // Within the parser's bound, the sum is checked against the Lambda limit.
        let p = problems_of(r#""duration": "366d", "warmup": "366d""#);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path, "tests[0].duration");
        assert!(p[0].message.contains("under 14 minutes"), "{p:?}");
        let p = problems_of(r#""duration": "13m", "warmup": "2m""#);
        assert_eq!(p[0].path, "tests[0].duration");
        assert!(p[0].message.contains("duration plus warmup"), "{p:?}");
        let ok: Value = serde_json::from_str(
            r#"{"database": {"type": "memory"}, "tests": [{"name": "a", "operation": {"type": "read"}, "duration": "13m", "warmup": "1m"}]}"#,
        )
        .unwrap();
        assert!(validate_value(&ok, &NoOptionChecks).is_ok());
    }

    #[test]
    fn durations_built_in_code_above_the_parser_bound_are_checked_not_added() {
        use crate::units::HumanDuration;
        use std::time::Duration;
        let mut t = crate::config::TestConfig::new("t", OperationConfig::new("read"));
        for (duration, warmup) in [
            (Duration::MAX, Duration::from_secs(1)),
            (Duration::from_secs(1), Duration::MAX),
            (Duration::MAX, Duration::MAX),
        ] {
            t.duration = Some(HumanDuration(duration));
            t.warmup = HumanDuration(warmup);
            let p = test_problems(&t, "test");
            assert_eq!(p.len(), 1, "{p:?}");
            assert_eq!(p[0].path, "test.duration");
            assert!(p[0].message.contains("under 14 minutes"), "{p:?}");
        }
        t.duration = None;
        t.warmup = HumanDuration(Duration::MAX);
        let p = test_problems(&t, "test");
        assert_eq!(
            p.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
            ["test.warmup"]
        );
        t.warmup = HumanDuration::default();
        t.timeout = HumanDuration(Duration::MAX);
        let p = test_problems(&t, "test");
        assert_eq!(
            p.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
            ["test.timeout"]
        );
    }

    #[test]
    fn the_schema_states_the_same_limits_as_validation() {
        let schema = BenchmarkConfig::json_schema();
        let max = |def: &str, field: &str| {
            schema["$defs"][def]["properties"][field]["maximum"]
                .as_u64()
                .unwrap_or_else(|| panic!("{def}.{field} has a maximum: {schema}"))
        };
        assert_eq!(max("TestConfig", "concurrency"), u64::from(MAX_CONCURRENCY));
        assert_eq!(max("RunnerConfig", "workers"), u64::from(MAX_WORKERS));
        assert_eq!(max("RunnerConfig", "max_in_flight"), u64::from(MAX_WORKERS));
    }
}
