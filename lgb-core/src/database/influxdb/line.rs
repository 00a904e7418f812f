//! lgb [`Record`]s as InfluxDB line protocol, written by hand: escaping of the
//! measurement, tag keys and values, field keys and string values as the line-protocol
//! reference gives it, typed field values (`1i` integers, floats, `true`/`false`,
//! quoted strings), a timestamp in the chosen precision, and requests split by points
//! and by bytes.
//!
//! A point that line protocol cannot carry the same way on InfluxDB 1.x, 2.x and 3 is
//! refused before anything is sent, with the record's key and the part at fault: a
//! newline in a name, tag value or string, a backslash before a character that would
//! be escaped, a field with a tag's name, a duplicate, a non-finite float, bytes, a
//! point without fields or larger than the request limit. A tag with an empty value
//! is left out (InfluxDB has no empty tags).
//!
//! Nothing here talks to the network.

use std::io::Write as _;

use serde::{Deserialize, Serialize};

use crate::record::{Record, Value};

/// Precision of the timestamps written.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum Precision {
    /// Nanoseconds.
    #[serde(rename = "ns")]
    Nanosecond,
    /// Microseconds.
    #[serde(rename = "us")]
    Microsecond,
    /// Milliseconds: lgb's own unit, so record times are exact (the default).
    #[default]
    #[serde(rename = "ms")]
    Millisecond,
    /// Seconds: record times are rounded down.
    #[serde(rename = "s")]
    Second,
}

impl Precision {
    /// The `precision` parameter of the v1 `/write` API.
    pub fn v1(self) -> &'static str {
        match self {
            Precision::Nanosecond => "n",
            Precision::Microsecond => "u",
            Precision::Millisecond => "ms",
            Precision::Second => "s",
        }
    }

    /// The `precision` parameter of the v2 `/api/v2/write` API.
    pub fn v2(self) -> &'static str {
        match self {
            Precision::Nanosecond => "ns",
            Precision::Microsecond => "us",
            Precision::Millisecond => "ms",
            Precision::Second => "s",
        }
    }

    /// The `precision` parameter of the v3 `/api/v3/write_lp` API.
    pub fn v3(self) -> &'static str {
        match self {
            Precision::Nanosecond => "nanosecond",
            Precision::Microsecond => "microsecond",
            Precision::Millisecond => "millisecond",
            Precision::Second => "second",
        }
    }

    /// `ms` milliseconds since the epoch in this precision; `None` when it does not
    /// fit in the 64-bit timestamps InfluxDB stores (nanoseconds reach year 2262).
    pub fn from_ms(self, ms: i64) -> Option<i64> {
        match self {
            Precision::Nanosecond => ms.checked_mul(1_000_000),
            Precision::Microsecond => ms.checked_mul(1_000),
            Precision::Millisecond => Some(ms),
            Precision::Second => Some(ms.div_euclid(1000)),
        }
    }

    /// The time now, in this precision.
    pub fn now(self) -> i64 {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let v = match self {
            Precision::Nanosecond => d.as_nanos(),
            Precision::Microsecond => d.as_micros(),
            Precision::Millisecond => d.as_millis(),
            Precision::Second => u128::from(d.as_secs()),
        };
        i64::try_from(v).unwrap_or(i64::MAX)
    }
}

/// What a name is, for [`check_name`] and escaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// The measurement (commas and spaces are escaped).
    Measurement,
    /// A tag key (commas, `=` and spaces are escaped).
    TagKey,
    /// A tag value (as tag keys).
    TagValue,
    /// A field key (as tag keys).
    FieldKey,
}

impl NameKind {
    fn what(self) -> &'static str {
        match self {
            NameKind::Measurement => "measurement",
            NameKind::TagKey => "tag key",
            NameKind::TagValue => "tag value",
            NameKind::FieldKey => "field key",
        }
    }

    fn specials(self) -> &'static [u8] {
        match self {
            NameKind::Measurement => b", ",
            _ => b",= ",
        }
    }
}

/// Why `s` cannot be written as a `kind` the same way on every InfluxDB, or `None`.
///
/// ```
/// use lgb_core::database::influxdb::line::{check_name, NameKind};
/// assert!(check_name(NameKind::TagValue, "us west,1").is_none()); // escaped
/// assert!(check_name(NameKind::TagValue, "a\nb").unwrap().contains("newline"));
/// assert!(check_name(NameKind::FieldKey, "time").unwrap().contains("reserved"));
/// ```
pub fn check_name(kind: NameKind, s: &str) -> Option<String> {
    let what = kind.what();
    if s.is_empty() {
        return Some(format!("an empty {what} cannot be written"));
    }
    if s.len() > MAX_NAME_BYTES {
        return Some(format!(
            "a {what} of {} bytes is longer than InfluxDB's {MAX_NAME_BYTES}",
            s.len()
        ));
    }
    if s.bytes().any(|b| b == b'\n' || b == b'\r') {
        return Some(format!(
            "a {what} cannot hold a newline (line protocol has no escape for it): {}",
            shorten(s)
        ));
    }
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'\\' {
            match b.get(i + 1) {
                None => {
                    return Some(format!(
                        "a {what} cannot end with a backslash (it would escape the separator): {}",
                        shorten(s)
                    ))
                }
                Some(n) if b",= \"\\".contains(n) => {
                    return Some(format!(
                        "a {what} cannot hold a backslash before `{}` (InfluxDB 1.x and 2.x read it differently): {}",
                        *n as char,
                        shorten(s)
                    ))
                }
                Some(_) => {}
            }
        }
    }
    match kind {
        NameKind::Measurement if s.starts_with('#') => Some(format!(
            "a measurement cannot start with `#` (the line would be a comment): {}",
            shorten(s)
        )),
        NameKind::TagKey | NameKind::FieldKey if s == "time" => Some(format!(
            "`time` is reserved by InfluxDB; it cannot be a {what}"
        )),
        NameKind::TagKey if s == "_field" || s == "_measurement" => Some(format!(
            "`{s}` is reserved by InfluxDB 2; it cannot be a {what}"
        )),
        _ => None,
    }
}

/// Longest measurement, tag key, tag value or field key, in bytes.
pub const MAX_NAME_BYTES: usize = 65_535;

fn shorten(s: &str) -> String {
    let mut end = s.len().min(60);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    if end < s.len() {
        format!("{:?}…", &s[..end])
    } else {
        format!("{s:?}")
    }
}

/// Appends `s` with the `kind`'s special characters escaped by a backslash.
fn push_escaped(out: &mut Vec<u8>, s: &str, kind: NameKind) {
    let specials = kind.specials();
    let b = s.as_bytes();
    if !b.iter().any(|c| specials.contains(c)) {
        out.extend_from_slice(b);
        return;
    }
    for &c in b {
        if specials.contains(&c) {
            out.push(b'\\');
        }
        out.push(c);
    }
}

/// What a byte of a name is, for [`push_checked`]: 0 plain, 1 escaped, 2 to be checked.
const fn classes(kind_specials: &[u8]) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < kind_specials.len() {
        t[kind_specials[i] as usize] = 1;
        i += 1;
    }
    t[b'\n' as usize] = 2;
    t[b'\r' as usize] = 2;
    t[b'\\' as usize] = 2;
    t
}
const MEASUREMENT_CLASSES: [u8; 256] = classes(b", ");
const NAME_CLASSES: [u8; 256] = classes(b",= ");

/// [`check_name`] and [`push_escaped`] in one pass over the bytes for what needs
/// neither (most names): the checks run in full only for a name with a newline or a
/// backslash. Nothing is appended on error.
#[inline]
fn push_checked(out: &mut Vec<u8>, s: &str, kind: NameKind) -> Result<(), String> {
    let table = match kind {
        NameKind::Measurement => &MEASUREMENT_CLASSES,
        _ => &NAME_CLASSES,
    };
    let b = s.as_bytes();
    let mut worst = 0u8;
    for &c in b {
        worst |= table[c as usize];
    }
    if b.is_empty() || b.len() > MAX_NAME_BYTES || worst & 2 != 0 || kind != NameKind::TagValue {
        if let Some(m) = check_name(kind, s) {
            return Err(m);
        }
    }
    if worst == 0 {
        out.extend_from_slice(b);
    } else {
        push_escaped(out, s, kind);
    }
    Ok(())
}

/// Whether `a` and `b` have the same tag and field names in the same order: then
/// what was checked of `a`'s names holds for `b`'s.
fn same_names(a: &Record, b: &Record) -> bool {
    a.dimensions.len() == b.dimensions.len()
        && a.fields.len() == b.fields.len()
        && a.dimensions
            .iter()
            .zip(&b.dimensions)
            .all(|((x, xv), (y, yv))| x == y && xv.is_empty() == yv.is_empty())
        && a.fields
            .iter()
            .zip(&b.fields)
            .all(|((x, _), (y, _))| x == y)
}

/// Appends `s` as a quoted string field value (`"` and `\` escaped).
fn push_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'"' || c == b'\\') {
        out.extend_from_slice(b);
    } else {
        for &c in b {
            if c == b'"' || c == b'\\' {
                out.push(b'\\');
            }
            out.push(c);
        }
    }
    out.push(b'"');
}

/// The type InfluxDB gives a field value, as its messages name it.
pub fn influx_type(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "integer",
        Value::Float(_) => "float",
        Value::Bool(_) => "boolean",
        Value::Str(_) | Value::Shared(_) => "string",
        Value::Bytes(_) => "bytes",
    }
}

/// How records become lines: the parts every point shares, escaped once.
#[derive(Debug, Clone)]
pub struct LineEncoder {
    /// The escaped measurement.
    measurement: Vec<u8>,
    /// `,<key tag>=` escaped.
    key_tag: Vec<u8>,
    key_tag_name: String,
    /// `,k=v` of every static tag, escaped.
    static_tags: Vec<u8>,
    static_names: Vec<String>,
    precision: Precision,
    max_point_bytes: usize,
}

/// Points encoded into requests of bounded size.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chunk {
    /// The request body: one line per point, each ending in `\n`.
    pub body: Vec<u8>,
    /// For each line, the index of its record in the caller's slice.
    pub owners: Vec<usize>,
    /// For each line, where it ends in `body` (after its `\n`).
    pub ends: Vec<usize>,
}

impl Chunk {
    /// Line `i` without its newline.
    pub fn line(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.body[start..self.ends[i] - 1]
    }
}

impl LineEncoder {
    /// An encoder of points of `measurement` keyed by tag `key_tag`, with `tags` on
    /// every point. Names are not checked here: the options' `problems()` did.
    pub fn new<'a>(
        measurement: &str,
        key_tag: &str,
        tags: impl IntoIterator<Item = (&'a String, &'a String)>,
        precision: Precision,
        max_point_bytes: usize,
    ) -> Self {
        let mut m = Vec::new();
        push_escaped(&mut m, measurement, NameKind::Measurement);
        let mut k = vec![b','];
        push_escaped(&mut k, key_tag, NameKind::TagKey);
        k.push(b'=');
        let mut st = Vec::new();
        let mut names = Vec::new();
        for (n, v) in tags {
            st.push(b',');
            push_escaped(&mut st, n, NameKind::TagKey);
            st.push(b'=');
            push_escaped(&mut st, v, NameKind::TagValue);
            names.push(n.clone());
        }
        Self {
            measurement: m,
            key_tag: k,
            key_tag_name: key_tag.to_string(),
            static_tags: st,
            static_names: names,
            precision,
            max_point_bytes,
        }
    }

    /// The precision of the timestamps written.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    fn is_tag(&self, name: &str, r: &Record) -> bool {
        name == self.key_tag_name
            || self.static_names.iter().any(|n| n == name)
            || r.dimensions.iter().any(|(k, _)| k == name)
    }

    /// Appends `r` as one line (with its `\n`) to `out`, its time `now` (in the
    /// encoder's precision) when it has none. On error nothing is appended, and the
    /// message names the record's key and what is wrong.
    ///
    /// ```
    /// use lgb_core::database::influxdb::line::{LineEncoder, Precision};
    /// use lgb_core::record::{Record, Value};
    /// let tags = [("bench".to_string(), "run 1".to_string())];
    /// let e = LineEncoder::new("cpu", "host", tags.iter().map(|(k, v)| (k, v)), Precision::Millisecond, 1 << 20);
    /// let mut r = Record::new("h,1").with_field("usage user", Value::Float(0.5));
    /// r.fields.push(("n".into(), Value::Int(3)));
    /// r.fields.push(("msg".into(), Value::Str("say \"hi\"".into())));
    /// r.timestamp = Some(1_000);
    /// let mut out = Vec::new();
    /// e.encode(&r, 0, &mut out).unwrap();
    /// assert_eq!(String::from_utf8(out).unwrap(),
    ///     "cpu,host=h\\,1,bench=run\\ 1 usage\\ user=0.5,n=3i,msg=\"say \\\"hi\\\"\" 1000\n");
    /// ```
    pub fn encode(&self, r: &Record, now: i64, out: &mut Vec<u8>) -> Result<(), String> {
        self.encode_after(r, None, now, out)
    }

    /// [`LineEncoder::encode`] of `r` written after `prev`, a point this encoder
    /// took: when both have the same names, the names' checks are not run again.
    fn encode_after(
        &self,
        r: &Record,
        prev: Option<&Record>,
        now: i64,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let start = out.len();
        let checked = prev.is_some_and(|p| same_names(p, r));
        let res = self.encode_inner(r, checked, now, out);
        if res.is_err() {
            out.truncate(start);
        } else if out.len() - start > self.max_point_bytes {
            let n = out.len() - start;
            out.truncate(start);
            return Err(format!(
                "point {} is {} of line protocol, more than the {} one request may carry \
                 (`batch_bytes`)",
                shorten(&r.key),
                crate::units::ByteSize(n as u64),
                crate::units::ByteSize(self.max_point_bytes as u64)
            ));
        }
        res
    }

    /// One line; `checked`: the names were checked on an earlier point with the same
    /// names (values are always checked).
    fn encode_inner(
        &self,
        r: &Record,
        checked: bool,
        now: i64,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let key = || shorten(&r.key);
        out.extend_from_slice(&self.measurement);
        out.extend_from_slice(&self.key_tag);
        push_checked(out, &r.key, NameKind::TagValue).map_err(|m| {
            format!(
                "point {}: its key, the `{}` tag: {m}",
                key(),
                self.key_tag_name
            )
        })?;
        out.extend_from_slice(&self.static_tags);
        for (i, (k, v)) in r.dimensions.iter().enumerate() {
            if !checked {
                if let Some(m) = check_name(NameKind::TagKey, k) {
                    return Err(format!("point {}: tag {}: {m}", key(), shorten(k)));
                }
                if k == &self.key_tag_name || self.static_names.iter().any(|n| n == k) {
                    return Err(format!(
                        "point {}: tag `{k}` is also the adapter's key tag or one of its `tags`",
                        key()
                    ));
                }
                if r.dimensions[..i].iter().any(|(p, _)| p == k) {
                    return Err(format!("point {}: tag `{k}` is given twice", key()));
                }
            }
            if v.is_empty() {
                continue;
            }
            out.push(b',');
            push_escaped(out, k, NameKind::TagKey);
            out.push(b'=');
            push_checked(out, v, NameKind::TagValue)
                .map_err(|m| format!("point {}: tag `{k}`: {m}", key()))?;
        }
        if r.fields.is_empty() {
            return Err(format!(
                "point {}: has no fields (InfluxDB needs at least one)",
                key()
            ));
        }
        for (i, (k, v)) in r.fields.iter().enumerate() {
            if !checked {
                if let Some(m) = check_name(NameKind::FieldKey, k) {
                    return Err(format!("point {}: field {}: {m}", key(), shorten(k)));
                }
                if self.is_tag(k, r) {
                    return Err(format!(
                        "point {}: field `{k}` has the name of a tag of the same point \
                         (InfluxQL could not tell them apart)",
                        key()
                    ));
                }
                if r.fields[..i].iter().any(|(p, _)| p == k) {
                    return Err(format!("point {}: field `{k}` is given twice", key()));
                }
            }
            out.push(if i == 0 { b' ' } else { b',' });
            push_escaped(out, k, NameKind::FieldKey);
            out.push(b'=');
            match v {
                Value::Int(n) => {
                    let mut buf = itoa::Buffer::new();
                    out.extend_from_slice(buf.format(*n).as_bytes());
                    out.push(b'i');
                }
                Value::Float(f) => {
                    if !f.is_finite() {
                        return Err(format!(
                            "point {}: field `{k}` is {f}, which InfluxDB cannot store",
                            key()
                        ));
                    }
                    // `{:?}` always has a `.` or an exponent, so InfluxDB reads a float.
                    let _ = write!(out, "{f:?}");
                }
                Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
                Value::Str(_) | Value::Shared(_) => {
                    let s = v.as_text().unwrap_or_default();
                    if s.bytes().any(|b| b == b'\n' || b == b'\r') {
                        return Err(format!(
                            "point {}: string field `{k}` holds a newline, which InfluxDB 3 \
                             does not read back the same way",
                            key()
                        ));
                    }
                    push_string(out, s);
                }
                Value::Bytes(_) => {
                    return Err(format!(
                        "point {}: field `{k}` is bytes; line protocol has no bytes type \
                         (use string fields)",
                        key()
                    ))
                }
            }
        }
        let t = match r.timestamp {
            Some(ms) => self.precision.from_ms(ms).ok_or_else(|| {
                format!(
                    "point {}: time {ms} ms does not fit a 64-bit timestamp in {}",
                    key(),
                    self.precision.v2()
                )
            })?,
            None => now,
        };
        out.push(b' ');
        let mut buf = itoa::Buffer::new();
        out.extend_from_slice(buf.format(t).as_bytes());
        out.push(b'\n');
        Ok(())
    }

    /// Encodes `records` into requests of at most `max_points` points and
    /// `max_bytes` bytes each; records that cannot be written are returned by index
    /// with the reason, and the others are still encoded.
    pub fn encode_chunks(
        &self,
        records: &[Record],
        now: i64,
        max_points: usize,
        max_bytes: usize,
    ) -> (Vec<Chunk>, Vec<(usize, String)>) {
        let mut chunks = Vec::new();
        let mut bad = Vec::new();
        let mut cur = Chunk::default();
        let mut prev: Option<&Record> = None;
        for (i, r) in records.iter().enumerate() {
            let start = cur.body.len();
            if let Err(e) = self.encode_after(r, prev, now, &mut cur.body) {
                bad.push((i, e));
                continue;
            }
            prev = Some(r);
            if !cur.owners.is_empty()
                && (cur.owners.len() >= max_points || cur.body.len() > max_bytes)
            {
                let line = cur.body.split_off(start);
                chunks.push(std::mem::take(&mut cur));
                cur.body = line;
            }
            cur.owners.push(i);
            cur.ends.push(cur.body.len());
        }
        if !cur.owners.is_empty() {
            chunks.push(cur);
        }
        (chunks, bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc() -> LineEncoder {
        LineEncoder::new(
            "my measurement,x",
            "key",
            std::iter::empty(),
            Precision::Millisecond,
            1 << 20,
        )
    }

    fn line(r: &Record) -> Result<String, String> {
        let mut out = Vec::new();
        enc().encode(r, 7, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn escapes_every_part_per_the_spec() {
        let mut r = Record::new("a b,c=d");
        r.dimensions.push(("tag key=1".into(), "v,1 2=3".into()));
        r.dimensions.push(("empty".into(), String::new()));
        r.fields
            .push(("f,1=x y".into(), Value::Str("q\"u\\o\tte".into())));
        r.fields.push(("i".into(), Value::Int(-42)));
        r.fields.push(("f".into(), Value::Float(1.0)));
        r.fields.push(("g".into(), Value::Float(1e300)));
        r.fields.push(("b".into(), Value::Bool(false)));
        assert_eq!(
            line(&r).unwrap(),
            "my\\ measurement\\,x,key=a\\ b\\,c\\=d,tag\\ key\\=1=v\\,1\\ 2\\=3 \
             f\\,1\\=x\\ y=\"q\\\"u\\\\o\tte\",i=-42i,f=1.0,g=1e300,b=false 7\n"
        );
    }

    #[test]
    fn bad_points_get_clear_errors_and_append_nothing() {
        let ok = Record::new("k").with_field("v", Value::Int(1));
        let cases: Vec<(Record, &str)> = vec![
            (
                {
                    let mut r = ok.clone();
                    r.dimensions.push(("host".into(), "a\nb".into()));
                    r
                },
                "tag `host`: a tag value cannot hold a newline",
            ),
            (
                {
                    let mut r = ok.clone();
                    r.dimensions.push(("host".into(), "a".into()));
                    r.fields.push(("host".into(), Value::Int(1)));
                    r
                },
                "field `host` has the name of a tag",
            ),
            (
                ok.clone().with_field("key", Value::Int(1)),
                "field `key` has the name of a tag",
            ),
            (Record::new("k"), "has no fields"),
            (ok.clone().with_field("v", Value::Int(2)), "given twice"),
            (ok.clone().with_field("x", Value::Float(f64::NAN)), "NaN"),
            (ok.clone().with_field("x", Value::Bytes(vec![1])), "bytes"),
            (ok.clone().with_field("time", Value::Int(1)), "reserved"),
            (
                ok.clone().with_field("s", Value::Str("a\nb".into())),
                "newline",
            ),
            (
                Record::new("tail\\").with_field("v", Value::Int(1)),
                "end with a backslash",
            ),
        ];
        for (r, want) in cases {
            let mut out = b"keep\n".to_vec();
            let e = enc().encode(&r, 1, &mut out).unwrap_err();
            assert!(e.contains(want), "{e} should say {want}");
            assert_eq!(out, b"keep\n");
        }
    }

    #[test]
    fn a_point_over_the_request_limit_is_refused() {
        let big = Record::new("k").with_field("blob", Value::Str("x".repeat(10 << 20)));
        let e = LineEncoder::new(
            "m",
            "key",
            std::iter::empty(),
            Precision::Millisecond,
            4 << 20,
        );
        let mut out = Vec::new();
        let err = e.encode(&big, 1, &mut out).unwrap_err();
        assert!(
            err.contains("10.0 MiB") && err.contains("batch_bytes"),
            "{err}"
        );
        assert!(out.is_empty());
        let ns = LineEncoder::new(
            "m",
            "key",
            std::iter::empty(),
            Precision::Nanosecond,
            1 << 20,
        );
        let mut late = Record::new("k").with_field("v", Value::Int(1));
        late.timestamp = Some(i64::MAX / 2);
        let err = ns.encode(&late, 1, &mut out).unwrap_err();
        assert!(
            err.contains("does not fit a 64-bit timestamp in ns"),
            "{err}"
        );
    }

    #[test]
    fn chunks_split_by_points_and_bytes_and_keep_owners() {
        let e = enc();
        let mut records: Vec<Record> = (0..10)
            .map(|i| Record::new(format!("k{i}")).with_field("v", Value::Int(i)))
            .collect();
        records[3].fields.clear();
        let (chunks, bad) = e.encode_chunks(&records, 1, 4, 1 << 20);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 3);
        let owners: Vec<Vec<usize>> = chunks.iter().map(|c| c.owners.clone()).collect();
        assert_eq!(owners, [vec![0, 1, 2, 4], vec![5, 6, 7, 8], vec![9]]);
        assert_eq!(chunks[0].line(3), b"my\\ measurement\\,x,key=k4 v=4i 1");
        let one = chunks[0].line(0).len() + 1;
        let (chunks, _) = e.encode_chunks(&records, 1, 100, one * 2);
        assert!(chunks
            .iter()
            .all(|c| c.body.len() <= one * 2 && !c.owners.is_empty()));
        assert_eq!(chunks.iter().map(|c| c.owners.len()).sum::<usize>(), 9);
        let (chunks, bad) = e.encode_chunks(&[], 1, 4, 100);
        assert!(chunks.is_empty() && bad.is_empty());
    }

    #[test]
    fn values_are_checked_on_every_point_of_a_batch() {
        let point = |host: &str, field: &str| {
            let mut r = Record::new("k").with_field(field, Value::Int(1));
            r.dimensions.push(("host".into(), host.into()));
            r
        };
        let records = vec![
            point("a", "v"),
            point("b\nc", "v"), // same names as the first: its value is still checked
            point("d", "host"), // other names: checked again
            point("e", "v"),
            point("f\\", "v"),
        ];
        let (chunks, bad) = enc().encode_chunks(&records, 1, 100, 1 << 20);
        let bad: Vec<usize> = bad.iter().map(|(i, _)| *i).collect();
        assert_eq!(bad, [1, 2, 4]);
        assert_eq!(chunks[0].owners, [0, 3]);
    }

    #[test]
    fn precisions_convert_milliseconds() {
        assert_eq!(Precision::Nanosecond.from_ms(2), Some(2_000_000));
        assert_eq!(Precision::Microsecond.from_ms(2), Some(2_000));
        assert_eq!(Precision::Second.from_ms(-1), Some(-1));
        assert_eq!(Precision::Nanosecond.from_ms(i64::MAX / 10), None);
        assert!(Precision::Second.now() > 1_600_000_000);
    }
}
