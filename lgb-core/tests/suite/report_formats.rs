//! Reports of a fixed result: table, CSV and Markdown are golden (insta snapshots);
//! JSON and PNG are checked by decoding them.
use crate::report_common;

use lgb_core::report::{Format, Report};
use lgb_core::results::cost::PriceTable;

fn report() -> Report {
    Report::new(report_common::run()).with_width(Some(120))
}

fn text(format: Format) -> String {
    String::from_utf8(report().to_bytes(format).unwrap()).unwrap()
}

#[test]
fn table_is_golden() {
    insta::assert_snapshot!("table", text(Format::Table));
}

#[test]
fn csv_is_golden() {
    insta::assert_snapshot!("csv", text(Format::Csv));
}

#[test]
fn markdown_is_golden() {
    insta::assert_snapshot!("markdown", text(Format::Markdown));
}

#[test]
fn json_holds_the_result_summary_and_cost() {
    let run = report_common::run();
    let v: serde_json::Value = serde_json::from_str(&text(Format::Json)).unwrap();
    assert_eq!(v["schema_version"], lgb_core::results::SCHEMA_VERSION);
    assert_eq!(v["run_id"], run.run_id.as_str());
    let read = v["summary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["operation"] == "read")
        .unwrap();
    let m = &run.tests[0].metrics.operations["read"];
    assert_eq!(read["ok"], m.ok);
    assert_eq!(read["p99_ns"], m.latency.quantile_ns(0.99));
    // The same numbers as the cost module computes, at the default prices.
    let cost = lgb_core::results::cost::estimate(&run, &PriceTable::default());
    assert_eq!(v["cost"]["total_usd"].as_f64().unwrap(), cost.total_usd);
    assert!(cost.total_usd > 0.0);
}

#[cfg(feature = "charts")]
#[test]
fn png_decodes_at_the_requested_size_and_is_not_blank() {
    let bytes = report()
        .with_png_size((900, 1200))
        .to_bytes(Format::Png)
        .unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (900, 1200));
    let px = &buf[..info.buffer_size()];
    let white = px.chunks(3).filter(|p| p == &[255, 255, 255]).count();
    let total = px.len() / 3;
    // Lines, axes and text cover part of the image, and there is colour (the series).
    assert!(
        white < total * 97 / 100,
        "{white} of {total} pixels are white"
    );
    assert!(
        px.chunks(3).any(|p| p == [31, 119, 180]),
        "no pixel of the first series colour"
    );
    std::fs::write(std::env::temp_dir().join("lgb-report-test.png"), &bytes).unwrap();
}

/// Without the `charts` feature (the Lambda bootstrap, the quickstart's `lgb`), HTML
/// and PNG reports fail with an error that names the feature and write nothing.
#[cfg(not(feature = "charts"))]
#[test]
fn charts_left_out_name_their_feature() {
    for format in [Format::Html, Format::Png] {
        assert!(!format.is_compiled_in());
        let mut out = Vec::new();
        let err = report().write(format, &mut out).unwrap_err().to_string();
        assert!(err.contains("enable feature `charts`"), "{err}");
        assert!(err.contains(format.name()), "{err}");
        assert!(out.is_empty(), "{} bytes written", out.len());
    }
    assert!(Format::Markdown.is_compiled_in());
}

#[test]
fn formats_parse_by_name() {
    for f in Format::ALL {
        assert_eq!(f.name().parse::<Format>().unwrap(), f);
    }
    assert_eq!("markdown".parse::<Format>().unwrap(), Format::Markdown);
    let err = "pdf".parse::<Format>().unwrap_err().to_string();
    assert!(err.contains("pdf") && err.contains("html"), "{err}");
}
