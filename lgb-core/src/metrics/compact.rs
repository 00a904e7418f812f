//! How a worker sends its [`TestMetrics`]: the same JSON as results files, but every
//! whole-test [`LatencyHistogram`] in lgb's sparse form (the occupied buckets as
//! varint pairs, [`SparseHistogram::encode`]) instead of HdrHistogram's compressed V2,
//! which the runner would inflate for each of a thousand workers (a quarter of a
//! millisecond per histogram of a widely spread minute, against a twentieth).
//! [`LatencyHistogram::decode`] reads either form; results files keep V2, which any
//! HdrHistogram library reads.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use super::{
    ErrorLog, LatencyHistogram, OperationMetrics, SparseHistogram, TestMetrics, Timeline,
    VerifyReport,
};
use crate::record::OpMeta;

struct Sparse<'a>(&'a LatencyHistogram);

impl Serialize for Sparse<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&SparseHistogram::from_histogram(self.0).encode())
    }
}

/// [`OperationMetrics`] field for field (the unit tests check that none is missing).
#[derive(Serialize)]
struct Operation<'a> {
    ok: u64,
    failed: u64,
    latency: Sparse<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<Sparse<'a>>,
    failed_latency: Sparse<'a>,
    errors: &'a ErrorLog,
    meta: &'a OpMeta,
}

/// [`TestMetrics`] field for field.
#[derive(Serialize)]
struct Test<'a> {
    operations: BTreeMap<&'a str, Operation<'a>>,
    timeline: &'a Timeline,
    errors: &'a ErrorLog,
    #[serde(skip_serializing_if = "Option::is_none")]
    verify: Option<&'a VerifyReport>,
}

fn operation(m: &OperationMetrics) -> Operation<'_> {
    Operation {
        ok: m.ok,
        failed: m.failed,
        latency: Sparse(&m.latency),
        service: m.service.as_ref().map(Sparse),
        failed_latency: Sparse(&m.failed_latency),
        errors: &m.errors,
        meta: &m.meta,
    }
}

/// Serializes `metrics` with sparse whole-test histograms (`serialize_with` of
/// [`crate::protocol::WorkerResult::metrics`]).
pub(crate) fn serialize<S: Serializer>(metrics: &TestMetrics, s: S) -> Result<S::Ok, S::Error> {
    Test {
        operations: metrics
            .operations
            .iter()
            .map(|(k, m)| (k.as_str(), operation(m)))
            .collect(),
        timeline: &metrics.timeline,
        errors: &metrics.errors,
        verify: metrics.verify.as_ref(),
    }
    .serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    fn keys(v: &serde_json::Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    #[test]
    fn the_compact_form_has_every_field_and_reads_back_the_same() {
        let mut m = OperationMetrics::new(true);
        for ns in [900, 1_000, 25_000, 7_000_000, 59_000_000_000] {
            m.record_ok(0, 10, ns, &OpMeta::default());
        }
        m.record_err(0, 5_000, &Error::Timeout("slow".into()));
        let mut t = TestMetrics::default();
        t.operations.insert("read".into(), m);
        t.verify = Some(VerifyReport::default());
        t.errors.record(&Error::Backend("setup".into()));
        let mut second = LatencyHistogram::new();
        second.record_ns(1_000);
        t.timeline
            .add(
                1_700_000_000,
                "read",
                1,
                0,
                &SparseHistogram::from_histogram(&second),
            )
            .unwrap();
        let mut out = Vec::new();
        serialize(&t, &mut serde_json::Serializer::new(&mut out)).unwrap();
        let compact: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let plain = serde_json::to_value(&t).unwrap();
        // The same fields as the derived form, at both levels.
        assert_eq!(keys(&compact), keys(&plain));
        assert_eq!(
            keys(&compact["operations"]["read"]),
            keys(&plain["operations"]["read"])
        );
        assert_ne!(
            compact["operations"]["read"]["latency"],
            plain["operations"]["read"]["latency"]
        );
        let back: TestMetrics = serde_json::from_value(compact).unwrap();
        assert_eq!(back, t);
    }
}
