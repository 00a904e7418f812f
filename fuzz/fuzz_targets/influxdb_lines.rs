//! The influxdb adapter's line-protocol encoder and its readers of InfluxDB's answers
//! never panic on any input. Records (JSON, from the config's workload or a worker
//! request) are encoded: an accepted point is one line ending in its only newline, a
//! refused one appends nothing, and chunks keep every accepted point once, in order.
//! Server bytes go through the error, partial-write and query-result readers.
#![no_main]
use lgb_core::database::influxdb::line::{LineEncoder, Precision};
use lgb_core::database::influxdb::response;
use lgb_core::record::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let tags = [("bench".to_string(), "a b".to_string())];
    let precision = [Precision::Nanosecond, Precision::Microsecond, Precision::Millisecond, Precision::Second][usize::from(mode % 4)];
    let enc = LineEncoder::new("cpu", "host", tags.iter().map(|(k, v)| (k, v)), precision, 4096);
    let records: Vec<Record> = serde_json::from_slice(rest).unwrap_or_default();
    for r in &records {
        let mut out = b"x\n".to_vec();
        match enc.encode(r, 1, &mut out) {
            Ok(()) => {
                assert!(out.len() > 2 && out.ends_with(b"\n"));
                assert_eq!(out[2..].iter().filter(|&&b| b == b'\n').count(), 1, "one line");
            }
            Err(_) => assert_eq!(out, b"x\n"),
        }
    }
    let (chunks, bad) = enc.encode_chunks(&records, 1, 3, 4096);
    let mut seen: Vec<usize> = chunks.iter().flat_map(|c| c.owners.iter().copied()).collect();
    seen.extend(bad.iter().map(|(i, _)| *i));
    seen.sort_unstable();
    assert_eq!(seen, (0..records.len()).collect::<Vec<_>>());
    for c in &chunks {
        assert!(c.owners.len() <= 3 && c.owners.len() == c.ends.len());
        for i in 0..c.owners.len() {
            let _ = c.line(i);
        }
    }
    // The same bytes as a server's answer.
    let message = response::error_message(rest);
    if let Some(c) = chunks.first() {
        if let Some(d) = response::partial_v1(&message, c, &records) {
            assert!(d.lines.iter().all(|(i, _)| *i < c.owners.len()));
        }
    }
    if let Some(d) = response::partial_v3(rest, 3) {
        assert!(d.lines.iter().all(|(i, _)| *i < 3));
    }
    let shape = response::RowShape { key_tag: "host", tag_columns: &["region"] };
    if let Ok(series) = response::influxql_series(rest) {
        let _ = response::series_records(&series, &shape);
    }
    let _ = response::v3_records(rest, &shape);
});
