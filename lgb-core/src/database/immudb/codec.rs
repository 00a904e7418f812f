//! Records in immudb: the JSON stored as a key's value, SQL rows read back as
//! records, and batches split into transactions of distinct keys.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::proto;
use crate::error::{Error, Result};
use crate::record::{Record, Value};

/// A record as stored in an immudb value: everything but the key (which is the
/// immudb key).
#[derive(Serialize)]
pub(super) struct StoredRecordRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) timestamp: Option<i64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(super) dimensions: &'a [(String, String)],
    pub(super) fields: &'a [(String, Value)],
}

#[derive(Deserialize)]
pub(super) struct StoredRecord {
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    dimensions: Vec<(String, String)>,
    #[serde(default)]
    fields: Vec<(String, Value)>,
}

pub(super) fn encode_value(r: &Record) -> Result<Vec<u8>> {
    serde_json::to_vec(&StoredRecordRef {
        timestamp: r.timestamp,
        dimensions: &r.dimensions,
        fields: &r.fields,
    })
    .map_err(|e| Error::Rejected(format!("record `{}` cannot be encoded: {e}", r.key)))
}

pub(super) fn key_value(r: &Record) -> Result<proto::KeyValue> {
    Ok(proto::KeyValue {
        key: r.key.as_bytes().to_vec(),
        value: encode_value(r)?,
        metadata: None,
    })
}

pub(super) fn decode_entry(key: &[u8], value: &[u8]) -> Result<Record> {
    let key = String::from_utf8_lossy(key).into_owned();
    let stored: StoredRecord = serde_json::from_slice(value).map_err(|e| {
        Error::Backend(format!(
            "value of key `{key}` is not an lgb record (JSON): {e}"
        ))
    })?;
    Ok(Record {
        key,
        timestamp: stored.timestamp,
        dimensions: stored.dimensions,
        fields: stored.fields,
    })
}

/// immudb names result columns `(table.column)`; a record field keeps `column`.
pub(super) fn column_name(raw: &str) -> String {
    let s = raw.trim_start_matches('(').trim_end_matches(')');
    s.rsplit('.').next().unwrap_or(s).to_string()
}

pub(super) fn sql_value(v: &proto::SqlValue) -> Option<Value> {
    use proto::sql_value::Value as V;
    Some(match v.value.as_ref()? {
        V::Null(_) => return None,
        V::N(n) | V::Ts(n) => Value::Int(*n),
        V::S(s) => Value::Str(s.clone()),
        V::B(b) => Value::Bool(*b),
        V::Bs(b) => Value::Bytes(b.clone()),
        V::F(f) => Value::Float(*f),
    })
}

/// A SQL row as a record: the first column's value is the key, every non-null
/// column a field.
pub(super) fn row_record(names: &[String], row: &proto::Row) -> Record {
    let mut fields = Vec::with_capacity(row.values.len());
    for (i, v) in row.values.iter().enumerate() {
        let name = names
            .get(i)
            .cloned()
            .or_else(|| row.columns.get(i).map(|c| column_name(c)));
        if let (Some(name), Some(value)) = (name, sql_value(v)) {
            fields.push((name, value));
        }
    }
    let key = match fields.first().map(|(_, v)| v) {
        Some(Value::Str(s)) => s.clone(),
        Some(Value::Shared(t)) => t.as_str().to_owned(),
        Some(Value::Int(n)) => n.to_string(),
        Some(Value::Float(f)) => f.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        None => String::new(),
    };
    Record {
        key,
        fields,
        ..Record::default()
    }
}

/// Splits `records` into transactions of at most `max` distinct keys. A key written
/// twice keeps its last record, as sequential writes would (immudb rejects a
/// transaction that names one key twice). Returns the indexes of each transaction's
/// records in `records`.
pub(super) fn transactions(records: &[Record], max: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut position: HashMap<&str, (usize, usize)> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Some(&(t, slot)) = position.get(r.key.as_str()) {
            out[t][slot] = i;
            continue;
        }
        if out.last().is_none_or(|t| t.len() >= max) {
            out.push(Vec::new());
        }
        let t = out.len() - 1;
        position.insert(r.key.as_str(), (t, out[t].len()));
        out[t].push(i);
    }
    out
}
