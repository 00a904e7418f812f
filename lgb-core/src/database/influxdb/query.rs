//! The statements the `influxdb` adapter sends: its own reads (the newest points of a
//! series, a time range of it) and the TSBS `devops` queries, in InfluxQL (v1, v2,
//! and v3's `/api/v3/query_influxql`) and in SQL (v3's `/api/v3/query_sql`), with
//! names and values quoted for each language.
//!
//! | function | TSBS query | what it asks |
//! |---|---|---|
//! | [`Tsbs::single_groupby`] | `single-groupby-M-H-T` | max of M metrics per minute, for H hosts, over T hours |
//! | [`Tsbs::max_all`] | `cpu-max-all-H` | max of every metric per hour, for H hosts |
//! | [`Tsbs::double_groupby`] | `double-groupby-M` | mean of M metrics per hour and host |
//! | [`Tsbs::high_cpu`] | `high-cpu-H` / `high-cpu-all` | points where `usage_user` is above 90 |
//! | [`Tsbs::lastpoint`] | `lastpoint` | the newest value of every metric of every host |
//! | [`Tsbs::groupby_orderby_limit`] | `groupby-orderby-limit` | the last five per-minute maxima |
//!
//! Each returns a statement for `{"type": "query", "kind": "native", "statement": …}`;
//! a host written `{key}` is replaced by the key the operation chooses. Windows are
//! relative to the server's `now()`, so the text is the same in every run.

use std::time::Duration;

use super::options::{Api, QueryLanguage};

/// An InfluxQL identifier: double-quoted, `"` and `\` escaped.
pub fn influxql_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// An InfluxQL string literal: single-quoted, `'` and `\` escaped.
pub fn influxql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A SQL identifier: double-quoted, `"` doubled.
pub fn sql_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A SQL string literal: single-quoted, `'` doubled.
pub fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Where the statements read and in which language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statements {
    /// The measurement (the SQL table).
    pub measurement: String,
    /// The tag holding the record key.
    pub key_tag: String,
    /// InfluxQL or SQL.
    pub language: QueryLanguage,
    /// The API: InfluxQL over v1 and v2 groups by every tag (`GROUP BY *`) so that
    /// tags and fields can be told apart; v3 answers rows, which never say.
    pub api: Api,
    /// How far back reads of the newest points look.
    pub lookback: Duration,
}

impl Statements {
    fn q(&self, s: &str) -> String {
        match self.language {
            QueryLanguage::Influxql => influxql_ident(s),
            QueryLanguage::Sql => sql_ident(s),
        }
    }

    fn lit(&self, s: &str) -> String {
        match self.language {
            QueryLanguage::Influxql => influxql_literal(s),
            QueryLanguage::Sql => sql_literal(s),
        }
    }

    fn group_all(&self) -> &'static str {
        match (self.language, self.api) {
            (QueryLanguage::Influxql, Api::V1 | Api::V2) => " GROUP BY *",
            _ => "",
        }
    }

    fn since(&self, d: Duration) -> String {
        match self.language {
            QueryLanguage::Influxql => format!("time >= now() - {}ms", d.as_millis()),
            QueryLanguage::Sql => {
                format!("time >= now() - INTERVAL '{} milliseconds'", d.as_millis())
            }
        }
    }

    /// The newest `limit` points of series `key` within the lookback, newest first.
    ///
    /// ```
    /// use lgb_core::database::influxdb::query::Statements;
    /// use lgb_core::database::influxdb::{Api, QueryLanguage};
    /// let s = Statements { measurement: "cpu".into(), key_tag: "host".into(),
    ///     language: QueryLanguage::Influxql, api: Api::V1,
    ///     lookback: std::time::Duration::from_secs(60) };
    /// assert_eq!(s.latest("h'1", 1), "SELECT * FROM \"cpu\" WHERE \"host\" = 'h\\'1' \
    ///     AND time >= now() - 60000ms GROUP BY * ORDER BY time DESC LIMIT 1");
    /// ```
    pub fn latest(&self, key: &str, limit: usize) -> String {
        format!(
            "SELECT * FROM {} WHERE {} = {} AND {}{} ORDER BY time DESC LIMIT {limit}",
            self.q(&self.measurement),
            self.q(&self.key_tag),
            self.lit(key),
            self.since(self.lookback),
            self.group_all()
        )
    }

    /// Points of series `key` with `start_ms <= time < end_ms`, oldest first.
    pub fn time_range(&self, key: &str, start_ms: i64, end_ms: i64) -> String {
        let window = match self.language {
            QueryLanguage::Influxql => format!("time >= {start_ms}ms AND time < {end_ms}ms"),
            QueryLanguage::Sql => format!(
                "time >= to_timestamp_millis({start_ms}) AND time < to_timestamp_millis({end_ms})"
            ),
        };
        format!(
            "SELECT * FROM {} WHERE {} = {} AND {window}{} ORDER BY time ASC",
            self.q(&self.measurement),
            self.q(&self.key_tag),
            self.lit(key),
            self.group_all()
        )
    }

    /// `CREATE DATABASE` of the v1 API.
    pub fn create_database(database: &str) -> String {
        format!("CREATE DATABASE {}", influxql_ident(database))
    }
}

/// TSBS `devops` queries over the measurement the time-series workload writes; see
/// the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tsbs {
    /// The measurement (`cpu`) and key tag (`hostname`), and the language.
    pub s: Statements,
}

impl Tsbs {
    fn bin(&self, every: &str) -> (String, String) {
        match self.s.language {
            QueryLanguage::Influxql => (String::new(), format!(" GROUP BY time({every})")),
            QueryLanguage::Sql => {
                let unit = match every {
                    "1m" => "1 minute",
                    _ => "1 hour",
                };
                (
                    format!("date_bin(INTERVAL '{unit}', time) AS t, "),
                    " GROUP BY 1 ORDER BY 1".to_string(),
                )
            }
        }
    }

    fn hosts(&self, hosts: &[&str]) -> String {
        let list: Vec<String> = hosts
            .iter()
            .map(|h| format!("{} = {}", self.s.q(&self.s.key_tag), self.s.lit(h)))
            .collect();
        format!("({})", list.join(" OR "))
    }

    fn aggs(&self, func: &str, metrics: &[&str]) -> String {
        metrics
            .iter()
            .map(|m| {
                format!(
                    "{func}({}) AS {}",
                    self.s.q(m),
                    self.s.q(&format!("{func}_{m}"))
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn binned(
        &self,
        every: &str,
        func: &str,
        metrics: &[&str],
        hosts: &[&str],
        window: Duration,
    ) -> String {
        let (select_bin, group) = self.bin(every);
        let mut filter = self.s.since(window);
        if !hosts.is_empty() {
            filter = format!("{filter} AND {}", self.hosts(hosts));
        }
        format!(
            "SELECT {select_bin}{} FROM {} WHERE {filter}{group}",
            self.aggs(func, metrics),
            self.s.q(&self.s.measurement)
        )
    }

    /// `single-groupby`: the max of each of `metrics` per minute for `hosts` within `window`.
    ///
    /// ```
    /// use lgb_core::database::influxdb::query::{Statements, Tsbs};
    /// use lgb_core::database::influxdb::{Api, QueryLanguage};
    /// let s = Statements { measurement: "cpu".into(), key_tag: "hostname".into(),
    ///     language: QueryLanguage::Sql, api: Api::V3, lookback: std::time::Duration::from_secs(60) };
    /// let q = Tsbs { s }.single_groupby(&["usage_user"], &["{key}"], std::time::Duration::from_secs(3600));
    /// assert_eq!(q, "SELECT date_bin(INTERVAL '1 minute', time) AS t, max(\"usage_user\") AS \"max_usage_user\" \
    ///     FROM \"cpu\" WHERE time >= now() - INTERVAL '3600000 milliseconds' AND (\"hostname\" = '{key}') \
    ///     GROUP BY 1 ORDER BY 1");
    /// ```
    pub fn single_groupby(&self, metrics: &[&str], hosts: &[&str], window: Duration) -> String {
        self.binned("1m", "max", metrics, hosts, window)
    }

    /// `cpu-max-all`: the max of every one of `metrics` per hour for `hosts` within `window`.
    pub fn max_all(&self, metrics: &[&str], hosts: &[&str], window: Duration) -> String {
        self.binned("1h", "max", metrics, hosts, window)
    }

    /// `double-groupby`: the mean of each of `metrics` per hour and host within `window`.
    pub fn double_groupby(&self, metrics: &[&str], window: Duration) -> String {
        let host = self.s.q(&self.s.key_tag);
        match self.s.language {
            QueryLanguage::Influxql => format!(
                "SELECT {} FROM {} WHERE {} GROUP BY time(1h), {host}",
                self.aggs("mean", metrics),
                self.s.q(&self.s.measurement),
                self.s.since(window)
            ),
            QueryLanguage::Sql => format!(
                "SELECT date_bin(INTERVAL '1 hour', time) AS t, {host}, {} FROM {} WHERE {} \
                 GROUP BY 1, {host} ORDER BY 1, {host}",
                self.aggs("avg", metrics),
                self.s.q(&self.s.measurement),
                self.s.since(window)
            ),
        }
    }

    /// `high-cpu`: every point within `window` whose `usage_user` is above 90, for
    /// `hosts` (every host when empty).
    pub fn high_cpu(&self, hosts: &[&str], window: Duration) -> String {
        let mut filter = format!(
            "{} > 90.0 AND {}",
            self.s.q("usage_user"),
            self.s.since(window)
        );
        if !hosts.is_empty() {
            filter = format!("{filter} AND {}", self.hosts(hosts));
        }
        format!(
            "SELECT * FROM {} WHERE {filter}",
            self.s.q(&self.s.measurement)
        )
    }

    /// `lastpoint`: the newest value of each of `metrics` of every host seen within `window`.
    pub fn lastpoint(&self, metrics: &[&str], window: Duration) -> String {
        let host = self.s.q(&self.s.key_tag);
        match self.s.language {
            QueryLanguage::Influxql => format!(
                "SELECT {} FROM {} WHERE {} GROUP BY {host}",
                metrics
                    .iter()
                    .map(|m| format!("last({}) AS {}", self.s.q(m), self.s.q(m)))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.s.q(&self.s.measurement),
                self.s.since(window)
            ),
            QueryLanguage::Sql => format!(
                "SELECT {host}, max(time) AS time, {} FROM {} WHERE {} GROUP BY {host} ORDER BY {host}",
                metrics
                    .iter()
                    .map(|m| format!("last_value({} ORDER BY time) AS {}", self.s.q(m), self.s.q(m)))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.s.q(&self.s.measurement),
                self.s.since(window)
            ),
        }
    }

    /// `groupby-orderby-limit`: the last five per-minute maxima of `metric` within `window`.
    pub fn groupby_orderby_limit(&self, metric: &str, window: Duration) -> String {
        match self.s.language {
            QueryLanguage::Influxql => format!(
                "SELECT max({}) FROM {} WHERE {} GROUP BY time(1m) ORDER BY time DESC LIMIT 5",
                self.s.q(metric),
                self.s.q(&self.s.measurement),
                self.s.since(window)
            ),
            QueryLanguage::Sql => format!(
                "SELECT date_bin(INTERVAL '1 minute', time) AS t, max({}) FROM {} WHERE {} \
                 GROUP BY 1 ORDER BY 1 DESC LIMIT 5",
                self.s.q(metric),
                self.s.q(&self.s.measurement),
                self.s.since(window)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(language: QueryLanguage, api: Api) -> Statements {
        Statements {
            measurement: "c\"pu".into(),
            key_tag: "host".into(),
            language,
            api,
            lookback: Duration::from_secs(1),
        }
    }

    #[test]
    fn names_and_values_are_quoted_per_language() {
        assert_eq!(influxql_literal("a'b\\"), "'a\\'b\\\\'");
        assert_eq!(influxql_ident("a\"b"), "\"a\\\"b\"");
        assert_eq!(sql_literal("a'b"), "'a''b'");
        assert_eq!(sql_ident("a\"b"), "\"a\"\"b\"");
        let v3 = s(QueryLanguage::Sql, Api::V3);
        assert_eq!(
            v3.time_range("k", 1, 2),
            "SELECT * FROM \"c\"\"pu\" WHERE \"host\" = 'k' AND time >= to_timestamp_millis(1) \
             AND time < to_timestamp_millis(2) ORDER BY time ASC"
        );
        let v1 = s(QueryLanguage::Influxql, Api::V1);
        assert_eq!(
            v1.time_range("k", 1, 2),
            "SELECT * FROM \"c\\\"pu\" WHERE \"host\" = 'k' AND time >= 1ms AND time < 2ms GROUP BY * ORDER BY time ASC"
        );
        let v3i = s(QueryLanguage::Influxql, Api::V3);
        assert!(!v3i.latest("k", 1).contains("GROUP BY"));
        assert_eq!(
            Statements::create_database("a\"b"),
            "CREATE DATABASE \"a\\\"b\""
        );
    }

    #[test]
    fn tsbs_queries_in_both_languages() {
        let w = Duration::from_secs(3600);
        let i = Tsbs {
            s: s(QueryLanguage::Influxql, Api::V1),
        };
        assert_eq!(
            i.max_all(&["a", "b"], &["h1", "h2"], w),
            "SELECT max(\"a\") AS \"max_a\", max(\"b\") AS \"max_b\" FROM \"c\\\"pu\" WHERE time >= now() - 3600000ms \
             AND (\"host\" = 'h1' OR \"host\" = 'h2') GROUP BY time(1h)"
        );
        assert_eq!(
            i.high_cpu(&[], w),
            "SELECT * FROM \"c\\\"pu\" WHERE \"usage_user\" > 90.0 AND time >= now() - 3600000ms"
        );
        assert!(i
            .lastpoint(&["a"], w)
            .starts_with("SELECT last(\"a\") AS \"a\""));
        assert!(i
            .double_groupby(&["a"], w)
            .ends_with("GROUP BY time(1h), \"host\""));
        assert!(i
            .groupby_orderby_limit("a", w)
            .ends_with("ORDER BY time DESC LIMIT 5"));
        let q = Tsbs {
            s: s(QueryLanguage::Sql, Api::V3),
        };
        assert!(q
            .lastpoint(&["a"], w)
            .contains("last_value(\"a\" ORDER BY time)"));
        assert!(q.double_groupby(&["a"], w).contains("avg(\"a\")"));
        assert!(q
            .groupby_orderby_limit("a", w)
            .ends_with("ORDER BY 1 DESC LIMIT 5"));
    }
}
