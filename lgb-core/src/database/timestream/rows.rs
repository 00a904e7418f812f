//! Typed parsing of Timestream query results: each column's `ColumnInfo` says how to read
//! its values, which Timestream sends as text. Scalar types, TIMESTAMP and NULL are
//! parsed; arrays, time series and rows are refused with an error that says so.

use aws_sdk_timestreamquery::types::{ColumnInfo, Datum, Row, ScalarType};

use crate::error::{Error, Result};
use crate::record::{Record, Value};

/// The scalar type of a result column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// 64-bit integer.
    Bigint,
    /// 32-bit integer.
    Integer,
    /// 64-bit float.
    Double,
    /// Boolean.
    Boolean,
    /// String.
    Varchar,
    /// Instant with nanosecond precision, in UTC.
    Timestamp,
    /// Calendar date (kept as text).
    Date,
    /// Time of day (kept as text).
    Time,
    /// Interval of days to seconds (kept as text).
    IntervalDayToSecond,
    /// Interval of years to months (kept as text).
    IntervalYearToMonth,
    /// The type of a column that only holds NULL.
    Unknown,
}

/// A result column: its name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name (may be empty for unnamed expressions).
    pub name: String,
    /// Its type.
    pub kind: ColumnType,
}

/// One typed value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// BIGINT or INTEGER.
    Int(i64),
    /// DOUBLE.
    Float(f64),
    /// BOOLEAN.
    Bool(bool),
    /// VARCHAR.
    Str(String),
    /// TIMESTAMP, as nanoseconds since the Unix epoch.
    Timestamp(i64),
    /// DATE, TIME or an INTERVAL, as Timestream prints it.
    Text(String),
}

/// A whole query result: columns and typed rows, over every page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultSet {
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows, each with one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl ResultSet {
    /// Index of column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// The columns of a result, or `Unsupported` naming the first non-scalar column.
pub fn columns(info: &[ColumnInfo]) -> Result<Vec<Column>> {
    info.iter()
        .map(|c| {
            let name = c.name().unwrap_or_default().to_string();
            let Some(t) = c.r#type() else {
                return Err(Error::Backend(format!(
                    "column `{name}` has no type in the result"
                )));
            };
            let shape = if t.array_column_info().is_some() {
                Some("an ARRAY")
            } else if t.time_series_measure_value_column_info().is_some() {
                Some("a TIMESERIES")
            } else if !t.row_column_info().is_empty() {
                Some("a ROW")
            } else {
                None
            };
            if let Some(shape) = shape {
                return Err(Error::Unsupported(format!(
                    "column `{name}` is {shape}; lgb reads scalar columns only \
                     (select scalar columns, or UNNEST arrays and time series in the query)"
                )));
            }
            let kind = match t.scalar_type() {
                Some(ScalarType::Bigint) => ColumnType::Bigint,
                Some(ScalarType::Integer) => ColumnType::Integer,
                Some(ScalarType::Double) => ColumnType::Double,
                Some(ScalarType::Boolean) => ColumnType::Boolean,
                Some(ScalarType::Varchar) => ColumnType::Varchar,
                Some(ScalarType::Timestamp) => ColumnType::Timestamp,
                Some(ScalarType::Date) => ColumnType::Date,
                Some(ScalarType::Time) => ColumnType::Time,
                Some(ScalarType::IntervalDayToSecond) => ColumnType::IntervalDayToSecond,
                Some(ScalarType::IntervalYearToMonth) => ColumnType::IntervalYearToMonth,
                Some(ScalarType::UnknownValue) => ColumnType::Unknown,
                other => {
                    return Err(Error::Unsupported(format!(
                        "column `{name}` has type {}, which lgb does not know",
                        other.map_or("(none)", |s| s.as_str())
                    )))
                }
            };
            Ok(Column { name, kind })
        })
        .collect()
}

/// Parses one row by its columns.
pub fn parse_row(columns: &[Column], row: &Row) -> Result<Vec<Cell>> {
    let data = row.data();
    if data.len() != columns.len() {
        return Err(Error::Backend(format!(
            "a result row has {} values for {} columns",
            data.len(),
            columns.len()
        )));
    }
    columns
        .iter()
        .zip(data)
        .map(|(c, d)| parse_datum(c, d))
        .collect()
}

fn parse_datum(column: &Column, d: &Datum) -> Result<Cell> {
    if d.null_value() == Some(true) {
        return Ok(Cell::Null);
    }
    let Some(text) = d.scalar_value() else {
        if column.kind == ColumnType::Unknown {
            return Ok(Cell::Null);
        }
        return Err(Error::Unsupported(format!(
            "column `{}` holds a non-scalar value; lgb reads scalar columns only",
            column.name
        )));
    };
    let bad = |what: &str| {
        Error::Backend(format!(
            "column `{}`: `{text}` is not a valid {what}",
            column.name
        ))
    };
    Ok(match column.kind {
        ColumnType::Bigint | ColumnType::Integer => {
            Cell::Int(text.parse().map_err(|_| bad("integer"))?)
        }
        ColumnType::Double => Cell::Float(parse_double(text).ok_or_else(|| bad("double"))?),
        ColumnType::Boolean => match text {
            "true" => Cell::Bool(true),
            "false" => Cell::Bool(false),
            _ => return Err(bad("boolean")),
        },
        ColumnType::Varchar => Cell::Str(text.to_string()),
        ColumnType::Timestamp => {
            Cell::Timestamp(parse_timestamp_ns(text).ok_or_else(|| bad("timestamp"))?)
        }
        ColumnType::Date
        | ColumnType::Time
        | ColumnType::IntervalDayToSecond
        | ColumnType::IntervalYearToMonth
        | ColumnType::Unknown => Cell::Text(text.to_string()),
    })
}

fn parse_double(text: &str) -> Option<f64> {
    // Timestream spells the special values as Java does.
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

/// Parses a Timestream TIMESTAMP (`2024-05-01 12:30:00.123456789`, fraction optional,
/// a `T` accepted instead of the space) into nanoseconds since the Unix epoch, UTC.
pub fn parse_timestamp_ns(text: &str) -> Option<i64> {
    let (date, time) = text.trim().split_once([' ', 'T'])?;
    let mut d = date.splitn(3, '-');
    let year: i32 = d.next()?.parse().ok()?;
    let month: u8 = d.next()?.parse().ok()?;
    let day: u8 = d.next()?.parse().ok()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let hour: u8 = t.next()?.parse().ok()?;
    let minute: u8 = t.next()?.parse().ok()?;
    let second: u8 = t.next()?.parse().ok()?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    let clock = time::Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    let ns = time::PrimitiveDateTime::new(date, clock)
        .assume_utc()
        .unix_timestamp_nanos();
    i64::try_from(ns).ok()
}

/// The record of one result row: column `key_column` is the key, a TIMESTAMP column
/// named `time` is the timestamp (ms), and every other non-NULL column is a field.
/// TIMESTAMP fields become ms since the epoch, like [`Record::timestamp`].
pub fn to_record(columns: &[Column], cells: &[Cell], key_column: &str, skip: &[&str]) -> Record {
    let mut r = Record::default();
    for (c, cell) in columns.iter().zip(cells) {
        if skip.contains(&c.name.as_str()) {
            continue;
        }
        match cell {
            Cell::Null => {}
            Cell::Str(s) if c.name == key_column => r.key.clone_from(s),
            Cell::Timestamp(ns) if c.name == "time" => r.timestamp = Some(ns.div_euclid(1_000_000)),
            other => {
                if let Some(v) = to_value(other) {
                    r.fields.push((c.name.clone(), v));
                }
            }
        }
    }
    r
}

/// A cell as a record field value (`None` for NULL).
pub fn to_value(cell: &Cell) -> Option<Value> {
    Some(match cell {
        Cell::Null => return None,
        Cell::Int(i) => Value::Int(*i),
        Cell::Float(f) => Value::Float(*f),
        Cell::Bool(b) => Value::Bool(*b),
        Cell::Str(s) | Cell::Text(s) => Value::Str(s.clone()),
        Cell::Timestamp(ns) => Value::Int(ns.div_euclid(1_000_000)),
    })
}

/// Folds single-measure rows (one row per measure: `measure_name` and one non-NULL
/// `measure_value::<type>` column) into one record per series and time.
pub fn fold_single_measure(set: &ResultSet, key_column: &str) -> Vec<Record> {
    let name_col = set.column("measure_name");
    let value_cols: Vec<usize> = set
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.name.starts_with("measure_value::"))
        .map(|(i, _)| i)
        .collect();
    let skip: Vec<&str> = set
        .columns
        .iter()
        .filter(|c| c.name == "measure_name" || c.name.starts_with("measure_value::"))
        .map(|c| c.name.as_str())
        .collect();
    let mut out: Vec<Record> = Vec::new();
    for row in &set.rows {
        let base = to_record(&set.columns, row, key_column, &skip);
        let measure = name_col.and_then(|i| match &row[i] {
            Cell::Str(n) => Some(n.clone()),
            _ => None,
        });
        let value = value_cols.iter().find_map(|&i| to_value(&row[i]));
        let same_point = out
            .last()
            .is_some_and(|last| last.key == base.key && last.timestamp == base.timestamp);
        if !same_point {
            out.push(base);
        }
        if let (Some(n), Some(v), Some(last)) = (measure, value, out.last_mut()) {
            if last.field(&n).is_none() {
                last.fields.push((n, v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_timestreamquery::types::Type;

    fn col(name: &str, t: ScalarType) -> ColumnInfo {
        ColumnInfo::builder()
            .name(name)
            .r#type(Type::builder().scalar_type(t).build())
            .build()
    }

    fn row(values: &[Option<&str>]) -> Row {
        let data = values
            .iter()
            .map(|v| match v {
                Some(s) => Datum::builder().scalar_value(*s).build(),
                None => Datum::builder().null_value(true).build(),
            })
            .collect();
        Row::builder().set_data(Some(data)).build().unwrap()
    }

    #[test]
    fn scalar_types_timestamps_and_nulls_are_typed() {
        let info = [
            col("series", ScalarType::Varchar),
            col("time", ScalarType::Timestamp),
            col("n", ScalarType::Bigint),
            col("x", ScalarType::Double),
            col("ok", ScalarType::Boolean),
            col("d", ScalarType::Date),
        ];
        let cols = columns(&info).unwrap();
        let cells = parse_row(
            &cols,
            &row(&[
                Some("h1"),
                Some("2024-05-01 12:30:00.123456789"),
                Some("-7"),
                Some("NaN"),
                Some("false"),
                None,
            ]),
        )
        .unwrap();
        assert_eq!(cells[0], Cell::Str("h1".into()));
        assert_eq!(cells[1], Cell::Timestamp(1_714_566_600_123_456_789));
        assert_eq!(cells[2], Cell::Int(-7));
        assert!(matches!(cells[3], Cell::Float(f) if f.is_nan()));
        assert_eq!(cells[4], Cell::Bool(false));
        assert_eq!(cells[5], Cell::Null);
        let r = to_record(&cols, &cells, "series", &[]);
        assert_eq!(r.key, "h1");
        assert_eq!(r.timestamp, Some(1_714_566_600_123));
        assert_eq!(r.field("n"), Some(&Value::Int(-7)));
        assert_eq!(r.field("d"), None, "NULL is left out");

        let err = parse_row(
            &cols,
            &row(&[Some("h1"), Some("yesterday"), None, None, None, None]),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`yesterday` is not a valid timestamp"),
            "{err}"
        );
        let err = parse_row(&cols, &row(&[Some("h1")])).unwrap_err();
        assert!(err.to_string().contains("1 values for 6 columns"), "{err}");
    }

    #[test]
    fn timestamps_parse_with_and_without_fractions() {
        assert_eq!(
            parse_timestamp_ns("1970-01-01 00:00:01"),
            Some(1_000_000_000)
        );
        assert_eq!(
            parse_timestamp_ns("1970-01-01 00:00:00.5"),
            Some(500_000_000)
        );
        assert_eq!(parse_timestamp_ns("1970-01-01T00:00:00.000000001"), Some(1));
        assert_eq!(parse_timestamp_ns("1970-13-01 00:00:00"), None);
        assert_eq!(parse_timestamp_ns("1970-01-01 00:00:00.1234567891"), None);
    }

    #[test]
    fn arrays_time_series_and_rows_are_unsupported() {
        let inner = col("v", ScalarType::Double);
        let array = ColumnInfo::builder()
            .name("a")
            .r#type(Type::builder().array_column_info(inner.clone()).build())
            .build();
        let err = columns(&[col("ok", ScalarType::Varchar), array]).unwrap_err();
        assert_eq!(err.class(), crate::error::ErrorClass::Unsupported);
        assert!(err.to_string().contains("column `a` is an ARRAY"), "{err}");
        let ts = ColumnInfo::builder()
            .name("ts")
            .r#type(
                Type::builder()
                    .time_series_measure_value_column_info(inner.clone())
                    .build(),
            )
            .build();
        assert!(columns(&[ts])
            .unwrap_err()
            .to_string()
            .contains("TIMESERIES"));
        let rowcol = ColumnInfo::builder()
            .name("r")
            .r#type(Type::builder().row_column_info(inner).build())
            .build();
        assert!(columns(&[rowcol])
            .unwrap_err()
            .to_string()
            .contains("a ROW"));
    }

    #[test]
    fn single_measure_rows_fold_into_points() {
        let info = [
            col("series", ScalarType::Varchar),
            col("measure_name", ScalarType::Varchar),
            col("time", ScalarType::Timestamp),
            col("measure_value::double", ScalarType::Double),
            col("measure_value::bigint", ScalarType::Bigint),
        ];
        let cols = columns(&info).unwrap();
        let rows = [
            row(&[
                Some("h"),
                Some("cpu"),
                Some("1970-01-01 00:00:02"),
                Some("1.5"),
                None,
            ]),
            row(&[
                Some("h"),
                Some("n"),
                Some("1970-01-01 00:00:02"),
                None,
                Some("4"),
            ]),
            row(&[
                Some("h"),
                Some("cpu"),
                Some("1970-01-01 00:00:01"),
                Some("0.5"),
                None,
            ]),
        ];
        let set = ResultSet {
            rows: rows.iter().map(|r| parse_row(&cols, r).unwrap()).collect(),
            columns: cols,
        };
        let recs = fold_single_measure(&set, "series");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].timestamp, Some(2000));
        assert_eq!(
            recs[0].fields,
            [
                ("cpu".to_string(), Value::Float(1.5)),
                ("n".to_string(), Value::Int(4))
            ]
        );
        assert_eq!(recs[1].fields, [("cpu".to_string(), Value::Float(0.5))]);
    }
}
