//! The HTML report is one self-contained page: nothing fetched from the network, an
//! inline SVG per chart with something drawn in it, and the summary's numbers.
#![cfg(feature = "charts")]
use crate::report_common;

use lgb_core::report::{html, Format, Report};
use report_common::{run, run_with, slow_run, Shape};
use scraper::{Html, Selector};

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn assert_offline(doc: &Html) {
    for el in doc.select(&sel("[src], [href], [srcset], [data], [poster], [action]")) {
        for attr in ["src", "href", "srcset", "data", "poster", "action"] {
            if let Some(v) = el.value().attr(attr) {
                let v = v.trim().to_ascii_lowercase();
                assert!(
                    !(v.starts_with("http:") || v.starts_with("https:") || v.starts_with("//")),
                    "<{} {attr}={v}> would fetch from the network",
                    el.value().name()
                );
            }
        }
    }
    assert_eq!(doc.select(&sel("script")).count(), 0, "no script at all");
    assert_eq!(
        doc.select(&sel("link")).count(),
        0,
        "no linked stylesheet or font"
    );
    assert_eq!(doc.select(&sel("iframe, object, embed, img")).count(), 0);
    for style in doc.select(&sel("style")) {
        let css = style.text().collect::<String>();
        assert!(
            !css.contains("url(") && !css.contains("@import"),
            "CSS fetches nothing"
        );
    }
}

/// The charts by their labels, each with something drawn.
fn charts(doc: &Html) -> Vec<String> {
    let mut labels = Vec::new();
    for svg in doc.select(&sel("svg")) {
        let label = svg
            .value()
            .attr("aria-label")
            .unwrap_or_default()
            .to_string();
        let drawn = svg
            .select(&sel("polyline, path, rect"))
            .filter(|e| {
                let v = e.value();
                v.attr("points")
                    .or(v.attr("d"))
                    .is_some_and(|p| p.len() > 10)
                    || v.name() == "rect"
            })
            .count();
        assert!(drawn > 0, "chart `{label}` draws nothing");
        labels.push(label);
    }
    labels
}

#[test]
fn one_run_page_is_offline_has_every_chart_and_the_summary_numbers() {
    let run = run();
    let page = html::render(&Report::new(run.clone())).unwrap();
    let doc = Html::parse_document(&page);
    assert_offline(&doc);

    let labels = charts(&doc);
    for want in [
        "Latency by percentile",
        "Throughput per second",
        "p99 latency per second",
        "Errors by class",
        "Cold starts and warm invocations per test",
        "Estimated cost per million operations",
    ] {
        assert!(
            labels.iter().any(|l| l == want),
            "no chart `{want}` in {labels:?}"
        );
    }
    // The spectrum has one line per operation and ticks in nines.
    let spectrum = spectrum(&doc);
    // Series lines are 2 px wide (axes 1 px, legend keys 3 px).
    assert_eq!(series_lines(spectrum), 2);
    let text: String = spectrum.text().collect();
    for tick in ["90%", "99%", "99.9%"] {
        assert!(text.contains(tick), "tick {tick}");
    }

    // The summary table holds the run's numbers.
    let cells: Vec<String> = doc
        .select(&sel("#summary td"))
        .map(|td| td.text().collect::<String>())
        .collect();
    let read = &run.tests[0].metrics.operations["read"];
    let update = &run.tests[0].metrics.operations["update"];
    for want in [
        read.ok.to_string(),
        update.ok.to_string(),
        update.failed.to_string(),
        lgb_core::report::format_ns(read.latency.quantile_ns(0.99) as f64),
        lgb_core::report::format_ns(read.latency.summary().max_ns as f64),
        lgb_core::report::format_rate(run.tests[0].throughput_of("read")),
        "throttled=3".to_string(),
    ] {
        assert!(cells.contains(&want), "summary lacks {want}: {cells:?}");
    }
    // Cold starts: one of the two workers, with its init time.
    let cold: Vec<String> = doc
        .select(&sel("#cold-starts td"))
        .map(|td| td.text().collect())
        .collect();
    assert!(cold.windows(3).any(|w| w == ["2", "1", "1"]), "{cold:?}");
    assert!(cold.contains(&"180ms".to_string()), "{cold:?}");
    // Cost and its date.
    let cost_text: String = doc.select(&sel("#cost")).next().unwrap().text().collect();
    assert!(
        cost_text.contains("as of 2025-07-21") && cost_text.contains("$0.00157"),
        "{cost_text}"
    );
    // Error samples keep what the adapter said, redacted.
    assert!(page.contains("ProvisionedThroughputExceeded"));
    // Print styles exist.
    assert!(page.contains("@media print"));
}

#[test]
fn comparison_page_shows_both_runs_and_the_changes() {
    let base = run();
    let slow = slow_run();
    let report = Report::compare(vec![base, slow.clone()]).unwrap();
    let page = String::from_utf8(report.to_bytes(Format::Html).unwrap()).unwrap();
    let doc = Html::parse_document(&page);
    assert_offline(&doc);
    charts(&doc);
    let rows: Vec<String> = doc
        .select(&sel("#comparison tbody tr"))
        .map(|tr| tr.text().collect::<String>())
        .collect();
    assert_eq!(rows.len(), 2, "read and update: {rows:?}");
    assert!(rows.iter().all(|r| r.contains(&slow.run_id)));
    let worse = doc.select(&sel("#comparison td.worse")).count();
    assert!(
        worse >= 6,
        "a 2x slowdown is a significant regression in most cells, got {worse}"
    );
    // Two lines per operation in the spectrum: one per run.
    let spectrum = spectrum(&doc);
    assert_eq!(series_lines(spectrum), 4);
    assert!(page.contains("bootstrap"), "the method is stated");
}

#[test]
fn a_run_without_errors_or_cost_still_renders() {
    let mut run = run_with("memory", Shape::default());
    for t in &mut run.tests {
        for m in t.metrics.operations.values_mut() {
            m.errors = Default::default();
        }
        for w in &mut t.workers {
            w.environment.memory_mb = None;
        }
    }
    let page = html::render(&Report::new(run)).unwrap();
    let doc = Html::parse_document(&page);
    assert_offline(&doc);
    let labels = charts(&doc);
    assert_eq!(
        labels.len(),
        4,
        "spectrum, throughput, p99, cold starts: {labels:?}"
    );
    assert!(page.contains("No errors."));
    assert!(page.contains("no Lambda cost"));
}

/// The latency-by-percentile chart of a page.
fn spectrum(doc: &Html) -> scraper::ElementRef<'_> {
    doc.select(&sel("svg[aria-label='Latency by percentile']"))
        .next()
        .expect("a latency-by-percentile chart")
}

/// Series lines of a chart: 2 px wide (axes are 1 px, legend keys 3 px).
fn series_lines(chart: scraper::ElementRef<'_>) -> usize {
    chart.select(&sel("polyline[stroke-width='2']")).count()
}
