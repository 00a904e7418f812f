//! From lgb [`Record`]s to Timestream `WriteRecords` calls: validation before sending,
//! splitting into calls of at most [`MAX_RECORDS_PER_CALL`] Timestream records, common
//! attributes, and the billable size of what is written.
//!
//! Nothing here talks to the network; the adapter sends what [`Encoder::encode`] builds.

use std::ops::Range;

use aws_sdk_timestreamwrite::types::{
    Dimension, MeasureValue, MeasureValueType, Record as TsRecord, TimeUnit as SdkTimeUnit,
};

use super::{Mapping, TimeUnit};
use crate::error::{Error, Result};
use crate::record::{Record, Value};

/// Most Timestream records one `WriteRecords` call takes.
pub const MAX_RECORDS_PER_CALL: usize = 100;
/// Longest dimension name, in bytes.
pub const MAX_DIMENSION_NAME: usize = 60;
/// Longest measure name, in bytes.
pub const MAX_MEASURE_NAME: usize = 256;
/// Most measures in one multi-measure record.
pub const MAX_MEASURES_PER_RECORD: usize = 256;
/// Largest VARCHAR measure value, and largest sum of dimension names and values of a
/// series, in bytes.
pub const MAX_VARCHAR: usize = 2048;
/// Timestream counts writes in units of this many bytes.
pub const WRITE_UNIT_BYTES: u64 = 1024;

/// Names Timestream keeps for itself.
const RESERVED: [&str; 3] = ["time", "measure_name", "measure_value"];

/// One `WriteRecords` call, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// Attributes shared by every record of the call.
    pub common: Option<TsRecord>,
    /// The records.
    pub records: Vec<TsRecord>,
    /// For each Timestream record, the index (in the caller's slice) of its lgb record.
    pub owner: Vec<usize>,
    /// Billable bytes of each Timestream record, without the common attributes.
    pub sizes: Vec<u64>,
    /// Billable bytes of the common attributes (counted once per call).
    pub common_size: u64,
    /// The lgb records of this call, as indices into the caller's slice.
    pub inputs: Range<usize>,
}

impl Call {
    /// Billable bytes of the call if the Timestream records `accepted` were written.
    pub fn billable_bytes(&self, accepted: impl Iterator<Item = usize>) -> u64 {
        let mut any = false;
        let body: u64 = accepted
            .map(|i| {
                any = true;
                self.sizes[i]
            })
            .sum();
        if any {
            self.common_size + body
        } else {
            0
        }
    }
}

/// Write units Timestream bills for a call of `bytes` billable bytes: one per started KiB.
pub fn write_units(bytes: u64) -> f64 {
    bytes.div_ceil(WRITE_UNIT_BYTES) as f64
}

/// How lgb records become Timestream records.
#[derive(Debug, Clone)]
pub(crate) struct Encoder {
    pub mapping: Mapping,
    pub measure_name: String,
    pub key_dimension: String,
    pub time_unit: TimeUnit,
    pub static_dims: Vec<(String, String)>,
    pub factor_common: bool,
}

/// One measure value, typed.
#[derive(Debug, Clone)]
struct Measure<'a> {
    name: &'a str,
    value: String,
    kind: MeasureValueType,
    size: u64,
}

/// An lgb record, checked and converted, before common attributes are factored out.
#[derive(Debug, Clone)]
struct Point<'a> {
    dims: Vec<(&'a str, &'a str)>,
    time: String,
    measures: Vec<Measure<'a>>,
}

impl Point<'_> {
    fn ts_records(&self, mapping: Mapping) -> usize {
        match mapping {
            Mapping::Multi => 1,
            Mapping::Single => self.measures.len(),
        }
    }
}

/// Checks a dimension or measure name against Timestream's naming rules.
pub fn check_name(kind: &str, name: &str, max: usize) -> Option<String> {
    if name.is_empty() {
        return Some(format!("a {kind} name is empty"));
    }
    if name.len() > max {
        return Some(format!(
            "{kind} name `{name}` is {} bytes, over Timestream's limit of {max}",
            name.len()
        ));
    }
    if name.contains(':') {
        return Some(format!(
            "{kind} name `{name}` contains a colon, which Timestream does not allow"
        ));
    }
    if RESERVED.contains(&name) || name.starts_with("ts_") || name.starts_with("measure_value") {
        return Some(format!(
            "{kind} name `{name}` is reserved by Timestream (time, measure_name, measure_value*, ts_*)"
        ));
    }
    None
}

fn measure_of<'a>(name: &'a str, value: &Value) -> std::result::Result<Measure<'a>, String> {
    let (value, kind, size) = match value {
        Value::Int(i) => (i.to_string(), MeasureValueType::Bigint, 8),
        Value::Float(f) if f.is_finite() => (format!("{f:?}"), MeasureValueType::Double, 8),
        Value::Float(f) => return Err(format!("field `{name}` is {f}; Timestream takes finite doubles only")),
        Value::Bool(b) => (b.to_string(), MeasureValueType::Boolean, 1),
        Value::Str(_) | Value::Shared(_) => {
            let s = value.as_text().unwrap_or_default();
            if s.len() > MAX_VARCHAR {
                return Err(format!(
                    "field `{name}` is a string of {} bytes, over Timestream's VARCHAR limit of {MAX_VARCHAR}",
                    s.len()
                ));
            }
            (s.to_owned(), MeasureValueType::Varchar, s.len() as u64)
        }
        Value::Bytes(_) => {
            return Err(format!(
                "field `{name}` holds bytes; Timestream measures are BIGINT, DOUBLE, BOOLEAN or VARCHAR"
            ))
        }
    };
    Ok(Measure {
        name,
        value,
        kind,
        size,
    })
}

impl Encoder {
    /// The time of `ms` (ms since the epoch) in the configured unit, as Timestream wants it.
    pub fn time_text(&self, ms: i64) -> std::result::Result<String, String> {
        let v = match self.time_unit {
            TimeUnit::Milliseconds => Some(ms),
            TimeUnit::Seconds => Some(ms.div_euclid(1000)),
            TimeUnit::Microseconds => ms.checked_mul(1000),
            TimeUnit::Nanoseconds => ms.checked_mul(1_000_000),
        };
        v.map(|v| v.to_string())
            .ok_or_else(|| format!("timestamp {ms} does not fit in {:?}", self.time_unit))
    }

    fn sdk_unit(&self) -> SdkTimeUnit {
        match self.time_unit {
            TimeUnit::Milliseconds => SdkTimeUnit::Milliseconds,
            TimeUnit::Seconds => SdkTimeUnit::Seconds,
            TimeUnit::Microseconds => SdkTimeUnit::Microseconds,
            TimeUnit::Nanoseconds => SdkTimeUnit::Nanoseconds,
        }
    }

    /// Checks one record and converts it; every problem is listed.
    fn point<'a>(
        &'a self,
        record: &'a Record,
        now_ms: i64,
    ) -> std::result::Result<Point<'a>, Vec<String>> {
        let mut problems = Vec::new();
        if record.key.is_empty() {
            problems.push(format!(
                "the key is empty; it is the `{}` dimension and must have a value",
                self.key_dimension
            ));
        }
        let mut dims: Vec<(&str, &str)> =
            Vec::with_capacity(record.dimensions.len() + 1 + self.static_dims.len());
        dims.push((self.key_dimension.as_str(), record.key.as_str()));
        for (n, v) in &record.dimensions {
            if let Some(p) = check_name("dimension", n, MAX_DIMENSION_NAME) {
                problems.push(p);
            }
            if v.is_empty() {
                problems.push(format!("dimension `{n}` has an empty value"));
            }
            dims.push((n.as_str(), v.as_str()));
        }
        if !self.factor_common {
            dims.extend(
                self.static_dims
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str())),
            );
        }
        let mut names: Vec<&str> = dims
            .iter()
            .map(|(n, _)| *n)
            .chain(self.static_dims.iter().map(|(n, _)| n.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        let expected = dims.len()
            + if self.factor_common {
                self.static_dims.len()
            } else {
                0
            };
        if names.len() != expected {
            problems.push(format!(
                "dimension names repeat (the key is dimension `{}`; configured dimensions are added to every record)",
                self.key_dimension
            ));
        }
        let mut series_bytes: usize = dims.iter().map(|(n, v)| n.len() + v.len()).sum();
        if self.factor_common {
            series_bytes += self
                .static_dims
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>();
        }
        if series_bytes > MAX_VARCHAR {
            problems.push(format!(
                "dimension names and values add up to {series_bytes} bytes, over Timestream's limit of {MAX_VARCHAR} per series"
            ));
        }
        if record.fields.is_empty() {
            problems.push("the record has no fields; Timestream needs at least one measure".into());
        }
        if self.mapping == Mapping::Multi && record.fields.len() > MAX_MEASURES_PER_RECORD {
            problems.push(format!(
                "{} fields, over Timestream's limit of {MAX_MEASURES_PER_RECORD} measures per multi-measure record",
                record.fields.len()
            ));
        }
        if self.mapping == Mapping::Single && record.fields.len() > MAX_RECORDS_PER_CALL {
            problems.push(format!(
                "{} fields; the single-measure mapping writes one Timestream record per field and a call holds at most {MAX_RECORDS_PER_CALL}",
                record.fields.len()
            ));
        }
        let mut measures = Vec::with_capacity(record.fields.len());
        for (n, v) in &record.fields {
            if let Some(p) = check_name("measure", n, MAX_MEASURE_NAME) {
                problems.push(p);
            } else if names.binary_search(&n.as_str()).is_ok() {
                problems.push(format!("field `{n}` has the name of a dimension"));
            }
            match measure_of(n, v) {
                Ok(m) => measures.push(m),
                Err(p) => problems.push(p),
            }
        }
        let mut field_names: Vec<&str> = record.fields.iter().map(|(n, _)| n.as_str()).collect();
        field_names.sort_unstable();
        if field_names.windows(2).any(|w| w[0] == w[1]) {
            problems.push("field names repeat".into());
        }
        let ms = record.timestamp.unwrap_or(now_ms);
        let time = if ms < 0 {
            problems.push(format!("timestamp {ms} is before 1970"));
            String::new()
        } else {
            self.time_text(ms).unwrap_or_else(|p| {
                problems.push(p);
                String::new()
            })
        };
        if problems.is_empty() {
            Ok(Point {
                dims,
                time,
                measures,
            })
        } else {
            Err(problems)
        }
    }

    /// Checks every record and builds the calls that write them. Nothing is built when a
    /// record is invalid: the error names each bad record by its index.
    pub fn encode(&self, records: &[Record], now_ms: i64) -> Result<Vec<Call>> {
        let mut points = Vec::with_capacity(records.len());
        let mut problems = Vec::new();
        for (i, r) in records.iter().enumerate() {
            match self.point(r, now_ms) {
                Ok(p) => points.push(p),
                Err(ps) => problems.extend(ps.into_iter().map(|p| format!("record {i}: {p}"))),
            }
        }
        if !problems.is_empty() {
            let n = problems.len();
            let mut text = problems.into_iter().take(5).collect::<Vec<_>>().join("; ");
            if n > 5 {
                text.push_str(&format!("; and {} more", n - 5));
            }
            return Err(Error::Rejected(format!("not sent: {text}")));
        }
        let mut calls = Vec::new();
        let mut start = 0;
        let mut count = 0;
        for (i, p) in points.iter().enumerate() {
            let n = p.ts_records(self.mapping);
            if count + n > MAX_RECORDS_PER_CALL {
                calls.push(self.call(&points[start..i], start));
                start = i;
                count = 0;
            }
            count += n;
        }
        if start < points.len() {
            calls.push(self.call(&points[start..], start));
        }
        Ok(calls)
    }

    fn call(&self, points: &[Point<'_>], offset: usize) -> Call {
        let factor = self.factor_common;
        // Dimensions (name and value) that every point of the call has.
        let shared: Vec<(&str, &str)> = if factor {
            points[0]
                .dims
                .iter()
                .filter(|d| points[1..].iter().all(|p| p.dims.contains(d)))
                .copied()
                .collect()
        } else {
            Vec::new()
        };
        let same_time = factor && points.iter().all(|p| p.time == points[0].time);
        let multi = self.mapping == Mapping::Multi;

        let mut common_size = 0u64;
        let common = factor.then(|| {
            let mut c = TsRecord::builder().time_unit(self.sdk_unit());
            for (n, v) in self
                .static_dims
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .chain(shared.iter().copied())
            {
                common_size += (n.len() + v.len()) as u64;
                c = c.dimensions(dimension(n, v));
            }
            if same_time {
                common_size += 8;
                c = c.time(points[0].time.clone());
            }
            if multi {
                common_size += self.measure_name.len() as u64;
                c = c
                    .measure_name(self.measure_name.clone())
                    .measure_value_type(MeasureValueType::Multi);
            }
            c.build()
        });

        let mut records = Vec::new();
        let mut owner = Vec::new();
        let mut sizes = Vec::new();
        for (i, p) in points.iter().enumerate() {
            let mut base = TsRecord::builder();
            let mut base_size = 0u64;
            for d in p.dims.iter().filter(|d| !shared.contains(d)) {
                base_size += (d.0.len() + d.1.len()) as u64;
                base = base.dimensions(dimension(d.0, d.1));
            }
            if !same_time {
                base_size += 8;
                base = base.time(p.time.clone());
            }
            if !factor {
                base = base.time_unit(self.sdk_unit());
            }
            if multi {
                let mut r = base;
                let mut size = base_size;
                if !factor {
                    size += self.measure_name.len() as u64;
                    r = r
                        .measure_name(self.measure_name.clone())
                        .measure_value_type(MeasureValueType::Multi);
                }
                for m in &p.measures {
                    size += m.name.len() as u64 + m.size;
                    r = r.measure_values(measure_value(m));
                }
                records.push(r.build());
                owner.push(offset + i);
                sizes.push(size);
            } else {
                for m in &p.measures {
                    let r = base
                        .clone()
                        .measure_name(m.name)
                        .measure_value(m.value.clone())
                        .measure_value_type(m.kind.clone());
                    records.push(r.build());
                    owner.push(offset + i);
                    sizes.push(base_size + m.name.len() as u64 + m.size);
                }
            }
        }
        Call {
            common,
            records,
            owner,
            sizes,
            common_size,
            inputs: offset..offset + points.len(),
        }
    }
}

fn dimension(name: &str, value: &str) -> Dimension {
    Dimension::builder()
        .name(name)
        .value(value)
        .build()
        .expect("name and value are set")
}

fn measure_value(m: &Measure<'_>) -> MeasureValue {
    MeasureValue::builder()
        .name(m.name)
        .value(m.value.clone())
        .r#type(m.kind.clone())
        .build()
        .expect("name, value and type are set")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoder(mapping: Mapping) -> Encoder {
        Encoder {
            mapping,
            measure_name: "metrics".into(),
            key_dimension: "series".into(),
            time_unit: TimeUnit::Milliseconds,
            static_dims: vec![("bench".into(), "b1".into())],
            factor_common: true,
        }
    }

    fn point(key: &str, t: i64) -> Record {
        let mut r = Record::new(key)
            .with_field("cpu", Value::Float(1.5))
            .with_field("n", Value::Int(3))
            .with_field("up", Value::Bool(true))
            .with_field("note", Value::Str("ok".into()));
        r.timestamp = Some(t);
        r.dimensions.push(("region".into(), "eu-west-1".into()));
        r
    }

    #[test]
    fn multi_measure_calls_share_common_attributes_and_count_bytes() {
        let e = encoder(Mapping::Multi);
        let recs: Vec<Record> = (0..250)
            .map(|i| point(&format!("h{}", i % 2), 1000))
            .collect();
        let calls = e.encode(&recs, 0).unwrap();
        assert_eq!(
            calls.iter().map(|c| c.records.len()).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        assert_eq!(calls[2].inputs, 200..250);
        let c = &calls[0];
        let common = c.common.as_ref().unwrap();
        // region, bench and the time are shared; the key differs between h0 and h1.
        let dims: Vec<&str> = common.dimensions().iter().map(|d| d.name()).collect();
        assert_eq!(dims, ["bench", "region"]);
        assert_eq!(common.time(), Some("1000"));
        assert_eq!(common.measure_value_type(), Some(&MeasureValueType::Multi));
        // bench+b1 (7) + region+eu-west-1 (15) + time (8) + "metrics" (7)
        assert_eq!(c.common_size, 37);
        let r = &c.records[0];
        assert_eq!(r.dimensions().len(), 1);
        assert_eq!(r.measure_values().len(), 4);
        let types: Vec<&str> = r
            .measure_values()
            .iter()
            .map(|m| m.r#type().as_str())
            .collect();
        assert_eq!(types, ["DOUBLE", "BIGINT", "BOOLEAN", "VARCHAR"]);
        // series+h0 (8) + cpu 3+8 + n 1+8 + up 2+1 + note 4+2
        assert_eq!(c.sizes[0], 8 + 11 + 9 + 3 + 6);
        let bytes = c.billable_bytes(0..100);
        assert_eq!(bytes, 37 + 100 * 37);
        assert_eq!(write_units(bytes), 4.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(c.billable_bytes(std::iter::empty()), 0);
    }

    #[test]
    fn single_measure_writes_one_record_per_field_and_keeps_owners() {
        let e = encoder(Mapping::Single);
        let mut recs: Vec<Record> = (0..30).map(|i| point("h", 1000 + i)).collect();
        recs[3].fields.truncate(1);
        let calls = e.encode(&recs, 0).unwrap();
        // 29 records × 4 fields + 1 × 1 = 117 Timestream records: 25 lgb records fit in
        // the first call (97 Timestream records), the rest in the second.
        assert_eq!(calls[0].records.len(), 97);
        assert_eq!(calls[0].inputs, 0..25);
        assert_eq!(calls[1].records.len(), 20);
        assert_eq!(calls[0].owner[..6], [0, 0, 0, 0, 1, 1]);
        assert_eq!(calls[0].owner[12..14], [3, 4]);
        let r = &calls[0].records[0];
        assert_eq!(r.measure_name(), Some("cpu"));
        assert_eq!(r.measure_value(), Some("1.5"));
        assert_eq!(r.measure_value_type(), Some(&MeasureValueType::Double));
        assert_eq!(
            r.time(),
            Some("1000"),
            "times differ, so each record has its own"
        );
        // The key is shared too: every record has series=h.
        assert!(r.dimensions().is_empty());
    }

    #[test]
    fn invalid_records_are_named_by_index_before_sending() {
        let e = encoder(Mapping::Multi);
        let mut recs: Vec<Record> = (0..5).map(|i| point("h", i)).collect();
        recs[1].dimensions.push(("ts_bad".into(), "x".into()));
        recs[3].fields.push(("blob".into(), Value::Bytes(vec![1])));
        recs[4].fields.push(("f".into(), Value::Float(f64::NAN)));
        let err = e.encode(&recs, 0).unwrap_err();
        assert_eq!(err.class(), crate::error::ErrorClass::Rejected);
        let text = err.to_string();
        assert!(
            text.contains("record 1: dimension name `ts_bad` is reserved"),
            "{text}"
        );
        assert!(
            text.contains("record 3: field `blob` holds bytes"),
            "{text}"
        );
        assert!(text.contains("record 4: field `f` is NaN"), "{text}");
        assert!(!text.contains("record 0"), "{text}");

        let mut r = point("h", 0);
        r.dimensions.push(("bench".into(), "again".into()));
        r.fields.push(("a:b".into(), Value::Int(1)));
        r.fields.push(("x".into(), Value::Str("y".repeat(3000))));
        let text = e.encode(&[r], 0).unwrap_err().to_string();
        assert!(text.contains("dimension names repeat"), "{text}");
        assert!(text.contains("contains a colon"), "{text}");
        assert!(text.contains("over Timestream's VARCHAR limit"), "{text}");
        assert!(e
            .encode(&[Record::new("")], 0)
            .unwrap_err()
            .to_string()
            .contains("the key is empty"));
    }

    #[test]
    fn time_units_and_default_time() {
        let mut e = encoder(Mapping::Multi);
        let mut r = point("h", 0);
        r.timestamp = None;
        let calls = e.encode(&[r], 1_234_567).unwrap();
        assert_eq!(calls[0].common.as_ref().unwrap().time(), Some("1234567"));
        e.time_unit = TimeUnit::Seconds;
        assert_eq!(e.time_text(1_234_567).unwrap(), "1234");
        e.time_unit = TimeUnit::Nanoseconds;
        assert_eq!(e.time_text(5).unwrap(), "5000000");
        assert!(e.time_text(i64::MAX).is_err());
        let calls = e.encode(&[point("h", 5)], 0).unwrap();
        assert_eq!(
            calls[0].common.as_ref().unwrap().time_unit(),
            Some(&SdkTimeUnit::Nanoseconds)
        );
    }

    #[test]
    fn without_common_attributes_every_record_carries_everything() {
        let mut e = encoder(Mapping::Multi);
        e.factor_common = false;
        let calls = e.encode(&[point("h", 7), point("h", 7)], 0).unwrap();
        assert!(calls[0].common.is_none());
        let r = &calls[0].records[1];
        let dims: Vec<&str> = r.dimensions().iter().map(|d| d.name()).collect();
        assert_eq!(dims, ["series", "region", "bench"]);
        assert_eq!(r.measure_name(), Some("metrics"));
        assert_eq!(r.time(), Some("7"));
        // series+h 7, region 15, bench 7, time 8, "metrics" 7, measures 37-8
        assert_eq!(calls[0].sizes[1], 7 + 15 + 7 + 8 + 7 + 29);
        assert_eq!(calls[0].common_size, 0);
    }
}
