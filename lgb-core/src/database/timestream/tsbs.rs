//! Timestream SQL for query kinds modelled on the TSBS `devops` queries, over the table
//! the time-series workload ([`crate::workload::timeseries`]) writes.
//!
//! | function | TSBS query | what it asks |
//! |---|---|---|
//! | [`single_groupby`] | `single-groupby-M-H-T` | max of M metrics per minute, for H hosts, over T hours |
//! | [`max_all`] | `cpu-max-all-H` | max of every metric per hour, for H hosts |
//! | [`high_cpu`] | `high-cpu-1` / `high-cpu-all` | points where `usage_user` is above a threshold |
//! | [`lastpoint`] | `lastpoint` | the newest value of each metric of every host |
//! | [`groupby_orderby_limit`] | `groupby-orderby-limit` | the last N per-minute maxima before a time |
//!
//! Each function returns a statement for [`Query::Native`](crate::record::Query::Native),
//! so it can be run by the built-in `query` operation:
//! `{"type": "query", "kind": "native", "statement": "…"}`. A host written as `{key}`
//! is replaced by the key the operation chooses, and a [`Window::Last`] window keeps the
//! text stable from run to run. [`TsbsQueries`] draws hosts and absolute windows from
//! the workload's series instead, as TSBS's query generator does.
//!
//! Timestream needs a time range on every query to keep scans (and bills) small, so
//! every statement has one, including `lastpoint` and `groupby-orderby-limit`, which
//! have none in TSBS.

use std::time::Duration;

use rand::seq::index::sample;
use rand::Rng;

use super::sql::{ident, literal, table_ref, Window};
use super::Mapping;
use crate::workload::timeseries::TimeSeriesGenerator;

/// The table the queries read and how it is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsbsTable {
    /// Database name.
    pub database: String,
    /// Table name.
    pub table: String,
    /// The dimension that names the host: the adapter's `key_dimension`.
    pub host_column: String,
    /// Multi-measure (one column per metric) or single-measure (one row per metric).
    pub mapping: Mapping,
}

impl TsbsTable {
    fn from(&self) -> String {
        table_ref(&self.database, &self.table)
    }

    /// `max("m") AS "max_m"` (multi) or the same over the rows of measure `m` (single).
    fn aggregate(&self, func: &str, metric: &str) -> String {
        let alias = ident(&format!("{func}_{metric}"));
        match self.mapping {
            Mapping::Multi => format!("{func}({}) AS {alias}", ident(metric)),
            Mapping::Single => format!(
                "{func}(CASE WHEN measure_name = {} THEN measure_value::double END) AS {alias}",
                literal(metric)
            ),
        }
    }

    /// The predicates shared by every query: time window, hosts, and (single-measure)
    /// the measures read.
    fn filters(&self, hosts: &[&str], metrics: &[&str], window: Window) -> String {
        let mut f = vec![window.predicate()];
        if !hosts.is_empty() {
            let list: Vec<String> = hosts.iter().map(|h| literal(h)).collect();
            f.push(format!(
                "{} IN ({})",
                ident(&self.host_column),
                list.join(", ")
            ));
        }
        if self.mapping == Mapping::Single && !metrics.is_empty() {
            let list: Vec<String> = metrics.iter().map(|m| literal(m)).collect();
            f.push(format!("measure_name IN ({})", list.join(", ")));
        }
        f.join(" AND ")
    }

    fn binned(&self, bin: &str, metrics: &[&str], hosts: &[&str], window: Window) -> String {
        let aggs: Vec<String> = metrics.iter().map(|m| self.aggregate("max", m)).collect();
        format!(
            "SELECT bin(time, {bin}) AS t, {} FROM {} WHERE {} GROUP BY bin(time, {bin}) ORDER BY t",
            aggs.join(", "),
            self.from(),
            self.filters(hosts, metrics, window)
        )
    }
}

/// `single-groupby`: the max of each of `metrics` per minute for `hosts` within `window`.
///
/// ```
/// use lgb_core::database::timestream::{tsbs, Mapping, Window};
/// let t = tsbs::TsbsTable { database: "db".into(), table: "cpu".into(),
///     host_column: "hostname".into(), mapping: Mapping::Multi };
/// let q = tsbs::single_groupby(&t, &["usage_user"], &["{key}"], Window::Last(std::time::Duration::from_secs(3600)));
/// assert_eq!(q, "SELECT bin(time, 1m) AS t, max(\"usage_user\") AS \"max_usage_user\" \
///     FROM \"db\".\"cpu\" WHERE time >= ago(3600s) AND \"hostname\" IN ('{key}') \
///     GROUP BY bin(time, 1m) ORDER BY t");
/// ```
pub fn single_groupby(t: &TsbsTable, metrics: &[&str], hosts: &[&str], window: Window) -> String {
    t.binned("1m", metrics, hosts, window)
}

/// `cpu-max-all`: the max of every one of `metrics` per hour for `hosts` within `window`.
pub fn max_all(t: &TsbsTable, metrics: &[&str], hosts: &[&str], window: Window) -> String {
    t.binned("1h", metrics, hosts, window)
}

/// `high-cpu`: every point within `window` whose `usage_user` is above `threshold`, for
/// `hosts` (every host when empty). Single-measure tables return the `usage_user` rows.
pub fn high_cpu(t: &TsbsTable, threshold: f64, hosts: &[&str], window: Window) -> String {
    let cond = match t.mapping {
        Mapping::Multi => format!("{} > {threshold:?}", ident("usage_user")),
        Mapping::Single => format!("measure_value::double > {threshold:?}"),
    };
    format!(
        "SELECT * FROM {} WHERE {} AND {cond}",
        t.from(),
        t.filters(hosts, &["usage_user"], window)
    )
}

/// `lastpoint`: the newest value of each of `metrics` of every host seen within `window`.
pub fn lastpoint(t: &TsbsTable, metrics: &[&str], window: Window) -> String {
    let host = ident(&t.host_column);
    match t.mapping {
        Mapping::Multi => {
            let cols: Vec<String> = metrics
                .iter()
                .map(|m| format!("max_by({0}, time) AS {0}", ident(m)))
                .collect();
            format!(
                "SELECT {host}, max(time) AS time, {} FROM {} WHERE {} GROUP BY {host} ORDER BY {host}",
                cols.join(", "),
                t.from(),
                t.filters(&[], metrics, window)
            )
        }
        Mapping::Single => format!(
            "SELECT {host}, measure_name, max(time) AS time, max_by(measure_value::double, time) AS value \
             FROM {} WHERE {} GROUP BY {host}, measure_name ORDER BY {host}, measure_name",
            t.from(),
            t.filters(&[], metrics, window)
        ),
    }
}

/// `groupby-orderby-limit`: the last `limit` per-minute maxima of `metric` within
/// `window` (TSBS: before a random time, five of them).
pub fn groupby_orderby_limit(t: &TsbsTable, metric: &str, window: Window, limit: usize) -> String {
    format!(
        "SELECT bin(time, 1m) AS t, {} FROM {} WHERE {} GROUP BY bin(time, 1m) ORDER BY t DESC LIMIT {limit}",
        t.aggregate("max", metric),
        t.from(),
        t.filters(&[], &[metric], window)
    )
}

/// The TSBS query kinds, with the parameters TSBS names them by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsbsQuery {
    /// `single-groupby-<metrics>-<hosts>-<hours>`.
    SingleGroupby {
        /// Metrics aggregated.
        metrics: usize,
        /// Hosts read.
        hosts: usize,
        /// Hours covered.
        hours: u32,
    },
    /// `cpu-max-all-<hosts>` (over 8 hours).
    MaxAll {
        /// Hosts read.
        hosts: usize,
    },
    /// `high-cpu-<hosts>` (0: `high-cpu-all`), over 12 hours.
    HighCpu {
        /// Hosts read; 0 for all.
        hosts: usize,
    },
    /// `lastpoint`.
    Lastpoint,
    /// `groupby-orderby-limit`.
    GroupbyOrderbyLimit,
}

impl TsbsQuery {
    /// The TSBS name, for example `single-groupby-1-1-1`.
    pub fn name(&self) -> String {
        match self {
            TsbsQuery::SingleGroupby {
                metrics,
                hosts,
                hours,
            } => format!("single-groupby-{metrics}-{hosts}-{hours}"),
            TsbsQuery::MaxAll { hosts } => format!("cpu-max-all-{hosts}"),
            TsbsQuery::HighCpu { hosts: 0 } => "high-cpu-all".into(),
            TsbsQuery::HighCpu { hosts } => format!("high-cpu-{hosts}"),
            TsbsQuery::Lastpoint => "lastpoint".into(),
            TsbsQuery::GroupbyOrderbyLimit => "groupby-orderby-limit".into(),
        }
    }

    /// The span of data the query reads.
    pub fn span(&self) -> Duration {
        let h = |n: u64| Duration::from_secs(n * 3600);
        match self {
            TsbsQuery::SingleGroupby { hours, .. } => h(u64::from(*hours)),
            TsbsQuery::MaxAll { .. } => h(8),
            TsbsQuery::HighCpu { .. } => h(12),
            TsbsQuery::Lastpoint | TsbsQuery::GroupbyOrderbyLimit => h(1),
        }
    }
}

/// The TSBS devops query set, as reusable statements: one host written `{key}` (the
/// `query` operation fills in the key it chooses) and windows relative to now.
pub fn devops_statements(t: &TsbsTable, metric_names: &[String]) -> Vec<(String, String)> {
    let m: Vec<&str> = metric_names.iter().map(String::as_str).collect();
    let first = &m[..1.min(m.len())];
    let five = &m[..5.min(m.len())];
    let last = |q: TsbsQuery| Window::Last(q.span());
    let key = ["{key}"];
    let q1 = TsbsQuery::SingleGroupby {
        metrics: 1,
        hosts: 1,
        hours: 1,
    };
    let q5 = TsbsQuery::SingleGroupby {
        metrics: 5,
        hosts: 1,
        hours: 1,
    };
    let max1 = TsbsQuery::MaxAll { hosts: 1 };
    let high1 = TsbsQuery::HighCpu { hosts: 1 };
    let high_all = TsbsQuery::HighCpu { hosts: 0 };
    vec![
        (q1.name(), single_groupby(t, first, &key, last(q1))),
        (q5.name(), single_groupby(t, five, &key, last(q5))),
        (max1.name(), max_all(t, &m, &key, last(max1))),
        (high1.name(), high_cpu(t, 90.0, &key, last(high1))),
        (high_all.name(), high_cpu(t, 90.0, &[], last(high_all))),
        (
            TsbsQuery::Lastpoint.name(),
            lastpoint(t, &m, last(TsbsQuery::Lastpoint)),
        ),
        (
            TsbsQuery::GroupbyOrderbyLimit.name(),
            groupby_orderby_limit(
                t,
                m.first().copied().unwrap_or("usage_user"),
                last(TsbsQuery::GroupbyOrderbyLimit),
                5,
            ),
        ),
    ]
}

/// Draws TSBS queries over the data a [`TimeSeriesGenerator`] wrote: random hosts, and
/// windows that lie within the written span, as TSBS's query generator does.
#[derive(Debug, Clone)]
pub struct TsbsQueries<'a> {
    table: TsbsTable,
    series: &'a TimeSeriesGenerator,
    end_ms: i64,
}

impl<'a> TsbsQueries<'a> {
    /// Queries over `steps` steps of every host of `series`, in `table`.
    pub fn new(table: TsbsTable, series: &'a TimeSeriesGenerator, steps: u64) -> Self {
        let end_ms = series.time_of(steps.max(1));
        Self {
            table,
            series,
            end_ms,
        }
    }

    fn window<R: Rng>(&self, rng: &mut R, span: Duration) -> Window {
        let span = i64::try_from(span.as_millis()).unwrap_or(i64::MAX);
        let first = self.series.start_ms();
        let latest_start = self.end_ms.saturating_sub(span).max(first);
        let start_ms = rng.gen_range(first..=latest_start);
        Window::Between {
            start_ms,
            end_ms: start_ms + span,
        }
    }

    fn hosts<R: Rng>(&self, rng: &mut R, n: usize) -> Vec<String> {
        let total = self.series.hosts() as usize;
        let n = n.min(total);
        let mut picked: Vec<usize> = sample(rng, total, n).into_vec();
        picked.sort_unstable();
        picked
            .into_iter()
            .map(|h| self.series.host_key(h as u64))
            .collect()
    }

    /// One statement of kind `q`, with hosts and window drawn from `rng`.
    pub fn statement<R: Rng>(&self, q: TsbsQuery, rng: &mut R) -> String {
        let names = self.series.metric_names();
        let metrics =
            |n: usize| -> Vec<&str> { names.iter().take(n.max(1)).map(String::as_str).collect() };
        let window = self.window(rng, q.span());
        match q {
            TsbsQuery::SingleGroupby {
                metrics: m, hosts, ..
            } => {
                let h = self.hosts(rng, hosts);
                let h: Vec<&str> = h.iter().map(String::as_str).collect();
                single_groupby(&self.table, &metrics(m), &h, window)
            }
            TsbsQuery::MaxAll { hosts } => {
                let h = self.hosts(rng, hosts);
                let h: Vec<&str> = h.iter().map(String::as_str).collect();
                max_all(&self.table, &metrics(names.len()), &h, window)
            }
            TsbsQuery::HighCpu { hosts } => {
                let h = self.hosts(rng, hosts);
                let h: Vec<&str> = h.iter().map(String::as_str).collect();
                high_cpu(&self.table, 90.0, &h, window)
            }
            TsbsQuery::Lastpoint => lastpoint(&self.table, &metrics(names.len()), window),
            TsbsQuery::GroupbyOrderbyLimit => {
                groupby_orderby_limit(&self.table, &names[0], window, 5)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::keys::KeyFormatter;
    use crate::workload::timeseries::TimeSeriesOptions;
    use rand::SeedableRng;

    fn table(mapping: Mapping) -> TsbsTable {
        TsbsTable {
            database: "db".into(),
            table: "cpu".into(),
            host_column: "hostname".into(),
            mapping,
        }
    }

    #[test]
    fn statements_for_both_layouts() {
        let w = Window::Between {
            start_ms: 0,
            end_ms: 3_600_000,
        };
        let t = table(Mapping::Multi);
        assert_eq!(
            high_cpu(&t, 90.0, &[], w),
            "SELECT * FROM \"db\".\"cpu\" WHERE time >= from_milliseconds(0) AND time < from_milliseconds(3600000) \
             AND \"usage_user\" > 90.0"
        );
        assert_eq!(
            lastpoint(&t, &["usage_user", "usage_system"], w),
            "SELECT \"hostname\", max(time) AS time, max_by(\"usage_user\", time) AS \"usage_user\", \
             max_by(\"usage_system\", time) AS \"usage_system\" FROM \"db\".\"cpu\" WHERE time >= from_milliseconds(0) \
             AND time < from_milliseconds(3600000) GROUP BY \"hostname\" ORDER BY \"hostname\""
        );
        let q = max_all(&t, &["a", "b"], &["h1", "h2"], w);
        assert!(
            q.starts_with(
                "SELECT bin(time, 1h) AS t, max(\"a\") AS \"max_a\", max(\"b\") AS \"max_b\""
            ),
            "{q}"
        );
        assert!(q.contains("\"hostname\" IN ('h1', 'h2')"), "{q}");

        let s = table(Mapping::Single);
        let q = single_groupby(&s, &["usage_user"], &["h1"], w);
        assert!(q.contains("max(CASE WHEN measure_name = 'usage_user' THEN measure_value::double END) AS \"max_usage_user\""), "{q}");
        assert!(q.contains("measure_name IN ('usage_user')"), "{q}");
        let q = groupby_orderby_limit(&s, "usage_user", w, 5);
        assert!(
            q.ends_with("GROUP BY bin(time, 1m) ORDER BY t DESC LIMIT 5"),
            "{q}"
        );
        let q = high_cpu(&s, 90.0, &["h"], w);
        assert!(q.ends_with("measure_value::double > 90.0"), "{q}");
    }

    #[test]
    fn generated_queries_use_written_hosts_and_windows() {
        let o = TimeSeriesOptions {
            metrics: 10,
            ..Default::default()
        };
        let g = TimeSeriesGenerator::new(&o, 20, KeyFormatter::new("host"), 0);
        // 20 hosts × 8640 steps of 10 s: 24 hours.
        let qs = TsbsQueries::new(table(Mapping::Multi), &g, 8640);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        for _ in 0..20 {
            let q = qs.statement(
                TsbsQuery::SingleGroupby {
                    metrics: 5,
                    hosts: 8,
                    hours: 12,
                },
                &mut rng,
            );
            assert_eq!(q.matches("'host0000000000").count(), 8, "{q}");
            let start: i64 = q
                .split("from_milliseconds(")
                .nth(1)
                .unwrap()
                .split(')')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert!((0..=12 * 3_600_000).contains(&start), "{q}");
            assert!(
                !q.contains("max(\"usage_guest\")") && q.contains("max(\"usage_iowait\")"),
                "{q}"
            );
        }
        let names: Vec<String> = devops_statements(&table(Mapping::Multi), g.metric_names())
            .into_iter()
            .map(|(n, s)| {
                assert!(s.contains("time >= ago("), "{s}");
                n
            })
            .collect();
        assert_eq!(
            names,
            [
                "single-groupby-1-1-1",
                "single-groupby-5-1-1",
                "cpu-max-all-1",
                "high-cpu-1",
                "high-cpu-all",
                "lastpoint",
                "groupby-orderby-limit"
            ]
        );
    }
}
