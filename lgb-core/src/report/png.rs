//! PNG: the latency percentile spectrum, per-second throughput and per-second p99,
//! stacked in one image, drawn with plotters' bitmap backend and the bundled font.

use std::io::Write;

use super::chart::{png_chart, spectrum_series, timeline_series, Chart, Series};
use super::{Report, Reporter};
use crate::error::{Error, Result};

/// Writes a PNG image of [`Report::png_size`] pixels.
#[derive(Debug, Clone, Copy, Default)]
pub struct PngReporter;

/// The spectrum chart alone, as PNG bytes.
pub fn spectrum_png(report: &Report, size: (u32, u32)) -> Result<Vec<u8>> {
    let series = spectrum_series(report.runs());
    png_chart(size, &Chart::Spectrum(&series))
}

/// The two timeline charts (throughput over p99), as PNG bytes.
pub fn timeline_png(report: &Report, size: (u32, u32)) -> Result<Vec<u8>> {
    let (thr, p99) = timeline_series(report.runs());
    png_chart(size, &Chart::Stack(timeline_charts(&thr, &p99).into()))
}

/// Throughput over p99 latency, per second.
fn timeline_charts<'a>(thr: &'a [Series], p99: &'a [Series]) -> [Chart<'a>; 2] {
    [
        Chart::Timeline {
            title: "Throughput per second",
            series: thr,
            latency: false,
        },
        Chart::Timeline {
            title: "p99 latency per second",
            series: p99,
            latency: true,
        },
    ]
}

impl Reporter for PngReporter {
    fn write(&self, report: &Report, out: &mut dyn Write) -> Result<()> {
        let spectrum = spectrum_series(report.runs());
        let (thr, p99) = timeline_series(report.runs());
        // A sweep's chart (two panels) goes first, in as much height again.
        let mut parts: Vec<Chart<'_>> = Vec::new();
        let mut size = report.png_size();
        if let Some(sweep) = report.sweep() {
            parts.push(Chart::Sweep(sweep));
            size.1 = size.1.saturating_add(size.1 / 2);
        }
        parts.push(Chart::Spectrum(&spectrum));
        parts.extend(timeline_charts(&thr, &p99));
        let bytes = png_chart(size, &Chart::Stack(parts))?;
        out.write_all(&bytes)
            .map_err(|e| Error::io("writing PNG", e))
    }
}
