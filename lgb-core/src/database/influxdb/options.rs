//! The `influxdb` adapter's options: which API, where the server is, which database
//! (or org and bucket), the token's source (never printed), batching and retries,
//! checked without connecting.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::line::{check_name, NameKind, Precision};
use crate::database::{AdapterOptions, Capabilities};
use crate::error::ConfigProblem;
use crate::record::QueryKind;
use crate::units::{ByteSize, HumanDuration};

/// Which InfluxDB HTTP API the adapter speaks.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// `/write` and InfluxQL `/query`: served by InfluxDB 1.x, by InfluxDB 2.x (v1
    /// compatibility) and by InfluxDB 3, so every Timestream for InfluxDB engine
    /// takes it. The default.
    #[default]
    V1,
    /// `/api/v2/write` with org and bucket (InfluxDB 2.x and 3); queries are InfluxQL
    /// over the v1-compatible `/query` with the bucket as database.
    V2,
    /// `/api/v3/write_lp`, and SQL (`/api/v3/query_sql`) or InfluxQL
    /// (`/api/v3/query_influxql`): InfluxDB 3 Core and Enterprise only.
    V3,
}

impl Api {
    /// The name used in config and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::V1 => "v1",
            Api::V2 => "v2",
            Api::V3 => "v3",
        }
    }
}

/// The language of `read`, `latest`, `time_range` and `native` queries.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum QueryLanguage {
    /// InfluxQL: the only language of the v1 and v2 APIs (the default there).
    #[default]
    Influxql,
    /// SQL: the v3 API only (the default there).
    Sql,
}

/// A token that never shows itself: `Debug` prints `[REDACTED]`.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Token(pub(super) String);

impl Token {
    /// Wraps a token.
    pub fn new(t: impl Into<String>) -> Self {
        Self(t.into())
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Options of the `influxdb` adapter. At most one of `token`, `token_env` and
/// `token_secret_id` may be given; none sends no `Authorization` header (a local
/// InfluxDB 1.x without authentication).
///
/// ```json
/// {"type": "influxdb", "endpoint": "http://127.0.0.1:8086", "api": "v1",
///  "database": "lgb", "measurement": "cpu", "key_tag": "hostname",
///  "token_env": "LGB_SECRET_INFLUXDB_TOKEN", "create_database_if_missing": true}
/// ```
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InfluxdbOptions {
    /// Base URL of the HTTP API, `http(s)://host:port` (Timestream for InfluxDB
    /// listens on 8086 with TLS).
    pub endpoint: String,
    /// `v1` (default: every engine has it), `v2` or `v3`.
    #[serde(default)]
    pub api: Api,
    /// Database of the v1 and v3 APIs (the v2 API's `bucket` when `bucket` is unset).
    #[serde(default)]
    pub database: Option<String>,
    /// Retention policy of the v1 API (`rp`); default the database's default.
    #[serde(default)]
    pub retention_policy: Option<String>,
    /// Organization of the v2 API (name).
    #[serde(default)]
    pub org: Option<String>,
    /// Bucket of the v2 API; its InfluxQL queries go to the database of this name.
    #[serde(default)]
    pub bucket: Option<String>,
    /// The token itself. It is copied into results with the rest of the config:
    /// prefer `token_env` or `token_secret_id` outside local tests.
    #[serde(default)]
    pub token: Option<Token>,
    /// Name of an environment variable holding the token; it must start with
    /// `LGB_SECRET_` ([`crate::database::SECRET_ENV_PREFIX`]).
    #[serde(default)]
    pub token_env: Option<String>,
    /// AWS Secrets Manager secret id or ARN: the token as plain text, or a JSON
    /// object with a string `token`.
    #[serde(default)]
    pub token_secret_id: Option<String>,
    /// Endpoint override for Secrets Manager (local tests).
    #[serde(default)]
    pub secrets_manager_endpoint: Option<String>,
    /// Measurement written and read.
    #[serde(default = "default_measurement")]
    pub measurement: String,
    /// The tag that holds the record key (TSBS: `hostname`).
    #[serde(default = "default_key_tag")]
    pub key_tag: String,
    /// Tags added to every point (for example the benchmark's name).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Precision of the timestamps sent: `ns`, `us`, `ms` (default: lgb's own unit,
    /// exact) or `s` (record times are rounded down).
    #[serde(default)]
    pub precision: Precision,
    /// Language of the adapter's own queries and of `native` statements: `influxql`
    /// (v1, v2 and v3) or `sql` (v3 only). Default: `sql` on v3, else `influxql`.
    #[serde(default)]
    pub query_language: Option<QueryLanguage>,
    /// Compress write bodies with gzip (`Content-Encoding: gzip`).
    #[serde(default)]
    pub gzip: bool,
    /// Most points in one write request; larger batches are split.
    #[serde(default = "default_batch_points")]
    pub batch_points: usize,
    /// Most bytes of line protocol in one write request (before gzip); larger batches
    /// are split, and a single point larger than this is refused before sending.
    #[serde(default = "default_batch_bytes")]
    pub batch_bytes: ByteSize,
    /// Retries of a throttled request (429, 503) before it counts as `throttled`.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// First retry delay; doubled per retry, with full jitter, at most 5 s (a
    /// `Retry-After` of the server is honoured up to the same limit).
    #[serde(default = "default_backoff")]
    pub retry_backoff: HumanDuration,
    /// Connect timeout of the HTTP client.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// Deadline of one HTTP request (each retry has its own); a slower one is a
    /// `timeout`. None: only the test's per-operation `timeout` applies.
    #[serde(default)]
    pub request_timeout: Option<HumanDuration>,
    /// How far back `read` and `latest` queries look for a series' newest point.
    #[serde(default = "default_lookback")]
    pub lookback: HumanDuration,
    /// v3 only: let the server write the good lines of a request that has bad ones
    /// (`accept_partial`); the bad ones are counted as rejected.
    #[serde(default = "default_true")]
    pub accept_partial: bool,
    /// Create the database (v1, v3) or bucket (v2) when it does not exist: for local
    /// and test use; the deployment's worker is not allowed to.
    #[serde(default)]
    pub create_database_if_missing: bool,
}

fn default_measurement() -> String {
    "lgb".into()
}
fn default_key_tag() -> String {
    "key".into()
}
fn default_batch_points() -> usize {
    5000
}
fn default_batch_bytes() -> ByteSize {
    ByteSize(4 << 20)
}
fn default_retries() -> u32 {
    5
}
fn default_backoff() -> HumanDuration {
    HumanDuration::millis(50)
}
fn default_connect_timeout() -> HumanDuration {
    HumanDuration::secs(3)
}
fn default_lookback() -> HumanDuration {
    HumanDuration::secs(24 * 3600)
}
fn default_true() -> bool {
    true
}

/// Query kinds of the `influxdb` adapter on every API.
pub(super) const QUERIES: [QueryKind; 3] =
    [QueryKind::Latest, QueryKind::TimeRange, QueryKind::Native];

impl InfluxdbOptions {
    /// Options for `endpoint` and `database` on the v1 API, with every default.
    pub fn new(endpoint: impl Into<String>, database: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            api: Api::V1,
            database: Some(database.into()),
            retention_policy: None,
            org: None,
            bucket: None,
            token: None,
            token_env: None,
            token_secret_id: None,
            secrets_manager_endpoint: None,
            measurement: default_measurement(),
            key_tag: default_key_tag(),
            tags: BTreeMap::new(),
            precision: Precision::default(),
            query_language: None,
            gzip: false,
            batch_points: default_batch_points(),
            batch_bytes: default_batch_bytes(),
            max_retries: default_retries(),
            retry_backoff: default_backoff(),
            connect_timeout: default_connect_timeout(),
            request_timeout: None,
            lookback: default_lookback(),
            accept_partial: true,
            create_database_if_missing: false,
        }
    }

    /// The query language in effect: the option, or the API's default.
    pub fn language(&self) -> QueryLanguage {
        self.query_language.unwrap_or(match self.api {
            Api::V3 => QueryLanguage::Sql,
            Api::V1 | Api::V2 => QueryLanguage::Influxql,
        })
    }

    /// The database InfluxQL queries name: `database`, or on v2 the bucket.
    pub fn query_database(&self) -> &str {
        match self.api {
            Api::V2 => self
                .bucket
                .as_deref()
                .or(self.database.as_deref())
                .unwrap_or(""),
            Api::V1 | Api::V3 => self.database.as_deref().unwrap_or(""),
        }
    }
}

/// Why `url` is not an `http(s)://host[:port][/path]` the adapter can send to.
pub(super) fn url_problem(url: &str) -> Option<String> {
    match reqwest::Url::parse(url) {
        Ok(u) if !matches!(u.scheme(), "http" | "https") => {
            Some(format!("`{url}`: the scheme must be http or https"))
        }
        Ok(u) if u.host_str().is_none_or(str::is_empty) => Some(format!("`{url}` names no host")),
        Ok(u) if u.query().is_some() || u.fragment().is_some() => {
            Some(format!("`{url}`: give the base URL, without `?` or `#`"))
        }
        Ok(u) if !u.username().is_empty() || u.password().is_some() => Some(
            "must not hold credentials: give the token with `token_env` or `token_secret_id`"
                .into(),
        ),
        Ok(_) => None,
        Err(e) => Some(format!(
            "`{}` is not an http(s) URL: {e}",
            crate::redact::redact(url)
        )),
    }
}

impl AdapterOptions for InfluxdbOptions {
    /// The server the points go to and where the token comes from.
    const DESTINATIONS: &'static [&'static str] = &[
        "endpoint",
        "api",
        "database",
        "retention_policy",
        "org",
        "bucket",
        "token_secret_id",
        "secrets_manager_endpoint",
    ];

    /// What `connect` refuses before it sends anything, paths under `database`.
    fn problems(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let mut add = |path: &str, msg: String| out.push(ConfigProblem::new(path, msg));
        if let Some(m) = url_problem(&self.endpoint) {
            add("endpoint", m);
        }
        let sources = [
            self.token.is_some(),
            self.token_env.is_some(),
            self.token_secret_id.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() > 1 {
            add(
                "token",
                "set at most one of `token`, `token_env` and `token_secret_id`".into(),
            );
        }
        if let Some(why) = self
            .token_env
            .as_deref()
            .and_then(crate::database::secret_env_problem)
        {
            add("token_env", why);
        }
        if let Some(e) = &self.secrets_manager_endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                add(
                    "secrets_manager_endpoint",
                    format!("`{e}` is not an http:// or https:// URL"),
                );
            }
        }
        let empty = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
        match self.api {
            Api::V1 | Api::V3 => {
                if empty(&self.database) {
                    add(
                        "database",
                        format!("the {} API needs a `database`", self.api.as_str()),
                    );
                }
                for (path, v) in [("org", &self.org), ("bucket", &self.bucket)] {
                    if v.is_some() {
                        add(
                            path,
                            format!(
                                "is an option of the v2 API; the {} API writes to `database`",
                                self.api.as_str()
                            ),
                        );
                    }
                }
            }
            Api::V2 => {
                if empty(&self.org) {
                    add("org", "the v2 API needs an `org`".into());
                }
                if empty(&self.bucket) && empty(&self.database) {
                    add("bucket", "the v2 API needs a `bucket`".into());
                }
            }
        }
        if self.retention_policy.is_some() && self.api != Api::V1 {
            add(
                "retention_policy",
                "is an option of the v1 API (InfluxDB 2 and 3 map buckets and databases themselves)"
                    .into(),
            );
        }
        if self.language() == QueryLanguage::Sql && self.api != Api::V3 {
            add(
                "query_language",
                format!(
                    "SQL is served by the v3 API only; the {} API has InfluxQL",
                    self.api.as_str()
                ),
            );
        }
        if let Some(m) = check_name(NameKind::Measurement, &self.measurement) {
            add("measurement", m);
        }
        if let Some(m) = check_name(NameKind::TagKey, &self.key_tag) {
            add("key_tag", m);
        }
        for (k, v) in &self.tags {
            if let Some(m) = check_name(NameKind::TagKey, k) {
                add(&format!("tags.{k}"), m);
            } else if k == &self.key_tag {
                add(&format!("tags.{k}"), "is the key tag".into());
            } else if v.is_empty() {
                add(
                    &format!("tags.{k}"),
                    "has an empty value (line protocol has no empty tag values)".into(),
                );
            } else if let Some(m) = check_name(NameKind::TagValue, v) {
                add(&format!("tags.{k}"), m);
            }
        }
        if self.batch_points == 0 {
            add("batch_points", "must be at least 1".into());
        }
        if self.batch_bytes.0 < 1024 {
            add("batch_bytes", "must be at least 1KiB".into());
        }
        if self.lookback.0.is_zero() {
            add("lookback", "must be above 0".into());
        }
        if self.retry_backoff.0.is_zero() && self.max_retries > 0 {
            add(
                "retry_backoff",
                "must be above 0 when retries are made".into(),
            );
        }
        out
    }

    /// The same for every API: batches of `batch_points`, latest, time-range and
    /// native queries (no key ranges: InfluxDB compares tags only for equality and
    /// patterns, so YCSB's `scan` is refused).
    fn capabilities(&self) -> Option<Capabilities> {
        Some(Capabilities {
            max_batch_size: self.batch_points.max(1),
            queries: QUERIES.to_vec(),
            max_item_bytes: usize::try_from(self.batch_bytes.0).ok(),
            reads_records: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(o: &InfluxdbOptions) -> Vec<String> {
        o.problems().into_iter().map(|p| p.path).collect()
    }

    #[test]
    fn defaults_pass_and_bad_options_name_their_paths() {
        let o = InfluxdbOptions::new("http://127.0.0.1:8086", "lgb");
        assert!(o.problems().is_empty(), "{:?}", o.problems());
        assert_eq!(o.language(), QueryLanguage::Influxql);

        let mut o = InfluxdbOptions::new("127.0.0.1:8086", "lgb");
        o.token = Some(Token::new("t"));
        o.token_env = Some("AWS_SECRET_ACCESS_KEY".into());
        o.org = Some("o".into());
        o.query_language = Some(QueryLanguage::Sql);
        o.key_tag = "time".into();
        o.tags.insert("bench".into(), "a\nb".into());
        o.batch_points = 0;
        assert_eq!(
            paths(&o),
            [
                "endpoint",
                "token",
                "token_env",
                "org",
                "query_language",
                "key_tag",
                "tags.bench",
                "batch_points"
            ]
        );
    }

    #[test]
    fn each_api_needs_its_own_names() {
        let mut o = InfluxdbOptions::new("https://db.example:8086", "lgb");
        o.api = Api::V2;
        o.database = None;
        assert_eq!(paths(&o), ["org", "bucket"]);
        o.org = Some("lgb".into());
        o.bucket = Some("bench".into());
        assert!(paths(&o).is_empty());
        assert_eq!(o.query_database(), "bench");
        o.api = Api::V3;
        assert_eq!(paths(&o), ["database", "org", "bucket"]);
        let o = InfluxdbOptions {
            api: Api::V3,
            ..InfluxdbOptions::new("http://h:1", "db")
        };
        assert_eq!(o.language(), QueryLanguage::Sql);
        assert!(o.problems().is_empty());
    }

    #[test]
    fn credentials_in_the_url_are_refused_without_being_printed() {
        let o = InfluxdbOptions::new("http://admin:s3cret@127.0.0.1:8086", "lgb");
        let p = o.problems();
        assert_eq!(p[0].path, "endpoint");
        assert!(!p[0].message.contains("s3cret"), "{}", p[0].message);
        assert!(!format!("{:?}", Token::new("s3cret")).contains("s3cret"));
    }
}
