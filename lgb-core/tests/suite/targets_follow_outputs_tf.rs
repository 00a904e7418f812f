//! infra/outputs.tf and `lgb_core::targets` stay in step: outputs generated from the
//! HCL of outputs.tf are what the reader reads, so renaming an output or a field the
//! reader needs breaks this test, not a user's `lgb run --targets`.

use lgb_testkit::outputs_tf;

use lgb_core::config::Target;
use lgb_core::targets::DeployedTargets;
use serde_json::json;

#[test]
fn outputs_generated_from_outputs_tf_are_read_and_applied() {
    let all = ["dynamodb", "immudb", "influxdb", "timestream"];
    let doc = outputs_tf::sample_outputs(&all, &|_| None);
    // The outputs the docs name exist.
    for name in [
        "lgb_targets",
        "function_names",
        "function_urls",
        "runner_policy_json",
    ] {
        assert!(doc.get(name).is_some(), "outputs.tf has no output `{name}`");
    }
    let targets = DeployedTargets::from_json_str(&doc.to_string(), "generated.json")
        .unwrap_or_else(|e| panic!("{e}\n{doc:#}"));
    assert_eq!(targets.deployed(), all);
    // function_names and function_urls say the same as lgb_targets' workers do (same
    // resources in outputs.tf).
    let names = &doc["function_names"]["value"];
    assert_eq!(names.as_object().unwrap().len(), all.len());

    let expected_database_keys = [
        ("dynamodb", vec!["partition_key", "region", "table"]),
        ("immudb", vec!["address", "database", "password_secret_id"]),
        (
            "influxdb",
            vec!["api", "bucket", "endpoint", "org", "token_secret_id"],
        ),
        ("timestream", vec!["database", "region", "table"]),
    ];
    for (db, keys) in expected_database_keys {
        let w = &targets.workers[db];
        assert_eq!(w.database.get("type"), Some(&json!(db)), "{db}");
        let mut cfg = json!({"database": {"type": db}, "tests": []});
        let filled = targets.apply(&mut cfg, Target::Url).unwrap();
        let paths: Vec<String> = filled.iter().map(|f| f.path.clone()).collect();
        for p in [
            "runner.function",
            "runner.url",
            "runner.options.region",
            "runner.options.auth",
        ] {
            assert!(
                paths.iter().any(|x| x == p),
                "{db}: {p} not filled: {paths:?}"
            );
        }
        for k in keys {
            assert!(
                paths.iter().any(|x| x == &format!("database.{k}")),
                "{db}: database.{k} not filled from outputs.tf: {paths:?}"
            );
        }
        assert_eq!(cfg["runner"]["function"], json!(w.function_name));
        assert_eq!(cfg["runner"]["url"], json!(w.function_url));
    }
}

#[test]
fn the_hcl_reader_sees_a_renamed_field() {
    // The generator really follows the HCL: rename `function_name` and the reader
    // refuses the outputs, naming the missing field.
    let hcl = outputs_tf::outputs_tf().replace("function_name = ", "fn_name = ");
    let outputs = outputs_tf::outputs(&hcl);
    let keys = vec!["dynamodb".to_string()];
    let mut value = outputs_tf::sample(&outputs["lgb_targets"], "lgb_targets", &keys, &|_| None);
    value["workers"]["dynamodb"]["database"] = json!({"type": "dynamodb"});
    let doc = json!({"lgb_targets": {"value": value}});
    let err = DeployedTargets::from_json_str(&doc.to_string(), "renamed.json").unwrap_err();
    assert!(err.to_string().contains("function_name"), "{err}");
}
