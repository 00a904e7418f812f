//! What InfluxDB answers, read: the message of an error body (v1 `{"error"}`, v2
//! `{"code", "message"}`, v3 `{"error", "data"}`), which points of a partly rejected
//! write were dropped, and query results (v1 InfluxQL series, v3 rows) as records.
//!
//! Everything here takes the server's bytes as they come: nothing panics on any input
//! (a fuzz target reads it), and a part that cannot be read is an error, never a guess.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::line::{influx_type, Chunk};
use crate::record::{Record, Value};

/// Most bytes of an error body kept in a message.
pub const MAX_MESSAGE: usize = 2048;

/// The message of an error response: the JSON body's `error` or `message`, else the
/// body as text (cut to [`MAX_MESSAGE`] bytes).
pub fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        code: Option<String>,
    }
    let text = match serde_json::from_slice::<Body>(body) {
        Ok(Body { error: Some(e), .. }) => e,
        Ok(Body {
            message: Some(m),
            code,
            ..
        }) => match code {
            Some(c) if !c.is_empty() => format!("{c}: {m}"),
            _ => m,
        },
        _ => String::from_utf8_lossy(body).trim().to_string(),
    };
    cut(&text, MAX_MESSAGE)
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The points of one request InfluxDB did not write, by line number (0-based) of the
/// request, with the reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dropped {
    /// Lines named as not written, with the server's reason.
    pub lines: Vec<(usize, String)>,
    /// Lines the server counted as dropped without naming them (`dropped=N` beyond
    /// those it named); the caller counts every line not named as written or dropped
    /// as not written.
    pub unnamed: usize,
    /// The server's message.
    pub message: String,
}

/// Reads a v1/v2 error message for a partial write: `partial write: <reason>
/// dropped=N`, the reason being parse errors (`unable to parse '<line>': why`, one a
/// line), a field type conflict (`input field "F" on measurement "M" is type T`), or
/// another reason (points beyond the retention policy). `None` when the message is
/// not a partial write. `records` are the caller's, indexed by `chunk.owners`.
pub fn partial_v1(message: &str, chunk: &Chunk, records: &[Record]) -> Option<Dropped> {
    let rest = message.find("partial write")?;
    let body = &message[rest..];
    let dropped = body
        .rfind("dropped=")
        .and_then(|i| {
            body[i + 8..]
                .split_whitespace()
                .next()?
                .parse::<usize>()
                .ok()
        })
        .unwrap_or(0);
    let mut named: BTreeSet<usize> = BTreeSet::new();
    let mut lines = Vec::new();
    let mut parse_errors = 0usize;
    // Parse errors: every line the server quotes.
    for part in body.split("unable to parse '").skip(1) {
        parse_errors += 1;
        let Some(end) = part.find("': ") else {
            continue;
        };
        let quoted = &part.as_bytes()[..end];
        let why = part[end + 3..].lines().next().unwrap_or("").to_string();
        for i in 0..chunk.owners.len() {
            if chunk.line(i) == quoted && named.insert(i) {
                lines.push((i, format!("unable to parse: {}", why.trim())));
                break;
            }
        }
    }
    let parse_named = lines.len();
    // A field type conflict names the field and the type it refused.
    if let Some(c) = type_conflict(body) {
        for (i, &owner) in chunk.owners.iter().enumerate() {
            let Some(r) = records.get(owner) else {
                continue;
            };
            if named.contains(&i) {
                continue;
            }
            if r.field(&c.field).is_some_and(|v| influx_type(v) == c.sent) {
                named.insert(i);
                lines.push((
                    i,
                    format!(
                        "field type conflict: field \"{}\" is {} here, already {} in InfluxDB",
                        c.field, c.sent, c.stored
                    ),
                ));
            }
        }
    }
    let conflict_named = lines.len() - parse_named;
    lines.sort_by_key(|(i, _)| *i);
    Some(Dropped {
        // A quoted line that matched none of ours is still a line not written.
        unnamed: dropped
            .saturating_sub(conflict_named)
            .saturating_add(parse_errors - parse_named),
        lines,
        message: cut(message, MAX_MESSAGE),
    })
}

struct Conflict {
    field: String,
    sent: String,
    stored: String,
}

/// `input field "F" on measurement "M" is type T, already exists as type U`.
fn type_conflict(msg: &str) -> Option<Conflict> {
    let i = msg.find("input field \"")? + 13;
    let rest = &msg[i..];
    let end = rest.find("\" on measurement")?;
    let field = rest[..end].to_string();
    let t = rest.find(" is type ")? + 9;
    let sent = rest[t..]
        .split(|c: char| c == ',' || c.is_whitespace())
        .next()?
        .to_string();
    let stored = rest
        .find("already exists as type ")
        .map(|j| {
            rest[j + 23..]
                .split(|c: char| c == ',' || c.is_whitespace())
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    Some(Conflict {
        field,
        sent,
        stored,
    })
}

/// Reads a v3 partial-write body: `{"error": "...", "data": [{"original_line",
/// "line_number" (1-based), "error_message"}]}`. `None` when the body is not one.
pub fn partial_v3(body: &[u8], lines_sent: usize) -> Option<Dropped> {
    #[derive(Deserialize)]
    struct Line {
        line_number: usize,
        #[serde(default)]
        error_message: String,
    }
    #[derive(Deserialize)]
    struct Body {
        error: String,
        data: Vec<Line>,
    }
    let b: Body = serde_json::from_slice(body).ok()?;
    if !b.error.contains("partial write") {
        return None;
    }
    let mut named = BTreeSet::new();
    let mut lines = Vec::new();
    let mut unnamed = 0;
    for l in b.data {
        match l.line_number.checked_sub(1) {
            Some(i) if i < lines_sent && named.insert(i) => {
                lines.push((i, cut(&l.error_message, MAX_MESSAGE)))
            }
            _ => unnamed += 1,
        }
    }
    lines.sort_by_key(|(i, _)| *i);
    Some(Dropped {
        lines,
        unnamed,
        message: cut(&b.error, MAX_MESSAGE),
    })
}

/// One InfluxQL statement's result (v1 `/query` JSON).
#[derive(Debug, Clone, Default, Deserialize)]
struct StatementResult {
    #[serde(default)]
    series: Vec<Series>,
    #[serde(default)]
    error: Option<String>,
}

/// One series of an InfluxQL result.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Series {
    /// Measurement.
    #[serde(default)]
    pub name: String,
    /// Tags of the series (with `GROUP BY`).
    #[serde(default)]
    pub tags: serde_json::Map<String, serde_json::Value>,
    /// Column names.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Rows, one value per column.
    #[serde(default)]
    pub values: Vec<Vec<serde_json::Value>>,
}

/// Reads a v1 `/query` answer: every series of every statement, or the first
/// statement's error.
pub fn influxql_series(body: &[u8]) -> Result<Vec<Series>, String> {
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        results: Vec<StatementResult>,
        #[serde(default)]
        error: Option<String>,
    }
    let b: Body = serde_json::from_slice(body)
        .map_err(|e| format!("the query answer is not InfluxQL JSON: {e}"))?;
    if let Some(e) = b.error {
        return Err(cut(&e, MAX_MESSAGE));
    }
    let mut out = Vec::new();
    for r in b.results {
        if let Some(e) = r.error {
            return Err(cut(&e, MAX_MESSAGE));
        }
        out.extend(r.series);
    }
    Ok(out)
}

/// How result columns map back onto records.
#[derive(Debug, Clone)]
pub struct RowShape<'a> {
    /// The tag holding the record key.
    pub key_tag: &'a str,
    /// Columns that are tags (v3 rows do not say which are).
    pub tag_columns: &'a [&'a str],
}

/// A JSON value of a result as a field value; `None` for null.
fn value(v: &serde_json::Value) -> Option<Value> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::Bool(b) => Some(Value::Bool(*b)),
        serde_json::Value::Number(n) => Some(match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        }),
        serde_json::Value::String(s) => Some(Value::Str(s.clone())),
        other => Some(Value::Str(other.to_string())),
    }
}

/// A `time` cell in milliseconds: a number (`epoch=ms`) or an RFC 3339 text (v3,
/// whose times may lack the `Z`).
fn time_ms(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => {
            let fmt = time::format_description::well_known::Rfc3339;
            let t = time::OffsetDateTime::parse(s, &fmt)
                .or_else(|_| time::OffsetDateTime::parse(&format!("{s}Z"), &fmt))
                .ok()?;
            i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
        }
        _ => None,
    }
}

/// Records of InfluxQL series: the key from the key tag (a series tag or a column),
/// the other tags as dimensions, `time` as the timestamp, the other non-null columns
/// as fields.
pub fn series_records(series: &[Series], shape: &RowShape<'_>) -> Vec<Record> {
    let mut out = Vec::new();
    for s in series {
        let mut base = Record::default();
        for (k, v) in &s.tags {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if k == shape.key_tag {
                base.key = v;
            } else if !v.is_empty() {
                base.dimensions.push((k.clone(), v));
            }
        }
        for row in &s.values {
            let mut r = base.clone();
            for (c, v) in s.columns.iter().zip(row) {
                if c == "time" {
                    r.timestamp = time_ms(v);
                } else if c == shape.key_tag {
                    if let Some(Value::Str(k)) = value(v) {
                        r.key = k;
                    }
                } else if let Some(v) = value(v) {
                    r.fields.push((c.clone(), v));
                }
            }
            out.push(r);
        }
    }
    out
}

/// Reads a v3 `/api/v3/query_sql` or `query_influxql` answer (`format=json`: an
/// array of objects) as records; columns named in `shape.tag_columns` are dimensions.
pub fn v3_records(body: &[u8], shape: &RowShape<'_>) -> Result<Vec<Record>, String> {
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_slice(body)
        .map_err(|e| format!("the query answer is not a JSON array of rows: {e}"))?;
    Ok(rows
        .iter()
        .map(|row| {
            let mut r = Record::default();
            for (c, v) in row {
                if c == "time" {
                    r.timestamp = time_ms(v);
                } else if c == shape.key_tag {
                    if let Some(Value::Str(k)) = value(v) {
                        r.key = k;
                    }
                } else if c == "iox::measurement" {
                    continue;
                } else if shape.tag_columns.contains(&c.as_str()) {
                    if let Some(Value::Str(t)) = value(v) {
                        r.dimensions.push((c.clone(), t));
                    }
                } else if let Some(v) = value(v) {
                    r.fields.push((c.clone(), v));
                }
            }
            r
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::influxdb::line::{LineEncoder, Precision};

    fn chunk(records: &[Record]) -> Chunk {
        let e = LineEncoder::new(
            "cpu",
            "host",
            std::iter::empty(),
            Precision::Nanosecond,
            1 << 20,
        );
        let (mut c, bad) = e.encode_chunks(records, 5, 100, 1 << 20);
        assert!(bad.is_empty());
        c.remove(0)
    }

    #[test]
    fn error_messages_of_every_api() {
        assert_eq!(
            error_message(br#"{"error":"database not found: \"x\""}"#),
            "database not found: \"x\""
        );
        assert_eq!(
            error_message(br#"{"code":"invalid","message":"bucket not found"}"#),
            "invalid: bucket not found"
        );
        assert_eq!(error_message(b"  plain text\n"), "plain text");
        let long = vec![b'x'; 5000];
        assert!(error_message(&long).len() <= MAX_MESSAGE + 3);
        assert_eq!(
            error_message("é".repeat(3000).as_bytes()).chars().last(),
            Some('…')
        );
    }

    #[test]
    fn v1_partial_writes_name_the_dropped_points() {
        let records: Vec<Record> = vec![
            Record::new("a").with_field("v", Value::Int(1)),
            Record::new("b").with_field("v", Value::Str("s".into())),
            Record::new("c").with_field("v", Value::Int(3)),
            Record::new("d").with_field("v", Value::Str("t".into())),
        ];
        let c = chunk(&records);
        let msg = "partial write: field type conflict: input field \"v\" on measurement \"cpu\" is type string, already exists as type integer dropped=2";
        let d = partial_v1(msg, &c, &records).unwrap();
        assert_eq!(d.lines.iter().map(|l| l.0).collect::<Vec<_>>(), [1, 3]);
        assert!(
            d.lines[0].1.contains("string here, already integer"),
            "{:?}",
            d.lines
        );
        assert_eq!(d.unnamed, 0);

        let line = String::from_utf8(c.line(2).to_vec()).unwrap();
        let msg = format!("partial write: unable to parse '{line}': invalid field format\nunable to parse 'zzz': bad dropped=0");
        let d = partial_v1(&msg, &c, &records).unwrap();
        assert_eq!(d.lines.len(), 1);
        assert_eq!(d.lines[0].0, 2);
        assert_eq!(d.unnamed, 1, "the quoted line that is none of ours");

        let d = partial_v1(
            "partial write: points beyond retention policy dropped=3",
            &c,
            &records,
        )
        .unwrap();
        assert!(d.lines.is_empty());
        assert_eq!(d.unnamed, 3);
        assert!(partial_v1("field type conflict", &c, &records).is_none());
        assert!(partial_v1("partial write: dropped=x", &c, &records).is_some());
    }

    #[test]
    fn v3_partial_writes_use_line_numbers() {
        let body = br#"{"error":"partial write of line protocol occurred","data":[
            {"original_line":"x","line_number":2,"error_message":"bad"},
            {"original_line":"y","line_number":0,"error_message":"?"},
            {"original_line":"y","line_number":99,"error_message":"?"}]}"#;
        let d = partial_v3(body, 3).unwrap();
        assert_eq!(d.lines, [(1, "bad".to_string())]);
        assert_eq!(d.unnamed, 2);
        assert!(partial_v3(br#"{"error":"database not found"}"#, 3).is_none());
        assert!(partial_v3(b"[", 3).is_none());
    }

    #[test]
    fn influxql_results_become_records() {
        let body = br#"{"results":[{"statement_id":0,"series":[
            {"name":"cpu","tags":{"host":"h1","dc":"x"},"columns":["time","v","s","n"],
             "values":[[1000,1.5,"a",null],[2000,2,"b",true]]}]}]}"#;
        let s = influxql_series(body).unwrap();
        let shape = RowShape {
            key_tag: "host",
            tag_columns: &[],
        };
        let r = series_records(&s, &shape);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].key, "h1");
        assert_eq!(r[0].timestamp, Some(1000));
        assert_eq!(r[0].dimensions, [("dc".to_string(), "x".to_string())]);
        assert_eq!(r[0].fields.len(), 2);
        assert_eq!(r[1].field("v"), Some(&Value::Int(2)));
        assert_eq!(r[1].field("n"), Some(&Value::Bool(true)));
        let err =
            influxql_series(br#"{"results":[{"statement_id":0,"error":"database not found: x"}]}"#)
                .unwrap_err();
        assert_eq!(err, "database not found: x");
        assert!(influxql_series(b"<html>")
            .unwrap_err()
            .contains("not InfluxQL JSON"));
        assert!(influxql_series(br#"{"results":[{"statement_id":0}]}"#)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn v3_rows_become_records() {
        let body = br#"[{"host":"h1","region":"eu","time":"2024-01-01T00:00:01","usage_user":3.5},
                       {"host":"h2","time":"2024-01-01T00:00:02.5Z","usage_user":null}]"#;
        let shape = RowShape {
            key_tag: "host",
            tag_columns: &["region"],
        };
        let r = v3_records(body, &shape).unwrap();
        assert_eq!(r[0].key, "h1");
        assert_eq!(r[0].timestamp, Some(1_704_067_201_000));
        assert_eq!(r[0].dimensions, [("region".to_string(), "eu".to_string())]);
        assert_eq!(r[0].field("usage_user"), Some(&Value::Float(3.5)));
        assert_eq!(r[1].timestamp, Some(1_704_067_202_500));
        assert!(r[1].fields.is_empty());
        assert!(v3_records(b"{}", &shape).is_err());
    }
}
