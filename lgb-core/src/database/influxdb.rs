//! The `influxdb` adapter: InfluxDB 1.x, 2.x and 3 (Amazon Timestream for InfluxDB)
//! over HTTP, with lgb's own line-protocol encoder ([`line`]) and the HTTP client lgb
//! already has (reqwest with rustls).
//!
//! * A record is a point of measurement `measurement`: its key is the tag `key_tag`,
//!   [`Record::dimensions`] and the options' `tags` are tags, its fields are fields
//!   (Int → `1i`, Float, Bool, Str; Bytes are refused), and [`Record::timestamp`]
//!   (milliseconds) its time, sent in `precision` (the time of the call when a record
//!   has none).
//! * `api` chooses the endpoints: `v1` (`/write`, InfluxQL `/query`; every engine has
//!   it, so it is the default), `v2` (`/api/v2/write` with org and bucket; InfluxQL
//!   over `/query` with the bucket as database) or `v3` (`/api/v3/write_lp`; SQL over
//!   `/api/v3/query_sql` or InfluxQL over `/api/v3/query_influxql`). The token, when
//!   there is one, goes in `Authorization: Token …`; it comes from `token_env` (an
//!   `LGB_SECRET_*` variable) or `token_secret_id` (Secrets Manager) and is never
//!   printed.
//! * `batch_write` splits into requests of at most `batch_points` points and
//!   `batch_bytes` bytes, optionally gzipped. Points that line protocol cannot carry
//!   are listed as `rejected` before anything is sent. A request the server takes in
//!   part (`partial write … dropped=N` on v1/v2, the `data` lines of v3) lists the
//!   points it names as `rejected`; when it does not say which points it dropped,
//!   every point it did not name is counted as not written, never as written.
//! * 429 and 503 are retried with exponential backoff and full jitter (or the
//!   server's `Retry-After`), then counted as `throttled`; another 4xx is `rejected`
//!   with InfluxDB's message; a 5xx is `backend`.
//! * `read(key)` is the newest point of the series within `lookback`; `latest`,
//!   `time_range` and `native` queries are InfluxQL, or SQL on v3 ([`query`] builds
//!   them, with the TSBS queries).
//! * `create_database_if_missing` creates the database (v1: `CREATE DATABASE`, v3:
//!   `/api/v3/configure/database`) or the bucket (v2: `/api/v2/buckets`).

pub mod line;
mod options;
pub mod query;
pub mod response;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use serde::Deserialize;

use super::{
    AdapterOptions, BatchOutcome, Capabilities, Database, ItemFailure, OpMeta, QueryOutcome,
    ReadOutcome,
};
use crate::error::{Error, ErrorClass, Result};
use crate::record::{Query, Record};
use crate::redact::redact;
use line::{Chunk, LineEncoder};
use query::Statements;
use response::{Dropped, RowShape};

pub use options::{Api, InfluxdbOptions, QueryLanguage, Token};

/// Most queries one `read_many` (a `parallel_read`) has in flight at once.
pub const PARALLEL_READS: usize = 16;

/// Largest query answer read, in bytes; a larger one is an error, not a truncation.
pub const MAX_QUERY_RESPONSE: usize = 256 << 20;

/// Largest error body read, in bytes.
const MAX_ERROR_BODY: usize = 64 << 10;

/// The `influxdb` adapter.
#[derive(Debug)]
pub struct InfluxdbDatabase {
    http: reqwest::Client,
    write_url: reqwest::Url,
    query_url: reqwest::Url,
    auth: Option<reqwest::header::HeaderValue>,
    encoder: LineEncoder,
    statements: Statements,
    tag_columns: Vec<String>,
    options: InfluxdbOptions,
}

/// The token: from the options, an `LGB_SECRET_*` variable, or Secrets Manager.
async fn resolve_token(o: &InfluxdbOptions) -> Result<Option<Token>> {
    if let Some(t) = &o.token {
        return Ok(Some(t.clone()));
    }
    if let Some(var) = &o.token_env {
        return Ok(Some(Token(crate::database::read_secret_env(
            var,
            "database.token_env",
        )?)));
    }
    match &o.token_secret_id {
        Some(id) => secret_token(id, o.secrets_manager_endpoint.as_deref())
            .await
            .map(Some),
        None => Ok(None),
    }
}

/// The token from AWS Secrets Manager: the secret's text, or its JSON `token`.
async fn secret_token(id: &str, endpoint: Option<&str>) -> Result<Token> {
    let text = &super::secret_text(id, endpoint, "database.token_secret_id").await?;
    #[derive(Deserialize)]
    struct JsonSecret {
        token: String,
    }
    match serde_json::from_str::<JsonSecret>(text) {
        Ok(s) => Ok(Token(s.token)),
        Err(_) if text.trim_start().starts_with('{') => Err(Error::config(
            "database.token_secret_id",
            format!("secret `{id}` is a JSON object without a string `token`"),
        )),
        Err(_) => Ok(Token(text.trim().to_string())),
    }
}

/// `base` + `path` (keeping a path prefix of the base), with `params`.
fn url(base: &str, path: &str, params: &[(&str, &str)]) -> Result<reqwest::Url> {
    let mut u = reqwest::Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
        .map_err(|e| Error::config("database.endpoint", format!("not a URL: {e}")))?;
    if !params.is_empty() {
        u.query_pairs_mut().extend_pairs(params);
    }
    Ok(u)
}

/// `application/x-www-form-urlencoded` text of `pairs`.
fn form(pairs: &[(&str, &str)]) -> String {
    let mut u = reqwest::Url::parse("x:/").expect("a constant URL parses");
    u.query_pairs_mut().extend_pairs(pairs);
    u.query().unwrap_or("").to_string()
}

fn http_error(what: &str, e: &reqwest::Error) -> Error {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    let msg = redact(&format!("InfluxDB {what}: {detail}"));
    if e.is_timeout() {
        Error::Timeout(msg)
    } else if e.is_connect() {
        Error::Connect(msg)
    } else {
        Error::Backend(msg)
    }
}

/// Reads at most `limit` bytes of a body; a longer one is an error.
async fn read_body(mut r: reqwest::Response, limit: usize, what: &str) -> Result<Vec<u8>> {
    let mut body = Vec::with_capacity(r.content_length().unwrap_or(0).min(limit as u64) as usize);
    while let Some(chunk) = r.chunk().await.map_err(|e| http_error(what, &e))? {
        if body.len() + chunk.len() > limit {
            return Err(Error::Backend(format!(
                "InfluxDB {what}: the answer is larger than {}",
                crate::units::ByteSize(limit as u64)
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The class of a failed response: 429 and 503 are throttling, another 4xx a
/// rejection, anything else the backend's.
fn status_error(status: reqwest::StatusCode, what: &str, message: &str) -> Error {
    let text = format!("InfluxDB {what} failed with {status}: {message}");
    match status.as_u16() {
        429 | 503 => Error::Throttled(text),
        400..=499 => Error::Rejected(text),
        _ => Error::Backend(text),
    }
}

/// The server's `Retry-After`, in seconds.
fn retry_after(r: &reqwest::Response) -> Option<Duration> {
    let v = r
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl InfluxdbDatabase {
    /// Resolves the token, builds the HTTP client and, when asked, creates the
    /// database or bucket. Without `create_database_if_missing` nothing is sent until
    /// the first operation.
    pub async fn connect(options: InfluxdbOptions) -> Result<Self> {
        options.check()?;
        let token = resolve_token(&options).await?;
        let auth = match token {
            Some(t) => {
                let mut v = reqwest::header::HeaderValue::from_str(&format!("Token {}", t.0))
                    .map_err(|_| {
                        Error::config(
                            "database.token",
                            "the token holds characters an HTTP header cannot carry",
                        )
                    })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout.0)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Internal(format!("building the HTTP client: {e}")))?;
        let ep = options.endpoint.as_str();
        let db = options.database.clone().unwrap_or_default();
        let p = options.precision;
        let (write_url, query_url) = match options.api {
            Api::V1 => {
                let mut params = vec![("db", db.as_str()), ("precision", p.v1())];
                if let Some(rp) = &options.retention_policy {
                    params.push(("rp", rp));
                }
                (url(ep, "/write", &params)?, url(ep, "/query", &[])?)
            }
            Api::V2 => {
                let org = options.org.clone().unwrap_or_default();
                let bucket = options.query_database().to_string();
                (
                    url(
                        ep,
                        "/api/v2/write",
                        &[("org", &org), ("bucket", &bucket), ("precision", p.v2())],
                    )?,
                    url(ep, "/query", &[])?,
                )
            }
            Api::V3 => {
                let mut params = vec![("db", db.as_str()), ("precision", p.v3())];
                if !options.accept_partial {
                    params.push(("accept_partial", "false"));
                }
                let q = match options.language() {
                    QueryLanguage::Sql => "/api/v3/query_sql",
                    QueryLanguage::Influxql => "/api/v3/query_influxql",
                };
                (url(ep, "/api/v3/write_lp", &params)?, url(ep, q, &[])?)
            }
        };
        let max_point = usize::try_from(options.batch_bytes.0).unwrap_or(usize::MAX);
        let encoder = LineEncoder::new(
            &options.measurement,
            &options.key_tag,
            options.tags.iter(),
            options.precision,
            max_point,
        );
        let mut tag_columns: Vec<String> = options.tags.keys().cloned().collect();
        tag_columns.extend(
            crate::workload::timeseries::DIMENSIONS
                .iter()
                .map(|d| d.to_string()),
        );
        let statements = Statements {
            measurement: options.measurement.clone(),
            key_tag: options.key_tag.clone(),
            language: options.language(),
            api: options.api,
            lookback: options.lookback.0,
        };
        let db = Self {
            http,
            write_url,
            query_url,
            auth,
            encoder,
            statements,
            tag_columns,
            options,
        };
        if db.options.create_database_if_missing {
            db.create_database().await?;
        }
        Ok(db)
    }

    /// The URL writes go to (with its parameters).
    pub fn write_url(&self) -> &str {
        self.write_url.as_str()
    }

    fn request(&self, method: reqwest::Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        let mut b = self.http.request(method, url);
        if let Some(a) = &self.auth {
            b = b.header(reqwest::header::AUTHORIZATION, a.clone());
        }
        if let Some(t) = self.options.request_timeout {
            b = b.timeout(t.0);
        }
        b
    }

    fn backoff(&self, retry: u32, server: Option<Duration>) -> Duration {
        let cap = Duration::from_secs(5);
        if let Some(s) = server {
            return s.min(cap);
        }
        let max = self
            .options
            .retry_backoff
            .0
            .saturating_mul(1u32 << retry.min(16))
            .min(cap);
        max.mul_f64(rand::thread_rng().gen::<f64>())
    }

    /// Sends a request built by `make`, retrying 429 and 503; the successful response,
    /// or the failed one's status and body when `keep_failure` says it is to be read
    /// by the caller.
    async fn send(
        &self,
        what: &str,
        retries: &mut u32,
        make: impl Fn() -> reqwest::RequestBuilder,
        keep_failure: impl Fn(reqwest::StatusCode) -> bool,
    ) -> Result<std::result::Result<reqwest::Response, (reqwest::StatusCode, Vec<u8>)>> {
        loop {
            let r = make().send().await.map_err(|e| http_error(what, &e))?;
            let status = r.status();
            if status.is_success() {
                return Ok(Ok(r));
            }
            let wait = retry_after(&r);
            let header_msg = r
                .headers()
                .get("x-influxdb-error")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = read_body(r, MAX_ERROR_BODY, what).await.unwrap_or_default();
            let throttled = matches!(status.as_u16(), 429 | 503);
            if throttled && *retries < self.options.max_retries {
                tokio::time::sleep(self.backoff(*retries, wait)).await;
                *retries += 1;
                continue;
            }
            if !throttled && keep_failure(status) {
                return Ok(Err((status, body)));
            }
            let mut message = response::error_message(&body);
            if message.is_empty() {
                message = header_msg.unwrap_or_default();
            }
            let err = status_error(status, what, &message);
            return Err(match err {
                Error::Throttled(m) => {
                    Error::Throttled(format!("{m} (after {} retries)", *retries))
                }
                other => other,
            });
        }
    }

    /// Writes one request; the lines the server did not write.
    async fn write_chunk(
        &self,
        chunk: &mut Chunk,
        records: &[Record],
        meta: &mut OpMeta,
    ) -> Result<Option<Dropped>> {
        let body: bytes::Bytes = if self.options.gzip {
            use std::io::Write as _;
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(chunk.body.len() / 4),
                flate2::Compression::fast(),
            );
            gz.write_all(&chunk.body)
                .and_then(|_| gz.finish())
                .map(bytes::Bytes::from)
                .map_err(|e| Error::Internal(format!("gzip of a write body: {e}")))?
        } else {
            // The body moves into the request without a copy; it comes back below
            // only when a partial write's lines must be looked up.
            bytes::Bytes::from(std::mem::take(&mut chunk.body))
        };
        let sent = body.clone();
        meta.bytes = meta.bytes.saturating_add(body.len() as u64);
        let answer = self
            .send(
                "write",
                &mut meta.retries,
                || {
                    let mut b = self
                        .request(reqwest::Method::POST, self.write_url.clone())
                        .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                        .body(body.clone());
                    if self.options.gzip {
                        b = b.header(reqwest::header::CONTENT_ENCODING, "gzip");
                    }
                    b
                },
                |s| matches!(s.as_u16(), 400 | 422),
            )
            .await?;
        let (status, body) = match answer {
            Ok(_) => return Ok(None),
            Err(failed) => failed,
        };
        if chunk.body.is_empty() {
            chunk.body = sent.to_vec();
        }
        let partial = match self.options.api {
            Api::V3 => response::partial_v3(&body, chunk.owners.len()),
            Api::V1 | Api::V2 => {
                response::partial_v1(&response::error_message(&body), chunk, records)
            }
        };
        match partial {
            Some(d) => Ok(Some(d)),
            None => Err(status_error(
                status,
                "write",
                &response::error_message(&body),
            )),
        }
    }

    /// Runs `statement` and returns its records and cost.
    pub async fn query_records(&self, statement: &str) -> Result<(Vec<Record>, OpMeta)> {
        let mut meta = OpMeta::default();
        let db = self.options.query_database().to_string();
        let json_v3;
        let form_v1;
        let v3 = self.options.api == Api::V3;
        if v3 {
            json_v3 = bytes::Bytes::from(
                serde_json::to_vec(
                    &serde_json::json!({"db": db, "q": statement, "format": "json"}),
                )
                .map_err(|e| Error::Internal(e.to_string()))?,
            );
            form_v1 = bytes::Bytes::new();
        } else {
            let mut pairs = vec![("db", db.as_str()), ("q", statement), ("epoch", "ms")];
            if let Some(rp) = &self.options.retention_policy {
                pairs.push(("rp", rp));
            }
            form_v1 = bytes::Bytes::from(form(&pairs));
            json_v3 = bytes::Bytes::new();
        }
        meta.bytes = (json_v3.len() + form_v1.len()) as u64;
        let r = self
            .send(
                "query",
                &mut meta.retries,
                || {
                    let b = self.request(reqwest::Method::POST, self.query_url.clone());
                    if v3 {
                        b.header(reqwest::header::CONTENT_TYPE, "application/json")
                            .body(json_v3.clone())
                    } else {
                        b.header(
                            reqwest::header::CONTENT_TYPE,
                            "application/x-www-form-urlencoded",
                        )
                        .body(form_v1.clone())
                    }
                },
                |_| false,
            )
            .await?
            .map_err(|_| Error::Internal("a kept failure where none was asked for".into()))?;
        let body = read_body(r, MAX_QUERY_RESPONSE, "query").await?;
        meta.bytes = meta.bytes.saturating_add(body.len() as u64);
        let tags: Vec<&str> = self.tag_columns.iter().map(String::as_str).collect();
        let shape = RowShape {
            key_tag: &self.options.key_tag,
            tag_columns: &tags,
        };
        let records = if v3 {
            response::v3_records(&body, &shape)
                .map_err(|m| Error::Backend(format!("InfluxDB query: {m}")))?
        } else {
            let series = response::influxql_series(&body).map_err(|m| {
                if m.starts_with("the query answer") {
                    Error::Backend(format!("InfluxDB query: {m}"))
                } else {
                    Error::Rejected(format!("InfluxDB query failed: {m}"))
                }
            })?;
            response::series_records(&series, &shape)
        };
        meta.items = records.len() as u64;
        Ok((records, meta))
    }

    /// Creates the database (v1, v3) or bucket (v2) when it does not exist.
    async fn create_database(&self) -> Result<()> {
        let ep = self.options.endpoint.as_str();
        let mut retries = 0;
        match self.options.api {
            Api::V1 => {
                let name = self.options.query_database().to_string();
                let body = form(&[("q", &Statements::create_database(&name))]);
                let r = self
                    .send(
                        "CREATE DATABASE",
                        &mut retries,
                        || {
                            self.request(reqwest::Method::POST, self.query_url.clone())
                                .header(
                                    reqwest::header::CONTENT_TYPE,
                                    "application/x-www-form-urlencoded",
                                )
                                .body(body.clone())
                        },
                        |_| false,
                    )
                    .await?
                    .map_err(|_| Error::Internal("unexpected kept failure".into()))?;
                let answer = read_body(r, MAX_ERROR_BODY, "CREATE DATABASE").await?;
                response::influxql_series(&answer)
                    .map_err(|m| Error::Rejected(format!("InfluxDB CREATE DATABASE: {m}")))?;
            }
            Api::V3 => {
                let name = self.options.query_database().to_string();
                let u = url(ep, "/api/v3/configure/database", &[])?;
                let body = serde_json::json!({"db": name}).to_string();
                let r = self
                    .send(
                        "create database",
                        &mut retries,
                        || {
                            self.request(reqwest::Method::POST, u.clone())
                                .header(reqwest::header::CONTENT_TYPE, "application/json")
                                .body(body.clone())
                        },
                        |s| s.as_u16() == 409,
                    )
                    .await?;
                if r.is_err() {
                    tracing::debug!(database = %name, "InfluxDB 3 database exists");
                }
            }
            Api::V2 => self.create_bucket(&mut retries).await?,
        }
        tracing::info!(database = %self.options.query_database(), api = self.options.api.as_str(), "InfluxDB database ready");
        Ok(())
    }

    async fn create_bucket(&self, retries: &mut u32) -> Result<()> {
        let ep = self.options.endpoint.as_str();
        let org = self.options.org.clone().unwrap_or_default();
        let bucket = self.options.query_database().to_string();
        let get_json = |u: reqwest::Url, what: &'static str| {
            let u = u.clone();
            async move {
                let mut r = 0;
                let resp = self
                    .send(
                        what,
                        &mut r,
                        || self.request(reqwest::Method::GET, u.clone()),
                        |_| false,
                    )
                    .await?
                    .map_err(|_| Error::Internal("unexpected kept failure".into()))?;
                let body = read_body(resp, MAX_ERROR_BODY * 16, what).await?;
                serde_json::from_slice::<serde_json::Value>(&body)
                    .map_err(|e| Error::Backend(format!("InfluxDB {what}: not JSON: {e}")))
            }
        };
        let found = get_json(
            url(ep, "/api/v2/buckets", &[("name", &bucket), ("org", &org)])?,
            "list buckets",
        )
        .await?;
        if found["buckets"].as_array().is_some_and(|b| !b.is_empty()) {
            return Ok(());
        }
        let orgs = get_json(url(ep, "/api/v2/orgs", &[("org", &org)])?, "find org").await?;
        let org_id = orgs["orgs"][0]["id"]
            .as_str()
            .ok_or_else(|| Error::Rejected(format!("InfluxDB has no organization `{org}`")))?
            .to_string();
        let u = url(ep, "/api/v2/buckets", &[])?;
        let body =
            serde_json::json!({"orgID": org_id, "name": bucket, "retentionRules": []}).to_string();
        self.send(
            "create bucket",
            retries,
            || {
                self.request(reqwest::Method::POST, u.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            },
            |s| matches!(s.as_u16(), 409 | 422),
        )
        .await?
        .map(|_| ())
        .or(Ok(()))
    }

    /// Sorts records newest first and keeps `limit` (InfluxQL's `GROUP BY *` limits
    /// each series on its own).
    fn newest(mut records: Vec<Record>, limit: usize) -> Vec<Record> {
        records.sort_by_key(|r| std::cmp::Reverse(r.timestamp));
        records.truncate(limit);
        records
    }
}

/// Failures of the lines of `chunk` that `dropped` names, plus every line it did
/// not name when the server dropped points without naming them.
fn failures(chunk: &Chunk, dropped: &Dropped) -> Vec<ItemFailure> {
    let mut out: Vec<ItemFailure> = dropped
        .lines
        .iter()
        .filter_map(|(line, why)| {
            Some(ItemFailure {
                index: *chunk.owners.get(*line)?,
                class: ErrorClass::Rejected,
                message: format!("InfluxDB did not write this point: {why}"),
            })
        })
        .collect();
    if dropped.unnamed > 0 {
        let named: std::collections::BTreeSet<usize> =
            dropped.lines.iter().map(|(l, _)| *l).collect();
        let message = format!(
            "InfluxDB dropped {} point(s) of this request without naming them, so none of \
             the unnamed ones counts as written: {}",
            dropped.unnamed, dropped.message
        );
        out.extend(
            (0..chunk.owners.len())
                .filter(|i| !named.contains(i))
                .map(|i| ItemFailure {
                    index: chunk.owners[i],
                    class: ErrorClass::Rejected,
                    message: message.clone(),
                }),
        );
    }
    out
}

#[async_trait]
impl Database for InfluxdbDatabase {
    fn name(&self) -> &str {
        "influxdb"
    }

    fn capabilities(&self) -> Capabilities {
        self.options.capabilities().unwrap_or_default()
    }

    async fn write(&self, record: &Record) -> Result<OpMeta> {
        let mut chunk = Chunk::default();
        self.encoder
            .encode(record, self.encoder.precision().now(), &mut chunk.body)
            .map_err(Error::Rejected)?;
        chunk.owners.push(0);
        chunk.ends.push(chunk.body.len());
        let mut meta = OpMeta::default();
        if let Some(d) = self
            .write_chunk(&mut chunk, std::slice::from_ref(record), &mut meta)
            .await?
        {
            let f = failures(&chunk, &d);
            if !f.is_empty() {
                return Err(Error::Rejected(f[0].message.clone()));
            }
        }
        meta.items = 1;
        Ok(meta)
    }

    async fn batch_write(&self, records: &[Record]) -> Result<BatchOutcome> {
        let mut out = BatchOutcome::default();
        if records.is_empty() {
            return Ok(out);
        }
        let (mut chunks, bad) = self.encoder.encode_chunks(
            records,
            self.encoder.precision().now(),
            self.options.batch_points.max(1),
            usize::try_from(self.options.batch_bytes.0).unwrap_or(usize::MAX),
        );
        out.failed
            .extend(bad.into_iter().map(|(index, message)| ItemFailure {
                index,
                class: ErrorClass::Rejected,
                message,
            }));
        for n in 0..chunks.len() {
            let chunk = &mut chunks[n];
            match self.write_chunk(chunk, records, &mut out.meta).await {
                Ok(None) => out.meta.items += chunk.owners.len() as u64,
                Ok(Some(d)) => {
                    let f = failures(chunk, &d);
                    out.meta.items += (chunk.owners.len() - f.len().min(chunk.owners.len())) as u64;
                    out.failed.extend(f);
                }
                // Nothing was written yet: the batch failed as a whole.
                Err(e) if n == 0 && out.failed.is_empty() => return Err(e),
                // Earlier requests were written: this one's points and those not
                // sent are listed as failed.
                Err(e) => {
                    let message = e.to_string();
                    for (m, later) in chunks[n..].iter().enumerate() {
                        for &index in &later.owners {
                            out.failed.push(ItemFailure {
                                index,
                                class: e.class(),
                                message: if m == 0 {
                                    message.clone()
                                } else {
                                    "not sent: an earlier request of this batch failed".into()
                                },
                            });
                        }
                    }
                    break;
                }
            }
        }
        out.failed.sort_by_key(|f| f.index);
        Ok(out)
    }

    async fn read(&self, key: &str) -> Result<ReadOutcome> {
        let (records, meta) = self.query_records(&self.statements.latest(key, 1)).await?;
        Ok(ReadOutcome {
            record: Self::newest(records, 1).into_iter().next().map(Arc::new),
            meta,
        })
    }

    /// One query per key, at most [`PARALLEL_READS`] in flight at once.
    async fn read_many(&self, keys: &[String]) -> Result<QueryOutcome> {
        super::read_each(self, keys, PARALLEL_READS).await
    }

    async fn query(&self, query: &Query) -> Result<QueryOutcome> {
        let (records, meta) = match query {
            Query::Latest { key, limit } => {
                let (r, meta) = self
                    .query_records(&self.statements.latest(key, (*limit).max(1)))
                    .await?;
                (Self::newest(r, *limit), meta)
            }
            Query::TimeRange {
                key,
                start_ms,
                end_ms,
            } => {
                let (mut r, meta) = self
                    .query_records(&self.statements.time_range(key, *start_ms, *end_ms))
                    .await?;
                r.sort_by_key(|p| p.timestamp);
                (r, meta)
            }
            Query::Native { statement } => self.query_records(statement).await?,
            other => {
                return Err(Error::Unsupported(format!(
                "the influxdb adapter has no `{}` queries (it has latest, time_range and native)",
                other.kind().as_str()
            )))
            }
        };
        Ok(QueryOutcome { records, meta })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Value;

    #[test]
    fn unnamed_drops_count_every_unnamed_point_as_not_written() {
        let e = LineEncoder::new(
            "m",
            "k",
            std::iter::empty(),
            line::Precision::Millisecond,
            1 << 20,
        );
        let records: Vec<Record> = (0..4)
            .map(|i| Record::new(format!("r{i}")).with_field("v", Value::Int(i)))
            .collect();
        let (chunks, _) = e.encode_chunks(&records[1..], 1, 10, 1 << 20);
        let d = Dropped {
            lines: vec![(1, "bad".into())],
            unnamed: 1,
            message: "partial write: x dropped=1".into(),
        };
        let f = failures(&chunks[0], &d);
        assert_eq!(f.iter().map(|f| f.index).collect::<Vec<_>>(), [1, 0, 2]);
        assert!(f[1].message.contains("without naming them"));
        let d = Dropped {
            lines: vec![],
            unnamed: 0,
            message: String::new(),
        };
        assert!(failures(&chunks[0], &d).is_empty());
    }

    #[test]
    fn urls_keep_a_path_prefix_and_encode_parameters() {
        let u = url(
            "https://h:8086/influx/",
            "/write",
            &[("db", "a b&c"), ("precision", "ms")],
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            "https://h:8086/influx/write?db=a+b%26c&precision=ms"
        );
        assert_eq!(
            form(&[("q", "SELECT * FROM \"m\""), ("epoch", "ms")]),
            "q=SELECT+*+FROM+%22m%22&epoch=ms"
        );
        let throttled = status_error(reqwest::StatusCode::TOO_MANY_REQUESTS, "write", "slow down");
        assert_eq!(throttled.class(), ErrorClass::Throttled);
        let e = status_error(
            reqwest::StatusCode::NOT_FOUND,
            "write",
            "database not found: \"x\"",
        );
        assert_eq!(e.class(), ErrorClass::Rejected);
        assert!(e.to_string().contains("database not found"), "{e}");
        assert_eq!(
            status_error(reqwest::StatusCode::INTERNAL_SERVER_ERROR, "query", "boom").class(),
            ErrorClass::Backend
        );
        assert_eq!(
            status_error(reqwest::StatusCode::SERVICE_UNAVAILABLE, "query", "x").class(),
            ErrorClass::Throttled
        );
    }
}
