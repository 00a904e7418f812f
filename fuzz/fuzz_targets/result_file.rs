//! A results file never crashes what reads it, whatever it holds. The bytes are a
//! results directory's `result.json`, read by `results::load_run` (what `lgb report`,
//! `lgb compare` and Python's `lgb.load` call), and a run that loads goes through what
//! is computed from its counters and histograms: the outcome and error counts,
//! throughputs, the summary rows and `summary.csv`, the timeline rows, the cost
//! estimate, every text report `lgb report` prints (table, CSV, JSON, Markdown) and a
//! comparison with itself (`lgb compare`). Whatever loads, written again as a results
//! directory by `write_run` (with `summary.csv` and the HdrHistogram interval logs),
//! loads again.
#![no_main]
use std::path::PathBuf;
use std::sync::LazyLock;

use lgb_core::results::cost;
use lgb_core::results::cost::PriceTable;
use lgb_core::report::{Format, Report};
use lgb_core::results::{load_run, tables, write_run, RunResult};
use libfuzzer_sys::fuzz_target;

/// This process's scratch directory (emptied after each input).
static SCRATCH: LazyLock<PathBuf> = LazyLock::new(|| {
    std::env::temp_dir().join(format!("lgb-fuzz-result-{}", std::process::id()))
});

/// The bytes as a results directory's `result.json`, loaded.
fn load(bytes: &[u8]) -> lgb_core::Result<RunResult> {
    std::fs::create_dir_all(&*SCRATCH).expect("the scratch directory can be made");
    let file = SCRATCH.join(lgb_core::results::RESULT_FILE);
    std::fs::write(&file, bytes).expect("the scratch file is writable");
    let run = load_run(&SCRATCH);
    let _ = std::fs::remove_dir_all(&*SCRATCH);
    run
}

fn exercise(run: &RunResult) {
    let _ = run.outcome();
    let _ = run.error_counts();
    for t in &run.tests {
        let _ = t.throughput();
        for op in t.metrics.operations.keys() {
            let _ = t.throughput_of(op);
        }
    }
    let rows = tables::summary_rows(run);
    let mut csv = Vec::new();
    let _ = tables::write_csv(&rows, &mut csv);
    let _ = tables::summary_phases(run, &rows);
    let _ = tables::timeline_rows(run);
    let _ = cost::estimate(run, &PriceTable::default());
    let _ = lgb_core::report::render_table(run, Some(120));
    let report = Report::new(run.clone()).with_width(Some(120));
    for format in [Format::Table, Format::Csv, Format::Json, Format::Markdown] {
        let _ = report.to_bytes(format);
    }
    if let Ok(compared) = Report::compare(vec![run.clone(), run.clone()]) {
        let compared = compared.with_width(Some(120));
        for format in [Format::Table, Format::Csv, Format::Json, Format::Markdown] {
            let _ = compared.to_bytes(format);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let run = match load(data) {
        Ok(run) => run,
        Err(e) => {
            // A refusal says what is wrong.
            assert!(!e.to_string().trim().is_empty());
            return;
        }
    };
    exercise(&run);
    // What lgb writes of a loaded run, it reads back. The run id names the directory
    // `write_run` makes, so the scratch copy gets a plain one (a loaded id may be a
    // path; the runner only ever writes ids it made).
    let mut copy = run.clone();
    copy.run_id = "run".into();
    std::fs::create_dir_all(&*SCRATCH).expect("the scratch directory can be made");
    let written = write_run(&copy, &SCRATCH).and_then(|dir| load_run(&dir));
    let _ = std::fs::remove_dir_all(&*SCRATCH);
    if let Err(e) = written {
        panic!("a loaded run, written again as a results directory, does not load: {e}");
    }
});
