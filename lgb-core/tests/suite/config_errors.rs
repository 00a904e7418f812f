//! Bad configs are refused before anything runs, with every problem and its JSON path.
use lgb_core::config::BenchmarkConfig;
use lgb_core::session::{ConfigSource, Session};

fn problems(json: &str) -> Vec<(String, String)> {
    let err = Session::load(ConfigSource::Text(json), &[], None)
        .map(Session::into_config)
        .expect_err("config must be refused");
    err.config_problems()
        .iter()
        .map(|p| (p.path.clone(), p.message.clone()))
        .collect()
}

#[test]
fn three_mistakes_are_all_reported_with_their_paths() {
    let p = problems(
        r#"{
        "database": {"type": "memory"},
        "workload": {"records": "many"},
        "tests": [
            {"name": "a", "operation": {"type": "read"}, "concurrency": 0},
            {"name": "b", "operation": {"type": "batch_write", "size": 0}, "duration": "soon"}
        ]
    }"#,
    );
    let paths: Vec<&str> = p.iter().map(|(path, _)| path.as_str()).collect();
    for want in [
        "workload.records",
        "tests[0].concurrency",
        "tests[1].duration",
        "tests[1].operation.size",
    ] {
        assert!(paths.contains(&want), "missing {want} in {p:?}");
    }
    let duration = &p
        .iter()
        .find(|(path, _)| path == "tests[1].duration")
        .unwrap()
        .1;
    assert!(duration.contains("not a duration"), "{duration}");
}

#[test]
fn unknown_fields_are_errors_at_every_level() {
    let p = problems(
        r#"{"database": {"type": "memory"}, "tests": [{"name": "a", "operation": {"type": "read"}, "concurency": 4}], "extra": 1}"#,
    );
    assert!(
        p.iter()
            .any(|(path, m)| path == "tests[0]" && m.contains("concurency")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|(path, m)| path.is_empty() && m.contains("extra")),
        "{p:?}"
    );
    let p = problems(
        r#"{"database": {"type": "memory", "tabel": "x"}, "tests": [{"name": "a", "operation": {"type": "read"}}]}"#,
    );
    assert_eq!(p[0].0, "database.tabel");
}

#[test]
fn semantic_mistakes_are_reported_together() {
    let p = problems(
        r#"{"database": {"type": "memory"}, "tests": [
            {"name": "a", "operation": {"type": "read"}, "rate": -5},
            {"name": "a", "preset": "ycsb-a", "operation": {"type": "read"}},
            {"name": "c", "duration": "20m"}
        ]}"#,
    );
    let paths: Vec<&str> = p.iter().map(|(path, _)| path.as_str()).collect();
    assert!(paths.contains(&"tests[0].rate"), "{p:?}");
    assert!(paths.contains(&"tests[1].name"), "duplicate name: {p:?}");
    assert!(
        paths.contains(&"tests[1].preset"),
        "preset and operation: {p:?}"
    );
    assert!(paths.contains(&"tests[2].operation"), "no operation: {p:?}");
    assert!(
        paths.contains(&"tests[2].duration"),
        "beyond the Lambda limit: {p:?}"
    );
}

#[test]
fn overrides_apply_before_validation_and_name_bad_paths() {
    let base = r#"{"database": {"type": "memory"}, "tests": [{"name": "a", "operation": {"type": "read"}}]}"#;
    let cfg = Session::load(
        ConfigSource::Text(base),
        &[
            "tests[0].concurrency=8".into(),
            "workload.field_size=1KiB".into(),
        ],
        None,
    )
    .map(Session::into_config)
    .unwrap();
    assert_eq!(cfg.tests[0].concurrency, 8);
    assert_eq!(cfg.workload.field_size.0, 1024);
    let err = Session::load(
        ConfigSource::Text(base),
        &["tests[3].concurrency=8".into()],
        None,
    )
    .map(Session::into_config)
    .unwrap_err();
    assert!(
        err.to_string().contains("--set tests[3].concurrency"),
        "{err}"
    );
    let err = Session::load(
        ConfigSource::Text(base),
        &["tests[0].concurrency=zero".into()],
        None,
    )
    .map(Session::into_config)
    .unwrap_err();
    assert_eq!(err.config_problems()[0].path, "tests[0].concurrency");
}

#[test]
fn comments_are_allowed_and_positions_stay_true() {
    let cfg = Session::load(ConfigSource::Text("// a comment\n{\"database\": {\"type\": \"memory\"}, /* here */ \"tests\": [{\"name\": \"a\", \"operation\": {\"type\": \"read\"}}]}"), &[], None).map(Session::into_config);
    assert!(cfg.is_ok(), "{cfg:?}");
    let err = Session::load(ConfigSource::Text("// c\n{\"database\": ,}"), &[], None)
        .map(Session::into_config)
        .unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn every_example_config_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str());
        if matches!(ext, Some("json") | Some("jsonc")) {
            let text = std::fs::read_to_string(&path).unwrap();
            let value: Result<BenchmarkConfig, _> =
                Session::load(ConfigSource::Text(&text), &[], None).map(Session::into_config);
            match value {
                Ok(_) => checked += 1,
                // Examples for adapters not compiled into this test build are skipped
                // by name; everything else must validate.
                Err(e) if e.to_string().contains("is not compiled in") => {}
                Err(e) => panic!("{}: {e}", path.display()),
            }
        }
    }
    assert!(checked >= 3, "checked {checked}");
}
