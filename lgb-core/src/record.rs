//! What flows between workloads and databases: [`Record`]s (a key and its fields) and
//! [`Query`]s. Adapters map these onto their own item types.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A typed field value.
///
/// [`Value::Str`] and [`Value::Shared`] are both text and compare equal when their
/// text is; a value read back from JSON is never `Shared`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A UTF-8 string.
    Str(String),
    /// Text that is a slice of a shared, immutable string: generated records' values,
    /// which point into their generator's pool instead of each holding a copy.
    #[serde(skip_deserializing)]
    Shared(SharedText),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Raw bytes (serialized as an array of numbers in JSON).
    Bytes(Vec<u8>),
}

impl Value {
    /// Approximate encoded size in bytes, used for byte counters and size limits.
    pub fn size(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            Value::Shared(t) => t.len(),
            Value::Int(_) | Value::Float(_) => 8,
            Value::Bool(_) => 1,
            Value::Bytes(b) => b.len(),
        }
    }

    /// The text of a [`Value::Str`] or a [`Value::Shared`]; `None` for other kinds.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Shared(t) => Some(t.as_str()),
            _ => None,
        }
    }

    /// The value with text of its own: a [`Value::Shared`] becomes a [`Value::Str`]
    /// holding a copy of its text; any other value is cloned.
    pub fn to_owned_text(&self) -> Value {
        match self {
            Value::Shared(t) => Value::Str(t.as_str().to_owned()),
            other => other.clone(),
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (a, b) => match (a.as_text(), b.as_text()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }
}

/// A slice of a shared, immutable string, cloned by reference: what [`Value::Shared`]
/// holds.
///
/// ```
/// use std::sync::Arc;
/// use lgb_core::record::{SharedText, Value};
/// let pool: Arc<str> = Arc::from("abcdefgh");
/// let t = SharedText::new(pool, 2..5).unwrap();
/// assert_eq!(t.as_str(), "cde");
/// assert_eq!(Value::Shared(t), Value::Str("cde".into()));
/// ```
#[derive(Clone)]
pub struct SharedText {
    text: Arc<str>,
    start: usize,
    end: usize,
    /// Whether `text` is all ASCII, so that every offset is a character boundary and
    /// [`SharedText::move_to`] need not read the text (a cache miss in a large pool).
    ascii: bool,
}

impl SharedText {
    /// The slice `range` of `text`; `None` unless the range lies within `text` on
    /// character boundaries. Reads all of `text` once (to know whether it is ASCII);
    /// a clone does not.
    pub fn new(text: Arc<str>, range: Range<usize>) -> Option<Self> {
        text.get(range.clone())?;
        Some(Self {
            ascii: text.is_ascii(),
            text,
            start: range.start,
            end: range.end,
        })
    }

    /// The text of the slice.
    #[inline]
    pub fn as_str(&self) -> &str {
        self.text.get(self.start..self.end).unwrap_or_default()
    }

    /// The slice's length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the slice is empty.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether this slice is of `text` (the same allocation, not only equal text).
    #[inline]
    pub fn is_of(&self, text: &Arc<str>) -> bool {
        Arc::ptr_eq(&self.text, text)
    }

    /// Moves the slice to start at `start`, keeping its length, without touching the
    /// shared text's reference count. Returns `false`, leaving the slice as it was,
    /// if the moved slice would leave the text or split a character.
    #[inline]
    pub fn move_to(&mut self, start: usize) -> bool {
        let Some(end) = start.checked_add(self.len()) else {
            return false;
        };
        if end > self.text.len()
            || !(self.ascii || self.text.is_char_boundary(start) && self.text.is_char_boundary(end))
        {
            return false;
        }
        self.start = start;
        self.end = end;
        true
    }
}

impl fmt::Debug for SharedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for SharedText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One item written to or read from a database.
///
/// ```
/// use lgb_core::record::{Record, Value};
/// let r = Record::new("user1").with_field("field0", Value::Str("abc".into()));
/// assert_eq!(r.size(), "user1".len() + "field0".len() + 3);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Record {
    /// Primary key (partition key for DynamoDB, key for immudb, series id for Timestream).
    pub key: String,
    /// Optional time in milliseconds since the Unix epoch (sort key / measure time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// Dimensions (tags) of a time-series point, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<(String, String)>,
    /// Named, typed fields.
    #[serde(default)]
    pub fields: Vec<(String, Value)>,
}

impl Record {
    /// A record with only a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            ..Self::default()
        }
    }

    /// Adds a field and returns the record (builder style).
    pub fn with_field(mut self, name: impl Into<String>, value: Value) -> Self {
        self.fields.push((name.into(), value));
        self
    }

    /// Approximate size in bytes: key, timestamp, dimensions, field names and values.
    pub fn size(&self) -> usize {
        self.key.len()
            + self.timestamp.map_or(0, |_| 8)
            + self
                .dimensions
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
            + self
                .fields
                .iter()
                .map(|(k, v)| k.len() + v.size())
                .sum::<usize>()
    }

    /// The value of field `name`, if present.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// A query, as executed by [`crate::database::Database::query`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Query {
    /// All items with exactly this key.
    Key {
        /// The key.
        key: String,
    },
    /// Items whose key starts with `prefix`, at most `limit`.
    Prefix {
        /// The key prefix.
        prefix: String,
        /// Maximum number of items returned.
        limit: usize,
    },
    /// Items with `start <= key <= end` (inclusive), at most `limit` (a YCSB scan).
    Range {
        /// First key of the range.
        start: String,
        /// Last key of the range; `None` means unbounded.
        #[serde(default)]
        end: Option<String>,
        /// Maximum number of items returned.
        limit: usize,
    },
    /// Points of series `key` with `start_ms <= timestamp < end_ms`.
    TimeRange {
        /// Series key.
        key: String,
        /// Start, milliseconds since the epoch, inclusive.
        start_ms: i64,
        /// End, milliseconds since the epoch, exclusive.
        end_ms: i64,
    },
    /// The newest `limit` points of series `key`.
    Latest {
        /// Series key.
        key: String,
        /// How many points.
        limit: usize,
    },
    /// Every version of `key`, newest last, at most `limit`.
    History {
        /// The key.
        key: String,
        /// Maximum number of versions.
        limit: usize,
    },
    /// A statement in the database's own language (SQL, PartiQL).
    Native {
        /// The statement.
        statement: String,
    },
}

impl Query {
    /// The query's kind as a stable string, used as the operation name in results.
    pub fn kind(&self) -> QueryKind {
        match self {
            Query::Key { .. } => QueryKind::Key,
            Query::Prefix { .. } => QueryKind::Prefix,
            Query::Range { .. } => QueryKind::Range,
            Query::TimeRange { .. } => QueryKind::TimeRange,
            Query::Latest { .. } => QueryKind::Latest,
            Query::History { .. } => QueryKind::History,
            Query::Native { .. } => QueryKind::Native,
        }
    }
}

/// The kinds of [`Query`], used in configs and in [`crate::database::Capabilities`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueryKind {
    /// [`Query::Key`].
    Key,
    /// [`Query::Prefix`].
    Prefix,
    /// [`Query::Range`].
    Range,
    /// [`Query::TimeRange`].
    TimeRange,
    /// [`Query::Latest`].
    Latest,
    /// [`Query::History`].
    History,
    /// [`Query::Native`].
    Native,
}

impl QueryKind {
    /// The stable name, for example `"prefix"`.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryKind::Key => "key",
            QueryKind::Prefix => "prefix",
            QueryKind::Range => "range",
            QueryKind::TimeRange => "time_range",
            QueryKind::Latest => "latest",
            QueryKind::History => "history",
            QueryKind::Native => "native",
        }
    }
}

/// What one call cost, as far as the database tells: capacity units, retries, bytes.
///
/// The executor sums these per operation kind; the cost module turns them into money.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct OpMeta {
    /// Read capacity units consumed (DynamoDB `ConsumedCapacity`), if reported.
    #[serde(default)]
    pub read_units: f64,
    /// Write capacity units consumed, if reported.
    #[serde(default)]
    pub write_units: f64,
    /// Retries the adapter made inside this call (throttling, unprocessed items).
    #[serde(default)]
    pub retries: u32,
    /// Payload bytes sent and received.
    #[serde(default)]
    pub bytes: u64,
    /// Items written or returned by this call.
    #[serde(default)]
    pub items: u64,
}

impl OpMeta {
    /// Adds `other` into `self`; the counts saturate (they come from workers and
    /// result files too, whose numbers may be anything).
    pub fn add(&mut self, other: &OpMeta) {
        self.read_units += other.read_units;
        self.write_units += other.write_units;
        self.retries = self.retries.saturating_add(other.retries);
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.items = self.items.saturating_add(other.items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_counts_every_part() {
        let mut r = Record::new("k1");
        r.timestamp = Some(5);
        r.dimensions.push(("host".into(), "h1".into()));
        r.fields.push(("f".into(), Value::Int(3)));
        assert_eq!(r.size(), 2 + 8 + 6 + 1 + 8);
        assert_eq!(r.field("f"), Some(&Value::Int(3)));
        assert_eq!(r.field("g"), None);
    }

    #[test]
    fn shared_text_is_text_everywhere_but_in_memory() {
        let pool: Arc<str> = Arc::from("héllo world");
        assert!(SharedText::new(pool.clone(), 0..2).is_none(), "splits é");
        assert!(
            SharedText::new(pool.clone(), 5..13).is_none(),
            "past the end"
        );
        let ascii: Arc<str> = Arc::from("hello world");
        let mut a = SharedText::new(ascii, 0..5).unwrap();
        assert!(a.move_to(6) && !a.move_to(7));
        assert_eq!(a.as_str(), "world");
        let mut t = SharedText::new(pool.clone(), 7..12).unwrap();
        assert_eq!(t.as_str(), "world");
        assert!(t.is_of(&pool) && !t.is_of(&Arc::from("héllo world")));
        assert!(!t.move_to(8), "past the end");
        assert!(!t.move_to(2), "splits é");
        assert_eq!(t.as_str(), "world", "a refused move leaves the slice");
        assert!(t.move_to(0));
        assert_eq!((t.as_str(), t.len()), ("héll", 5));
        let v = Value::Shared(t);
        assert_eq!(v, Value::Str("héll".into()));
        assert_ne!(v, Value::Str("hell".into()));
        assert_ne!(v, Value::Bytes(b"h\xc3\xa9ll".to_vec()));
        assert_eq!(v.size(), 5);
        assert_eq!(v.as_text(), Some("héll"));
        assert!(matches!(v.to_owned_text(), Value::Str(s) if s == "héll"));
        assert_eq!(format!("{v:?}"), "Shared(\"héll\")");
        let json = serde_json::to_string(&Record::new("k").with_field("f", v)).unwrap();
        let back: Record = serde_json::from_str(&json).unwrap();
        assert!(
            matches!(&back.fields[0].1, Value::Str(s) if s == "héll"),
            "{json}"
        );
    }

    #[test]
    fn query_round_trips_as_tagged_json() {
        let q = Query::Range {
            start: "a".into(),
            end: None,
            limit: 10,
        };
        let json = serde_json::to_string(&q).unwrap();
        assert!(json.contains("\"kind\":\"range\""), "{json}");
        assert_eq!(serde_json::from_str::<Query>(&json).unwrap(), q);
        assert_eq!(q.kind().as_str(), "range");
    }
}
