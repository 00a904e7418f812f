//! Timestream SQL text: quoting, time windows, and the statements the adapter sends for
//! `read`, `Latest` and `TimeRange`. Public so that tests and users can see (and register
//! results for) the exact statements.

use std::time::Duration;

use super::Mapping;

/// A double-quoted identifier (`"my ""table"""`).
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A single-quoted string literal (`'it''s'`).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `"database"."table"`.
pub fn table_ref(database: &str, table: &str) -> String {
    format!("{}.{}", ident(database), ident(table))
}

/// The time span a statement covers. Timestream bills and plans by the time range a
/// query touches, so every statement lgb builds has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// `start_ms <= time < end_ms` (ms since the epoch).
    Between {
        /// Inclusive start.
        start_ms: i64,
        /// Exclusive end.
        end_ms: i64,
    },
    /// The span before the query runs (`time >= ago(…)`): stable text, so one statement
    /// can be reused in a config.
    Last(Duration),
}

impl Window {
    /// The predicate on `time`.
    pub fn predicate(&self) -> String {
        match self {
            Window::Between { start_ms, end_ms } => {
                format!(
                    "time >= from_milliseconds({start_ms}) AND time < from_milliseconds({end_ms})"
                )
            }
            Window::Last(d) => format!("time >= ago({})", interval(*d)),
        }
    }
}

/// A Timestream interval literal: whole seconds when exact, else milliseconds.
pub fn interval(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// What the adapter's own statements need to know about the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statements {
    /// Database name.
    pub database: String,
    /// Table name.
    pub table: String,
    /// The dimension that holds the record key.
    pub key_dimension: String,
    /// How records are laid out.
    pub mapping: Mapping,
    /// How far back `read` and `Latest` look.
    pub lookback: Duration,
}

impl Statements {
    fn source_where(&self, key: &str) -> String {
        format!(
            "FROM {} WHERE {} = {}",
            table_ref(&self.database, &self.table),
            ident(&self.key_dimension),
            literal(key)
        )
    }

    /// The newest point of series `key` (one row, or one row per measure when single-measure).
    pub fn read(&self, key: &str) -> String {
        self.latest(key, 1)
    }

    /// The newest `limit` points of series `key`, newest first.
    pub fn latest(&self, key: &str, limit: usize) -> String {
        let recent = Window::Last(self.lookback).predicate();
        let fw = self.source_where(key);
        match self.mapping {
            Mapping::Multi => format!("SELECT * {fw} AND {recent} ORDER BY time DESC LIMIT {limit}"),
            Mapping::Single => format!(
                "SELECT * {fw} AND time IN (SELECT DISTINCT time {fw} AND {recent} ORDER BY time DESC LIMIT {limit}) \
                 ORDER BY time DESC, measure_name"
            ),
        }
    }

    /// The points of series `key` with `start_ms <= time < end_ms`, oldest first.
    pub fn time_range(&self, key: &str, start_ms: i64, end_ms: i64) -> String {
        let w = Window::Between { start_ms, end_ms }.predicate();
        let order = match self.mapping {
            Mapping::Multi => "time",
            Mapping::Single => "time, measure_name",
        };
        format!(
            "SELECT * {} AND {w} ORDER BY {order}",
            self.source_where(key)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_quotes() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(table_ref("db", "t"), "\"db\".\"t\"");
        assert_eq!(interval(Duration::from_secs(3600)), "3600s");
        assert_eq!(interval(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn adapter_statements() {
        let mut s = Statements {
            database: "db".into(),
            table: "cpu".into(),
            key_dimension: "series".into(),
            mapping: Mapping::Multi,
            lookback: Duration::from_secs(86_400),
        };
        assert_eq!(
            s.read("h'1"),
            "SELECT * FROM \"db\".\"cpu\" WHERE \"series\" = 'h''1' AND time >= ago(86400s) ORDER BY time DESC LIMIT 1"
        );
        assert_eq!(
            s.time_range("h", 10, 20),
            "SELECT * FROM \"db\".\"cpu\" WHERE \"series\" = 'h' AND time >= from_milliseconds(10) \
             AND time < from_milliseconds(20) ORDER BY time"
        );
        s.mapping = Mapping::Single;
        let q = s.latest("h", 3);
        assert!(q.contains("time IN (SELECT DISTINCT time FROM \"db\".\"cpu\" WHERE \"series\" = 'h' AND time >= ago(86400s) ORDER BY time DESC LIMIT 3)"), "{q}");
    }
}
