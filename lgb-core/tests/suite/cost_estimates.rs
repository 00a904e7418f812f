//! Cost estimates computed by hand from the fixture's known usage.
use crate::report_common;

use lgb_core::results::cost::{estimate, PriceTable};
use report_common::{run, run_with, Shape};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 + 1e-9 * b.abs()
}

#[test]
fn lambda_and_dynamodb_on_demand() {
    let run = run();
    let p = PriceTable::default();
    let est = estimate(&run, &p);
    let t = &est.tests[0];
    let item = |name: &str| t.items.iter().find(|i| i.item == name).unwrap();
    // Two 1 GiB workers for 10 s, the cold one also billed its 180 ms init.
    assert!(
        close(item("compute").quantity, 20.18),
        "{:?}",
        item("compute")
    );
    assert!(close(item("compute").usd, 20.18 * 0.000_016_666_7));
    assert_eq!(item("requests").quantity, 2.0);
    let m = &run.tests[0].metrics.operations;
    assert!(close(
        item("read units").quantity,
        m["read"].ok as f64 * 0.5
    ));
    assert!(close(
        item("write units").quantity,
        m["update"].ok as f64 * 2.0
    ));
    assert!(close(
        item("write units").usd,
        m["update"].ok as f64 * 2.0 * 0.625 / 1e6
    ));
    let sum: f64 = t.items.iter().map(|i| i.usd).sum();
    assert!(close(t.total_usd, sum));
    assert!(close(
        t.per_million_ops_usd.unwrap(),
        sum / t.operations as f64 * 1e6
    ));
    assert_eq!(t.operations, m["read"].total() + m["update"].total());
    assert!(est.notes.iter().any(|n| n.contains("2025-07-21")));
}

#[test]
fn provisioned_tables_pay_for_capacity_over_the_window() {
    let mut run = run();
    run.config.database.options.insert(
        "billing".into(),
        serde_json::json!({"provisioned": {"read_capacity": 100, "write_capacity": 50}}),
    );
    let est = estimate(&run, &PriceTable::default());
    let items = &est.tests[0].items;
    let reads = items.iter().find(|i| i.unit == "RCU-h").unwrap();
    let writes = items.iter().find(|i| i.unit == "WCU-h").unwrap();
    assert!(close(reads.quantity, 100.0 * 10.0 / 3600.0));
    assert!(close(writes.usd, 50.0 * 10.0 / 3600.0 * 0.000_65));
    assert!(
        !items.iter().any(|i| i.unit == "RRU"),
        "no request units on provisioned tables"
    );
}

#[test]
fn timestream_writes_and_scans_with_the_minimum_per_query() {
    let mut run = run_with("timestream", Shape::default());
    // Make `read` a query that scanned little: the 10 MB minimum applies.
    let ops = &mut run.tests[0].metrics.operations;
    ops.get_mut("read").unwrap().meta.read_units = 0.0;
    let queries = ops["read"].ok;
    let est = estimate(&run, &PriceTable::default());
    let items = &est.tests[0].items;
    let writes = items.iter().find(|i| i.item == "writes").unwrap();
    assert!(close(
        writes.quantity,
        run.tests[0].metrics.operations["update"].ok as f64 * 2.0
    ));
    let scanned = items.iter().find(|i| i.item == "scanned").unwrap();
    assert!(
        close(scanned.quantity, queries as f64 * 10_000_000.0 / 1e9),
        "{scanned:?}"
    );
    assert!(close(scanned.usd, scanned.quantity * 0.01));
}

#[test]
fn local_runs_cost_nothing_and_say_why() {
    let mut run = run_with("memory", Shape::default());
    for w in &mut run.tests[0].workers {
        w.environment.memory_mb = None;
    }
    let est = estimate(&run, &PriceTable::default());
    assert_eq!(est.total_usd, 0.0);
    assert!(est.notes.iter().any(|n| n.contains("no Lambda cost")));
    assert!(est.notes.iter().any(|n| n.contains("memory")));
}

#[test]
fn a_price_file_overrides_the_defaults() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("prices.json");
    std::fs::write(
        &path,
        r#"{"lambda_gb_second": 0.0000133334, "as_of": "2026-01-01", "region": "eu-west-1"}"#,
    )
    .unwrap();
    let prices = PriceTable::load(&path).unwrap();
    let base = estimate(&run(), &PriceTable::default());
    let arm = estimate(&run(), &prices);
    let compute = |e: &lgb_core::results::cost::CostEstimate| {
        e.tests[0]
            .items
            .iter()
            .find(|i| i.item == "compute")
            .unwrap()
            .usd
    };
    assert!(close(compute(&arm), 20.18 * 0.000_013_333_4));
    assert!(compute(&arm) < compute(&base));
    assert!(arm.notes[0].contains("eu-west-1") && arm.notes[0].contains("2026-01-01"));
    std::fs::write(&path, r#"{"lambda_gb_secnd": 1}"#).unwrap();
    let err = PriceTable::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("prices.json") && err.contains("lambda_gb_secnd"),
        "{err}"
    );
}

#[test]
fn the_billed_duration_of_the_invocation_report_wins() {
    let mut run = run();
    for w in &mut run.tests[0].workers {
        w.environment.report = Some(lgb_core::protocol::InvocationReport {
            billed_duration_ms: Some(12_500.0),
            ..Default::default()
        });
    }
    let est = estimate(&run, &PriceTable::default());
    let compute = est.tests[0]
        .items
        .iter()
        .find(|i| i.item == "compute")
        .unwrap();
    // Two 1 GiB workers billed 12.5 s each, whatever their windows and init times.
    assert!(close(compute.quantity, 25.0), "{compute:?}");
}
