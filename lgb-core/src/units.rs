//! Human-friendly units in configs: durations like `"30s"` and sizes like `"1KiB"`.
//!
//! The lowest layer with `error`: every module may use these; they use nothing of lgb.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written for people: `"30s"`, `"500ms"`, `"1m 30s"`, `"250us"`.
///
/// Parsing (and so deserializing) refuses durations above [`HumanDuration::MAX`]
/// (366 days): every duration of a config or a request is bounded, so sums of a few
/// of them cannot overflow. A value built in code (`HumanDuration(Duration::MAX)`) is
/// not checked; whoever adds such values still uses checked arithmetic.
///
/// ```
/// use lgb_core::units::HumanDuration;
/// let d: HumanDuration = serde_json::from_str("\"1m 30s\"").unwrap();
/// assert_eq!(d.0.as_secs(), 90);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The longest duration lgb parses: 366 days.
    pub const MAX: Duration = Duration::from_secs(366 * 24 * 60 * 60);

    /// `secs` seconds.
    pub const fn secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// `ms` milliseconds.
    pub const fn millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }
}

impl std::str::FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let d = humantime::parse_duration(s.trim()).map_err(|e| {
            format!("`{s}` is not a duration ({e}); write for example \"30s\" or \"500ms\"")
        })?;
        if d > Self::MAX {
            return Err(format!(
                "`{s}` is longer than the longest duration lgb accepts (366 days)"
            ));
        }
        Ok(HumanDuration(d))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration such as \"30s\", \"500ms\", \"1m 30s\" or \"250us\", at most 366 days.",
            "pattern": "^\\s*([0-9]+\\s*(ns|nsec|us|usec|µs|ms|msec|s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days)\\s*)+$"
        })
    }
}

/// A size in bytes written for people: `"100B"`, `"1KiB"`, `"4 MB"`, or a plain integer.
///
/// ```
/// use lgb_core::units::ByteSize;
/// let s: ByteSize = serde_json::from_str("\"1KiB\"").unwrap();
/// assert_eq!(s.0, 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.trim()
            .parse::<bytesize::ByteSize>()
            .map(|b| ByteSize(b.as_u64()))
            .map_err(|_| format!("`{s}` is not a size; write for example \"100B\" or \"1KiB\""))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", bytesize::ByteSize(self.0).display().iec())
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl schemars::JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A size: bytes as an integer, or a string such as \"100B\", \"1KiB\", \"4MB\".",
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT]i?)?[bB]?\\s*$"}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        let d: HumanDuration = "1m 30s".parse().unwrap();
        assert_eq!(d.0, Duration::from_secs(90));
        let d: HumanDuration = "250us".parse().unwrap();
        assert_eq!(d.0, Duration::from_micros(250));
        assert!("fast".parse::<HumanDuration>().is_err());
        assert_eq!(
            serde_json::to_string(&HumanDuration::millis(1500)).unwrap(),
            "\"1s 500ms\""
        );
    }

    #[test]
    fn durations_above_the_maximum_are_refused() {
        assert_eq!(HumanDuration::MAX, Duration::from_secs(366 * 86_400));
        let max: HumanDuration = "366d".parse().unwrap();
        assert_eq!(max.0, HumanDuration::MAX);
        let e = "366d 1ns".parse::<HumanDuration>().unwrap_err();
        assert_eq!(
            e,
            "`366d 1ns` is longer than the longest duration lgb accepts (366 days)"
        );
        // The largest number of seconds humantime reads: no overflow later, refused now.
        let e = serde_json::from_str::<HumanDuration>("\"18446744073709551615s\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("longest duration lgb accepts (366 days)"), "{e}");
        // The schema says so too.
        let schema = serde_json::to_string(&schemars::schema_for!(HumanDuration)).unwrap();
        assert!(schema.contains("at most 366 days"), "{schema}");
    }

    #[test]
    fn sizes_accept_units_and_integers() {
        assert_eq!("1KiB".parse::<ByteSize>().unwrap().0, 1024);
        assert_eq!("1 KB".parse::<ByteSize>().unwrap().0, 1000);
        assert_eq!(serde_json::from_str::<ByteSize>("42").unwrap().0, 42);
        assert!(serde_json::from_str::<ByteSize>("\"lots\"").is_err());
    }
}

/// Deserializes a count written as an integer or as a number with no fraction
/// (`1e6`, `1000000.0`), so that a config can say `"records": 1e9` and be checked
/// against what it would cost instead of being refused as a float.
pub(crate) fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Whole;
    impl serde::de::Visitor<'_> for Whole {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
            // 2^64 itself is not representable as u64; every smaller whole float is.
            if v.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&v) {
                Ok(v as u64)
            } else {
                Err(E::invalid_value(serde::de::Unexpected::Float(v), &self))
            }
        }
    }
    d.deserialize_any(Whole)
}

#[cfg(test)]
mod whole_number_tests {
    #[derive(serde::Deserialize)]
    struct N(#[serde(deserialize_with = "super::whole_number")] u64);

    #[test]
    fn whole_floats_are_counts_and_fractions_are_refused() {
        let n = |s: &str| serde_json::from_str::<N>(s).map(|n| n.0);
        assert_eq!(n("1000").unwrap(), 1000);
        assert_eq!(n("1e18").unwrap(), 1_000_000_000_000_000_000);
        assert_eq!(n("2.0").unwrap(), 2);
        assert!(n("2.5").is_err());
        assert!(n("-1").is_err());
        assert!(n("1e30").is_err());
        assert!(n("\"7\"").is_err());
    }
}
