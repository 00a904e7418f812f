//! How a [`Record`] becomes a DynamoDB item and back, and how key strings become
//! primary keys. Everything here is checked before a request is sent, so that a bad
//! item is a clear `Rejected` error rather than a round trip and a server message.
//!
//! This module must not send requests: it only builds and reads attribute maps.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{KeyAttribute, KeyType};
use crate::error::{Error, Result};
use crate::record::{Record, Value};

/// DynamoDB's item size limit: 400 KB, counted as 400 × 1024 bytes.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Attribute that holds a record's timestamp when the table has no sort key.
pub const TIMESTAMP_ATTRIBUTE: &str = "timestamp";

/// A DynamoDB item: attribute name to value.
pub type Item = HashMap<String, AttributeValue>;

/// The table's primary key and how key strings are split into its parts.
#[derive(Debug, Clone)]
pub struct KeySchema {
    /// Partition (hash) key.
    pub partition: KeyAttribute,
    /// Sort (range) key, if the table has one.
    pub sort: Option<KeyAttribute>,
    /// Separates the partition value from the sort value in key strings (`user1#1700`).
    pub separator: String,
}

impl KeySchema {
    /// The item of `record`, and its size as DynamoDB counts it.
    pub fn item(&self, record: &Record) -> Result<(Item, usize)> {
        let mut item = Item::with_capacity(record.fields.len() + record.dimensions.len() + 2);
        item.insert(
            self.partition.name.clone(),
            key_value(&self.partition, &record.key, &record.key)?,
        );
        match (&self.sort, record.timestamp) {
            (Some(sort), Some(ts)) => {
                item.insert(
                    sort.name.clone(),
                    key_value(sort, &ts.to_string(), &record.key)?,
                );
            }
            (Some(sort), None) => {
                return Err(Error::Rejected(format!(
                    "record `{}` has no timestamp, but the table's sort key `{}` takes it",
                    record.key, sort.name
                )))
            }
            (None, Some(ts)) => insert_unique(
                &mut item,
                TIMESTAMP_ATTRIBUTE,
                AttributeValue::N(ts.to_string()),
                record,
            )?,
            (None, None) => {}
        }
        for (name, value) in &record.dimensions {
            insert_unique(&mut item, name, AttributeValue::S(value.clone()), record)?;
        }
        for (name, value) in &record.fields {
            insert_unique(&mut item, name, attribute(value), record)?;
        }
        let size = item_size(&item);
        if size > MAX_ITEM_BYTES {
            return Err(Error::Rejected(format!(
                "item `{}` is {size} bytes, over DynamoDB's limit of {MAX_ITEM_BYTES} bytes (400 KB)",
                record.key
            )));
        }
        Ok((item, size))
    }

    /// The primary key named by `key`: the partition value, plus `#sort` when the table
    /// has a sort key (split at the last separator).
    pub fn key(&self, key: &str) -> Result<Item> {
        let mut out = Item::with_capacity(2);
        match &self.sort {
            None => {
                out.insert(
                    self.partition.name.clone(),
                    key_value(&self.partition, key, key)?,
                );
            }
            Some(sort) => {
                let (p, s) = self.split(key, "key")?;
                out.insert(
                    self.partition.name.clone(),
                    key_value(&self.partition, p, key)?,
                );
                out.insert(sort.name.clone(), key_value(sort, s, key)?);
            }
        }
        Ok(out)
    }

    /// Splits `partition<sep>sort` at the last separator.
    pub fn split<'a>(&self, text: &'a str, what: &str) -> Result<(&'a str, &'a str)> {
        let sort = self.sort.as_ref().map_or("sort key", |s| s.name.as_str());
        text.rsplit_once(self.separator.as_str()).ok_or_else(|| {
            Error::Rejected(format!(
                "{what} `{text}` names no sort key value: with sort key `{sort}` write `partition{sep}sort` (separator `{sep}`, option `key_separator`)",
                sep = self.separator
            ))
        })
    }

    /// A canonical string identifying the primary key of `item` (numbers normalized),
    /// used to match returned items to requested keys.
    pub fn identity_of_item(&self, item: &Item) -> Option<String> {
        let mut id = canonical(item.get(&self.partition.name)?)?;
        if let Some(sort) = &self.sort {
            id.push('\u{0}');
            id.push_str(&canonical(item.get(&sort.name)?)?);
        }
        Some(id)
    }

    /// The record stored in `item`.
    pub fn record(&self, mut item: Item) -> Record {
        let mut record = Record::default();
        if let Some(v) = item.remove(&self.partition.name) {
            record.key = key_text(v);
        }
        let ts_attr = match &self.sort {
            Some(sort) => Some(sort.name.as_str()),
            None => Some(TIMESTAMP_ATTRIBUTE),
        };
        if let Some(v) = ts_attr.and_then(|a| item.remove(a)) {
            match key_text(v.clone()).parse::<i64>() {
                Ok(ts) => record.timestamp = Some(ts),
                // Not a timestamp after all: keep it as a field rather than lose it.
                Err(_) => record
                    .fields
                    .push((ts_attr.unwrap_or_default().to_string(), value(v))),
            }
        }
        record
            .fields
            .extend(item.into_iter().map(|(k, v)| (k, value(v))));
        // DynamoDB returns attributes unordered; sort so that reads are repeatable.
        record.fields.sort_by(|a, b| a.0.cmp(&b.0));
        record
    }
}

fn insert_unique(
    item: &mut Item,
    name: &str,
    value: AttributeValue,
    record: &Record,
) -> Result<()> {
    if item.insert(name.to_string(), value).is_some() {
        return Err(Error::Rejected(format!(
            "record `{}` sets attribute `{name}` twice (a key, timestamp, dimension or field of the same name)",
            record.key
        )));
    }
    Ok(())
}

/// The value of key attribute `attr` from its string form, checked against its type.
pub fn key_value(attr: &KeyAttribute, text: &str, key: &str) -> Result<AttributeValue> {
    if text.is_empty() {
        return Err(Error::Rejected(format!(
            "key `{key}`: key attribute `{}` cannot be empty",
            attr.name
        )));
    }
    Ok(match attr.kind {
        KeyType::S => AttributeValue::S(text.to_string()),
        KeyType::N => {
            if !is_number(text) {
                return Err(Error::Rejected(format!(
                    "key `{key}`: key attribute `{}` has type N, and `{text}` is not a number",
                    attr.name
                )));
            }
            AttributeValue::N(text.to_string())
        }
        KeyType::B => AttributeValue::B(Blob::new(text.as_bytes())),
    })
}

/// Whether `text` is a number DynamoDB accepts: decimal, optional sign, fraction and
/// exponent, at most 38 significant digits.
pub fn is_number(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match t.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (t, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_ok = !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    let exp_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.len() <= 4 && e.bytes().all(|b| b.is_ascii_digit())
    });
    let significant = format!("{int}{frac}");
    let significant = significant.trim_start_matches('0').trim_end_matches('0');
    digits_ok && exp_ok && significant.len() <= 38
}

/// A number in a canonical form, so that `007`, `7.0` and `7` compare equal.
fn canonical_number(text: &str) -> String {
    if text.contains(['e', 'E']) {
        return text
            .parse::<f64>()
            .map_or_else(|_| text.to_string(), |f| f.to_string());
    }
    let (neg, t) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let body = if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    };
    if neg && body != "0" {
        format!("-{body}")
    } else {
        body
    }
}

fn canonical(v: &AttributeValue) -> Option<String> {
    match v {
        AttributeValue::S(s) => Some(format!("S{s}")),
        AttributeValue::N(n) => Some(format!("N{}", canonical_number(n))),
        AttributeValue::B(b) => Some(format!("B{}", String::from_utf8_lossy(b.as_ref()))),
        _ => None,
    }
}

fn key_text(v: AttributeValue) -> String {
    match v {
        AttributeValue::S(s) | AttributeValue::N(s) => s,
        AttributeValue::B(b) => String::from_utf8_lossy(&b.into_inner()).into_owned(),
        other => format!("{other:?}"),
    }
}

fn attribute(v: &Value) -> AttributeValue {
    match v {
        Value::Str(s) => AttributeValue::S(s.clone()),
        Value::Shared(t) => AttributeValue::S(t.as_str().to_owned()),
        Value::Int(i) => AttributeValue::N(i.to_string()),
        Value::Float(f) => AttributeValue::N(float_text(*f)),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Bytes(b) => AttributeValue::B(Blob::new(b.clone())),
    }
}

/// Floats keep a decimal point, so that a float written by lgb reads back as a float
/// from servers that return numbers as written (DynamoDB itself normalizes `2.0` to `2`).
fn float_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

fn value(v: AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => Value::Str(s),
        AttributeValue::N(n) => {
            if let Ok(i) = n.parse::<i64>() {
                Value::Int(i)
            } else {
                n.parse::<f64>().map_or(Value::Str(n), Value::Float)
            }
        }
        AttributeValue::Bool(b) => Value::Bool(b),
        AttributeValue::B(b) => Value::Bytes(b.into_inner()),
        // Lists, maps and sets are not written by lgb; keep them readable.
        other => Value::Str(format!("{other:?}")),
    }
}

/// Size of an item as DynamoDB counts it: attribute names plus values; a number takes
/// about one byte per two significant digits plus one.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.bytes().filter(u8::is_ascii_digit).count().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| n.len() / 2 + 1).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, x)| 1 + k.len() + value_size(x))
                .sum::<usize>()
        }
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(sort: Option<KeyType>) -> KeySchema {
        KeySchema {
            partition: KeyAttribute {
                name: "pk".into(),
                kind: KeyType::S,
            },
            sort: sort.map(|kind| KeyAttribute {
                name: "sk".into(),
                kind,
            }),
            separator: "#".into(),
        }
    }

    #[test]
    fn record_round_trips_through_an_item() {
        let s = schema(Some(KeyType::N));
        let mut r = Record::new("host1")
            .with_field("cpu", Value::Float(2.0))
            .with_field("n", Value::Int(-3))
            .with_field("ok", Value::Bool(true))
            .with_field("raw", Value::Bytes(vec![1, 2]));
        r.timestamp = Some(1_700_000_000_000);
        r.dimensions.push(("region".into(), "eu".into()));
        let (item, size) = s.item(&r).unwrap();
        assert_eq!(item["sk"], AttributeValue::N("1700000000000".into()));
        assert_eq!(item["cpu"], AttributeValue::N("2.0".into()));
        assert!(size > 0 && size == item_size(&item));
        let back = s.record(item);
        assert_eq!(back.key, "host1");
        assert_eq!(back.timestamp, Some(1_700_000_000_000));
        // Dimensions come back as string fields: DynamoDB does not tell them apart.
        let names: Vec<&str> = back.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["cpu", "n", "ok", "raw", "region"]);
        assert_eq!(back.field("cpu"), Some(&Value::Float(2.0)));
        assert_eq!(back.field("n"), Some(&Value::Int(-3)));
    }

    #[test]
    fn bad_items_and_keys_are_rejected_before_sending() {
        let s = schema(None);
        let big = Record::new("k").with_field("f", Value::Str("x".repeat(MAX_ITEM_BYTES)));
        let err = s.item(&big).unwrap_err();
        assert!(err.to_string().contains("over DynamoDB's limit"), "{err}");
        let dup = Record::new("k").with_field("pk", Value::Int(1));
        assert!(s.item(&dup).unwrap_err().to_string().contains("`pk` twice"));
        let n = KeyAttribute {
            name: "id".into(),
            kind: KeyType::N,
        };
        let err = key_value(&n, "user1", "user1").unwrap_err();
        assert!(err.to_string().contains("not a number"), "{err}");
        let sorted = schema(Some(KeyType::N));
        assert!(sorted
            .key("nosep")
            .unwrap_err()
            .to_string()
            .contains("partition#sort"));
        assert!(sorted
            .item(&Record::new("k"))
            .unwrap_err()
            .to_string()
            .contains("no timestamp"));
    }

    #[test]
    fn numbers_are_checked_and_canonical() {
        for ok in ["0", "-1", "1.5", ".5", "7.", "1e10", "-2.5E-3", "00042"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in [
            "",
            "-",
            "abc",
            "1e",
            "NaN",
            "inf",
            "1.2.3",
            "0x10",
            &"1".repeat(39),
        ] {
            assert!(!is_number(bad), "{bad}");
        }
        assert_eq!(canonical_number("007"), "7");
        assert_eq!(canonical_number("7.50"), "7.5");
        assert_eq!(canonical_number("-0.0"), "0");
    }
}
