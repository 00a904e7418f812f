//! The `immudb` adapter: immudb's gRPC API through a tonic client generated at build
//! time from the vendored `proto/immudb/schema.proto` (immudb v1.10.0).
//!
//! It owns one channel (one HTTP/2 connection, multiplexed by every task of a worker
//! and kept across warm Lambda invocations) and one server session (`OpenSession`,
//! its id sent as the `sessionid` header, kept alive in the background, opened again
//! once when the server says it is gone). It must never log, return or store the
//! password: [`Password`] redacts itself and server messages pass through
//! [`redact`].
//!
//! Operations: `write` = `Set`, `batch_write` = `SetAll` (one transaction per call of
//! at most the server's `maxTxEntries` entries), `read` = `Get`, `read_many` =
//! `GetAll`, queries `prefix`/`range` = `Scan`, `history` = `History`, `native` = SQL.
//! With `verified: true`, writes and reads are `VerifiableSet`/`VerifiableGet` and
//! every answer is checked by [`verify`] against a locally trusted state; a proof
//! that fails is [`Error::Tampered`].
//!
//! Records are stored under their key (UTF-8 bytes) with a JSON value: the record's
//! own serde form without its key, for example
//! `{"fields":[["field0","abc"],["field1",42]]}` (plus `timestamp` and `dimensions`
//! when set). See `docs/immudb.md`.

pub mod verify;

/// Types and client generated from immudb's `schema.proto` (package `immudb.schema`).
#[allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]
pub mod proto {
    tonic::include_proto!("immudb.schema");
}

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};

use self::proto::immu_service_client::ImmuServiceClient;
use self::verify::TrustedState;
use super::{
    AdapterOptions, BatchOutcome, Capabilities, Database, ItemFailure, OpMeta, QueryOutcome,
    ReadOutcome,
};
use crate::error::{ConfigProblem, Error, Result};
use crate::record::{Query, QueryKind, Record, Value};
use crate::redact::redact;
use crate::units::HumanDuration;

type Client = ImmuServiceClient<Channel>;

/// immudb's default `maxTxEntries`, used when the server does not tell its own.
const DEFAULT_MAX_TX_ENTRIES: usize = 1024;
/// Verified reads of one `read_many` in flight at once (the server allows 30
/// concurrent transactions in all).
const VERIFIED_READS_IN_FLIGHT: usize = 8;
/// Header carrying the session id on every call.
const SESSION_HEADER: &str = "sessionid";

/// A password that never shows itself: `Debug` and `Display` print `[REDACTED]`.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(p: impl Into<String>) -> Self {
        Self(p.into())
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Options of the `immudb` adapter. Exactly one of `password`, `password_env` and
/// `password_secret_id` must be given.
///
/// ```json
/// { "type": "immudb", "address": "127.0.0.1:3322", "database": "defaultdb",
///   "username": "immudb", "password_env": "LGB_IMMUDB_PASSWORD", "verified": false }
/// ```
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImmudbOptions {
    /// `host:port` of the gRPC API (immudb listens on 3322 by default).
    #[serde(default = "default_address")]
    pub address: String,
    /// Database to open the session on.
    #[serde(default = "default_database")]
    pub database: String,
    /// User name; default `immudb`, or the `username` of a JSON secret.
    #[serde(default)]
    pub username: Option<String>,
    /// The password itself. It is copied into results with the rest of the config:
    /// prefer `password_env` or `password_secret_id` outside local tests.
    #[serde(default)]
    pub password: Option<Password>,
    /// Name of an environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// AWS Secrets Manager secret id or ARN: a plain password, or a JSON object with
    /// `password` (and optionally `username`).
    #[serde(default)]
    pub password_secret_id: Option<String>,
    /// Endpoint override for Secrets Manager (local tests).
    #[serde(default)]
    pub secrets_manager_endpoint: Option<String>,
    /// Use `VerifiableSet`/`VerifiableGet` and check every proof on the client.
    #[serde(default)]
    pub verified: bool,
    /// Largest transaction of `batch_write`; default the server's `maxTxEntries`.
    #[serde(default)]
    pub max_batch_size: Option<usize>,
    /// Most entries asked for in one `Scan` call; longer queries page.
    #[serde(default = "default_scan_page")]
    pub scan_page_size: usize,
    /// Deadline for opening the connection.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// How often the session is kept alive (immudb drops idle sessions, by default
    /// after 3 minutes).
    #[serde(default = "default_keepalive")]
    pub keepalive_interval: HumanDuration,
}

fn default_address() -> String {
    "127.0.0.1:3322".into()
}
fn default_database() -> String {
    "defaultdb".into()
}
fn default_scan_page() -> usize {
    1000
}
fn default_connect_timeout() -> HumanDuration {
    HumanDuration::secs(5)
}
fn default_keepalive() -> HumanDuration {
    HumanDuration::secs(60)
}

impl ImmudbOptions {
    /// Options for `address` with every default and the password given directly.
    pub fn new(address: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            database: default_database(),
            username: None,
            password: Some(Password::new(password)),
            password_env: None,
            password_secret_id: None,
            secrets_manager_endpoint: None,
            verified: false,
            max_batch_size: None,
            scan_page_size: default_scan_page(),
            connect_timeout: default_connect_timeout(),
            keepalive_interval: default_keepalive(),
        }
    }
}

/// The URI `connect` opens for `address`: `host:port` gets `http://` in front.
fn address_uri(address: &str) -> String {
    if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    }
}

/// Why `address` is not a `host:port` (or `http(s)://host:port`) the client can open.
fn address_problem(address: &str) -> Option<String> {
    let address = address.trim();
    if address.is_empty() {
        return Some("must be host:port".into());
    }
    let uri = match address_uri(address).parse::<tonic::transport::Uri>() {
        Ok(u) => u,
        Err(e) => return Some(format!("`{address}` is not host:port: {e}")),
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Some(format!("`{address}`: the scheme must be http or https"));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Some(format!("`{address}` names no host"));
    }
    match uri.port_u16() {
        None => Some(format!(
            "`{address}` names no port (immudb listens on 3322 by default)"
        )),
        Some(0) => Some(format!("`{address}`: port 0 cannot be connected to")),
        Some(_) => None,
    }
}

impl AdapterOptions for ImmudbOptions {
    /// What `connect` refuses before it opens a connection, paths under `database`.
    fn problems(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let sources = [
            self.password.is_some(),
            self.password_env.is_some(),
            self.password_secret_id.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            out.push(ConfigProblem::new(
                "password",
                "set exactly one of `password`, `password_env` and `password_secret_id`",
            ));
        }
        if let Some(m) = address_problem(&self.address) {
            out.push(ConfigProblem::new("address", m));
        }
        if self.scan_page_size == 0 {
            out.push(ConfigProblem::new("scan_page_size", "must be at least 1"));
        }
        if self.max_batch_size == Some(0) {
            out.push(ConfigProblem::new("max_batch_size", "must be at least 1"));
        }
        if self.keepalive_interval.0.is_zero() {
            out.push(ConfigProblem::new(
                "keepalive_interval",
                "must be more than 0s",
            ));
        }
        if let Some(e) = &self.secrets_manager_endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                out.push(ConfigProblem::new(
                    "secrets_manager_endpoint",
                    format!("`{e}` is not an http:// or https:// URL"),
                ));
            }
        }
        out
    }

    /// The query kinds are fixed; the batch limit is `max_batch_size` or, until the
    /// server is asked, immudb's default.
    fn capabilities(&self) -> Option<Capabilities> {
        Some(Capabilities {
            max_batch_size: self.max_batch_size.unwrap_or(DEFAULT_MAX_TX_ENTRIES),
            queries: QUERIES.to_vec(),
            max_item_bytes: None,
            reads_records: true,
        })
    }
}

/// Query kinds of the immudb adapter.
const QUERIES: [QueryKind; 5] = [
    QueryKind::Key,
    QueryKind::Prefix,
    QueryKind::Range,
    QueryKind::History,
    QueryKind::Native,
];

/// The session the server gave us, and which login produced it.
struct Session {
    id: AsciiMetadataValue,
    generation: u64,
}

struct Credentials {
    username: String,
    password: Password,
}

struct Inner {
    client: Client,
    options: ImmudbOptions,
    credentials: Credentials,
    session: RwLock<Arc<Session>>,
    /// Serialises re-logins so that many tasks seeing an expired session open one.
    relogin: tokio::sync::Mutex<()>,
    /// The last verified state; see [`ImmudbDatabase::trusted_state`].
    trusted: Mutex<TrustedState>,
    max_batch: usize,
}

/// An immudb database reached over gRPC; implements [`Database`].
pub struct ImmudbDatabase {
    inner: Arc<Inner>,
    keepalive: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ImmudbDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImmudbDatabase")
            .field("address", &self.inner.options.address)
            .field("database", &self.inner.options.database)
            .field("username", &self.inner.credentials.username)
            .field("verified", &self.inner.options.verified)
            .finish_non_exhaustive()
    }
}

impl Drop for ImmudbDatabase {
    fn drop(&mut self) {
        self.keepalive.abort();
    }
}

/// A call's answer and how many times the session had to be opened again for it.
struct Called<T> {
    value: T,
    retries: u32,
}

impl ImmudbDatabase {
    /// Connects, opens a session and, in verified mode, fetches the state to trust
    /// (trust on first use, as immudb's SDKs do).
    pub async fn connect(options: ImmudbOptions) -> Result<Self> {
        options.check()?;
        let credentials = resolve_credentials(&options).await?;
        let uri = address_uri(&options.address);
        let endpoint = Endpoint::from_shared(uri)
            .map_err(|e| Error::config("database.address", format!("`{}`: {e}", options.address)))?
            .connect_timeout(options.connect_timeout.0)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        let channel = endpoint.connect().await.map_err(|e| {
            Error::Connect(redact(&format!("{}: {}", options.address, error_chain(&e))))
        })?;
        // immudb answers large scans and proofs in big messages; lift tonic's 4 MiB cap.
        let client = ImmuServiceClient::new(channel).max_decoding_message_size(64 << 20);
        let id = open_session(&client, &options, &credentials).await?;
        let mut db = Inner {
            client,
            options,
            credentials,
            session: RwLock::new(Arc::new(Session { id, generation: 0 })),
            relogin: tokio::sync::Mutex::new(()),
            trusted: Mutex::new(TrustedState::default()),
            max_batch: DEFAULT_MAX_TX_ENTRIES,
        };
        db.max_batch = match db.options.max_batch_size {
            Some(n) => n,
            None => db
                .server_max_tx_entries()
                .await
                .unwrap_or(DEFAULT_MAX_TX_ENTRIES),
        };
        if db.options.verified {
            let state = db
                .call(&(), |mut c, r| async move { c.current_state(r).await })
                .await?;
            *db.trusted.lock().map_err(poisoned)? = verify::state_from(&state.value)?;
        }
        let inner = Arc::new(db);
        let keepalive = tokio::spawn(keep_alive(
            Arc::downgrade(&inner),
            inner.options.keepalive_interval.0,
        ));
        Ok(Self { inner, keepalive })
    }

    /// The options this adapter runs with.
    pub fn options(&self) -> &ImmudbOptions {
        &self.inner.options
    }

    /// The last state verified by this client: every verified operation proves the
    /// server's answer consistent with it. Transaction id 0 means an empty database.
    pub fn trusted_state(&self) -> TrustedState {
        self.inner.trusted.lock().map(|t| *t).unwrap_or_default()
    }

    /// A raw `VerifiableGet` answer for `key`, proven since `since` (for tests that
    /// alter real proofs before handing them to [`verify::verify_get`]).
    pub async fn verifiable_get(&self, key: &str, since: u64) -> Result<proto::VerifiableEntry> {
        let req = proto::VerifiableGetRequest {
            key_request: Some(proto::KeyRequest {
                key: key.as_bytes().to_vec(),
                ..Default::default()
            }),
            prove_since_tx: since,
        };
        Ok(self
            .inner
            .call(&req, |mut c, r| async move { c.verifiable_get(r).await })
            .await?
            .value)
    }

    /// A raw `VerifiableSet` answer for one record, proven since `since` (for tests
    /// that alter real proofs before handing them to [`verify::verify_set`]).
    pub async fn verifiable_set(&self, record: &Record, since: u64) -> Result<proto::VerifiableTx> {
        let req = proto::VerifiableSetRequest {
            set_request: Some(proto::SetRequest {
                k_vs: vec![key_value(record)?],
                ..Default::default()
            }),
            prove_since_tx: since,
        };
        Ok(self
            .inner
            .call(&req, |mut c, r| async move { c.verifiable_set(r).await })
            .await?
            .value)
    }

    /// Closes the server session without closing the adapter, as an expired session
    /// would look (for tests of the re-login path).
    pub async fn drop_session(&self) -> Result<()> {
        self.inner
            .call(&(), |mut c, r| async move { c.close_session(r).await })
            .await?;
        Ok(())
    }

    /// Runs one SQL statement: `SELECT`/`WITH`/`SHOW`/`DESCRIBE` as a query, anything
    /// else with `SQLExec`.
    async fn sql(&self, statement: &str) -> Result<QueryOutcome> {
        let first = statement
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if matches!(
            first.as_str(),
            "select" | "with" | "show" | "describe" | "explain"
        ) {
            let req = proto::SqlQueryRequest {
                sql: statement.to_string(),
                accept_stream: true,
                ..Default::default()
            };
            let called = self
                .inner
                .call(&req, |mut c, r| async move {
                    let mut stream = c.sql_query(r).await?.into_inner();
                    let mut results = Vec::new();
                    while let Some(part) = stream.message().await? {
                        results.push(part);
                    }
                    Ok(Response::new(results))
                })
                .await?;
            let mut out = QueryOutcome::default();
            out.meta.retries = called.retries;
            for result in &called.value {
                let names: Vec<String> = result
                    .columns
                    .iter()
                    .map(|c| column_name(&c.name))
                    .collect();
                for row in &result.rows {
                    let record = row_record(&names, row);
                    out.meta.bytes += record.size() as u64;
                    out.records.push(record);
                }
            }
            out.meta.items = out.records.len() as u64;
            Ok(out)
        } else {
            let req = proto::SqlExecRequest {
                sql: statement.to_string(),
                ..Default::default()
            };
            let called = self
                .inner
                .call(&req, |mut c, r| async move { c.sql_exec(r).await })
                .await?;
            Ok(QueryOutcome {
                records: Vec::new(),
                meta: OpMeta {
                    items: called
                        .value
                        .txs
                        .iter()
                        .map(|t| u64::from(t.updated_rows))
                        .sum(),
                    retries: called.retries,
                    bytes: statement.len() as u64,
                    ..OpMeta::default()
                },
            })
        }
    }

    /// Pages through `Scan` until `limit` entries or the end.
    async fn scan(&self, mut req: proto::ScanRequest, limit: usize) -> Result<QueryOutcome> {
        let mut out = QueryOutcome::default();
        let page = self.inner.options.scan_page_size;
        while out.records.len() < limit {
            req.limit = (limit - out.records.len()).min(page) as u64;
            let called = self
                .inner
                .call(&req, |mut c, r| async move { c.scan(r).await })
                .await;
            let entries = match called {
                Ok(c) => {
                    out.meta.retries += c.retries;
                    c.value.entries
                }
                // immudb answers an empty scan with "no more entries".
                Err(Error::NotFound(_)) => Vec::new(),
                Err(e) => return Err(e),
            };
            let n = entries.len();
            for e in entries {
                out.meta.bytes += (e.key.len() + e.value.len()) as u64;
                req.seek_key.clone_from(&e.key);
                out.records.push(decode_entry(&e.key, &e.value)?);
            }
            if (n as u64) < req.limit {
                break;
            }
            // Next page starts after the last key returned.
            req.inclusive_seek = false;
        }
        out.meta.items = out.records.len() as u64;
        Ok(out)
    }

    async fn history(&self, key: &str, limit: usize) -> Result<QueryOutcome> {
        // Newest `limit` versions, returned oldest first.
        let req = proto::HistoryRequest {
            key: key.as_bytes().to_vec(),
            limit: i32::try_from(limit).unwrap_or(i32::MAX),
            desc: true,
            ..Default::default()
        };
        let entries = match self
            .inner
            .call(&req, |mut c, r| async move { c.history(r).await })
            .await
        {
            Ok(c) => c.value.entries,
            Err(Error::NotFound(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut out = QueryOutcome::default();
        for e in entries.iter().rev() {
            out.meta.bytes += (e.key.len() + e.value.len()) as u64;
            out.records.push(decode_entry(&e.key, &e.value)?);
        }
        out.meta.items = out.records.len() as u64;
        Ok(out)
    }

    async fn verified_read(&self, key: &str) -> Result<ReadOutcome> {
        let seen = self.inner.trusted()?;
        let req = proto::VerifiableGetRequest {
            key_request: Some(proto::KeyRequest {
                key: key.as_bytes().to_vec(),
                ..Default::default()
            }),
            prove_since_tx: seen.tx_id,
        };
        let called = match self
            .inner
            .call(&req, |mut c, r| async move { c.verifiable_get(r).await })
            .await
        {
            Ok(c) => c,
            Err(Error::NotFound(_)) => return Ok(ReadOutcome::default()),
            Err(e) => return Err(e),
        };
        let newer = verify::verify_get(&seen, key.as_bytes(), &called.value)?;
        self.inner.advance(seen, newer)?;
        let entry = called.value.entry.unwrap_or_default();
        let record = decode_entry(key.as_bytes(), &entry.value)?;
        Ok(ReadOutcome {
            meta: OpMeta {
                bytes: entry.value.len() as u64,
                items: 1,
                retries: called.retries,
                ..OpMeta::default()
            },
            record: Some(std::sync::Arc::new(record)),
        })
    }

    /// Writes one transaction of `records` (keys distinct, at most `max_batch`).
    async fn set_all(&self, records: &[&Record]) -> Result<OpMeta> {
        let kvs = records
            .iter()
            .map(|r| key_value(r))
            .collect::<Result<Vec<_>>>()?;
        let bytes = kvs
            .iter()
            .map(|kv| (kv.key.len() + kv.value.len()) as u64)
            .sum();
        let retries = if self.inner.options.verified {
            let seen = self.inner.trusted()?;
            let req = proto::VerifiableSetRequest {
                set_request: Some(proto::SetRequest {
                    k_vs: kvs,
                    ..Default::default()
                }),
                prove_since_tx: seen.tx_id,
            };
            let called = self
                .inner
                .call(&req, |mut c, r| async move { c.verifiable_set(r).await })
                .await?;
            let kvs = req
                .set_request
                .as_ref()
                .map(|s| s.k_vs.as_slice())
                .unwrap_or_default();
            let pairs: Vec<(&[u8], &[u8])> = kvs
                .iter()
                .map(|kv| (kv.key.as_slice(), kv.value.as_slice()))
                .collect();
            let newer = verify::verify_set(&seen, &pairs, &called.value)?;
            self.inner.advance(seen, newer)?;
            called.retries
        } else {
            let req = proto::SetRequest {
                k_vs: kvs,
                ..Default::default()
            };
            self.inner
                .call(&req, |mut c, r| async move { c.set(r).await })
                .await?
                .retries
        };
        Ok(OpMeta {
            bytes,
            items: records.len() as u64,
            retries,
            ..OpMeta::default()
        })
    }
}

impl Inner {
    fn session(&self) -> Result<Arc<Session>> {
        self.session
            .read()
            .map(|s| Arc::clone(&s))
            .map_err(poisoned)
    }

    fn trusted(&self) -> Result<TrustedState> {
        self.trusted.lock().map(|t| *t).map_err(poisoned)
    }

    /// Moves the trusted state from `seen` to `newer` if no other task moved it in the
    /// meantime: the chain of trusted states stays linear (each proven from the one
    /// before it) while verified operations run concurrently.
    fn advance(&self, seen: TrustedState, newer: TrustedState) -> Result<()> {
        let mut t = self.trusted.lock().map_err(poisoned)?;
        if *t == seen && newer.tx_id >= seen.tx_id {
            *t = newer;
        }
        Ok(())
    }

    /// Calls the server with the current session; if the server no longer knows the
    /// session, opens a new one (once) and calls again.
    async fn call<M, T, F, Fut>(&self, msg: &M, f: F) -> Result<Called<T>>
    where
        M: Clone,
        F: Fn(Client, Request<M>) -> Fut,
        Fut: Future<Output = std::result::Result<Response<T>, Status>>,
    {
        let session = self.session()?;
        match f(self.client.clone(), with_session(msg.clone(), &session.id)).await {
            Ok(r) => Ok(Called {
                value: r.into_inner(),
                retries: 0,
            }),
            Err(status) if is_session_lost(&status) => {
                self.relogin(session.generation).await?;
                let session = self.session()?;
                match f(self.client.clone(), with_session(msg.clone(), &session.id)).await {
                    Ok(r) => Ok(Called {
                        value: r.into_inner(),
                        retries: 1,
                    }),
                    Err(status) if is_session_lost(&status) => Err(Error::config(
                        "database",
                        format!(
                            "immudb refused a new session for user `{}`: {}",
                            self.credentials.username,
                            redact(status.message())
                        ),
                    )),
                    Err(status) => Err(map_status(&status)),
                }
            }
            Err(status) => Err(map_status(&status)),
        }
    }

    /// Opens a new session unless another task already replaced generation `seen`.
    async fn relogin(&self, seen: u64) -> Result<()> {
        let _guard = self.relogin.lock().await;
        if self.session()?.generation != seen {
            return Ok(());
        }
        let id = open_session(&self.client, &self.options, &self.credentials).await?;
        tracing::debug!(database = %self.options.database, "immudb session opened again");
        let mut s = self.session.write().map_err(poisoned)?;
        *s = Arc::new(Session {
            id,
            generation: seen + 1,
        });
        Ok(())
    }

    async fn server_max_tx_entries(&self) -> Option<usize> {
        let settings = self
            .call(&proto::DatabaseSettingsRequest {}, |mut c, r| async move {
                c.get_database_settings_v2(r).await
            })
            .await
            .ok()?;
        let n = settings.value.settings?.max_tx_entries?.value;
        (n > 0).then_some(n as usize)
    }
}

async fn keep_alive(inner: Weak<Inner>, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        // A failure here is not a benchmark error: the next operation re-logs in.
        if let Err(e) = inner
            .call(&(), |mut c, r| async move { c.keep_alive(r).await })
            .await
        {
            tracing::debug!(error = %e, "immudb keep-alive failed");
        }
    }
}

fn with_session<M>(msg: M, id: &AsciiMetadataValue) -> Request<M> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert(SESSION_HEADER, id.clone());
    r
}

async fn open_session(
    client: &Client,
    options: &ImmudbOptions,
    credentials: &Credentials,
) -> Result<AsciiMetadataValue> {
    let req = proto::OpenSessionRequest {
        username: credentials.username.as_bytes().to_vec(),
        password: credentials.password.0.as_bytes().to_vec(),
        database_name: options.database.clone(),
    };
    let resp = client.clone().open_session(req).await.map_err(|status| {
        let msg = redact(status.message());
        match status.code() {
            Code::Unavailable | Code::DeadlineExceeded => {
                Error::Connect(format!("{}: {msg}", options.address))
            }
            Code::NotFound => Error::config(
                "database.database",
                format!("immudb has no database `{}`: {msg}", options.database),
            ),
            _ if msg.contains("database does not exist") => Error::config(
                "database.database",
                format!("immudb has no database `{}`: {msg}", options.database),
            ),
            _ => Error::config(
                "database.password",
                format!(
                    "immudb refused a session for user `{}` on `{}`: {msg}",
                    credentials.username, options.database
                ),
            ),
        }
    })?;
    MetadataValue::try_from(resp.into_inner().session_id)
        .map_err(|_| Error::Backend("immudb sent a session id that is not ASCII".into()))
}

/// Whether the server says our session is gone (closed, expired, never existed).
fn is_session_lost(status: &Status) -> bool {
    let m = status.message();
    status.code() == Code::Unauthenticated
        || m.contains("no session found")
        || m.contains("session not found")
        || m.contains("no sessionID provided")
        || m.contains("no session auth data")
}

/// Maps a gRPC status to an error class, once, here at the adapter's edge.
fn map_status(status: &Status) -> Error {
    let msg = redact(status.message());
    match status.code() {
        Code::Unavailable => Error::Connect(msg),
        Code::DeadlineExceeded => Error::Timeout(msg),
        Code::Cancelled if msg.to_ascii_lowercase().contains("timeout") => Error::Timeout(msg),
        Code::InvalidArgument
        | Code::OutOfRange
        | Code::FailedPrecondition
        | Code::AlreadyExists => {
            if is_not_found(&msg) {
                Error::NotFound(msg)
            } else {
                Error::Rejected(msg)
            }
        }
        Code::NotFound => Error::NotFound(msg),
        Code::ResourceExhausted => Error::Throttled(msg),
        Code::Unauthenticated | Code::PermissionDenied => Error::config("database", msg),
        Code::Unimplemented => Error::Unsupported(msg),
        // immudb's SQL engine answers `Unknown` for a bad statement.
        _ if is_not_found(&msg) || msg.contains("does not exist") => Error::NotFound(msg),
        _ if msg.contains("syntax error") => Error::Rejected(msg),
        _ => Error::Backend(format!("immudb: {msg}")),
    }
}

fn is_not_found(msg: &str) -> bool {
    msg.contains("key not found") || msg.contains("no more entries") || msg.contains("tx not found")
}

fn poisoned<T>(_: T) -> Error {
    Error::Backend("immudb adapter state poisoned by a panic".into())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

// ---------------------------------------------------------------------------
// Credentials

async fn resolve_credentials(o: &ImmudbOptions) -> Result<Credentials> {
    let (password, secret_user) = if let Some(p) = &o.password {
        (p.clone(), None)
    } else if let Some(var) = &o.password_env {
        let p = std::env::var(var).map_err(|_| {
            Error::config(
                "database.password_env",
                format!("environment variable `{var}` is not set"),
            )
        })?;
        (Password(p), None)
    } else if let Some(id) = &o.password_secret_id {
        secret_password(id, o.secrets_manager_endpoint.as_deref()).await?
    } else {
        return Err(Error::config(
            "database.password",
            "no password source given",
        ));
    };
    Ok(Credentials {
        username: o
            .username
            .clone()
            .or(secret_user)
            .unwrap_or_else(|| "immudb".into()),
        password,
    })
}

/// The password (and user name, if the secret has one) from AWS Secrets Manager.
async fn secret_password(id: &str, endpoint: Option<&str>) -> Result<(Password, Option<String>)> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(ep) = endpoint {
        loader = loader.endpoint_url(ep);
    }
    let client = aws_sdk_secretsmanager::Client::new(&loader.load().await);
    let out = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| {
            Error::config(
                "database.password_secret_id",
                format!(
                    "cannot read secret `{id}`: {}",
                    redact(&aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string())
                ),
            )
        })?;
    let text = out.secret_string().ok_or_else(|| {
        Error::config(
            "database.password_secret_id",
            format!("secret `{id}` has no string value"),
        )
    })?;
    #[derive(Deserialize)]
    struct JsonSecret {
        password: String,
        #[serde(default)]
        username: Option<String>,
    }
    match serde_json::from_str::<JsonSecret>(text) {
        Ok(s) => Ok((Password(s.password), s.username)),
        Err(_) if text.trim_start().starts_with('{') => Err(Error::config(
            "database.password_secret_id",
            format!("secret `{id}` is a JSON object without a string `password`"),
        )),
        Err(_) => Ok((Password(text.to_string()), None)),
    }
}

// ---------------------------------------------------------------------------
// Encoding of records

/// A record as stored in an immudb value: everything but the key (which is the
/// immudb key).
#[derive(Serialize)]
struct StoredRecordRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<i64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    dimensions: &'a [(String, String)],
    fields: &'a [(String, Value)],
}

#[derive(Deserialize)]
struct StoredRecord {
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    dimensions: Vec<(String, String)>,
    #[serde(default)]
    fields: Vec<(String, Value)>,
}

fn encode_value(r: &Record) -> Result<Vec<u8>> {
    serde_json::to_vec(&StoredRecordRef {
        timestamp: r.timestamp,
        dimensions: &r.dimensions,
        fields: &r.fields,
    })
    .map_err(|e| Error::Rejected(format!("record `{}` cannot be encoded: {e}", r.key)))
}

fn key_value(r: &Record) -> Result<proto::KeyValue> {
    Ok(proto::KeyValue {
        key: r.key.as_bytes().to_vec(),
        value: encode_value(r)?,
        metadata: None,
    })
}

fn decode_entry(key: &[u8], value: &[u8]) -> Result<Record> {
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
fn column_name(raw: &str) -> String {
    let s = raw.trim_start_matches('(').trim_end_matches(')');
    s.rsplit('.').next().unwrap_or(s).to_string()
}

fn sql_value(v: &proto::SqlValue) -> Option<Value> {
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
fn row_record(names: &[String], row: &proto::Row) -> Record {
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
fn transactions(records: &[Record], max: usize) -> Vec<Vec<usize>> {
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

#[async_trait]
impl Database for ImmudbDatabase {
    fn name(&self) -> &str {
        "immudb"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_batch_size: self.inner.max_batch,
            queries: QUERIES.to_vec(),
            max_item_bytes: None,
            reads_records: true,
        }
    }

    async fn write(&self, record: &Record) -> Result<OpMeta> {
        self.set_all(&[record]).await
    }

    async fn batch_write(&self, records: &[Record]) -> Result<BatchOutcome> {
        let txs = transactions(records, self.inner.max_batch);
        let mut out = BatchOutcome::default();
        let mut first_error = None;
        for tx in &txs {
            let batch: Vec<&Record> = tx.iter().map(|&i| &records[i]).collect();
            match self.set_all(&batch).await {
                Ok(meta) => out.meta.add(&meta),
                Err(e) => {
                    out.failed.extend(tx.iter().map(|&index| ItemFailure {
                        index,
                        class: e.class(),
                        message: e.to_string(),
                    }));
                    first_error.get_or_insert(e);
                }
            }
        }
        // Count every record given, duplicates included: each was written, in order.
        out.meta.items = (records.len() - out.failed.len()) as u64;
        match first_error {
            // Nothing was written: the call failed as a whole.
            Some(e) if out.failed.len() == txs.iter().map(Vec::len).sum::<usize>() => Err(e),
            _ => Ok(out),
        }
    }

    async fn read(&self, key: &str) -> Result<ReadOutcome> {
        if self.inner.options.verified {
            return self.verified_read(key).await;
        }
        let req = proto::KeyRequest {
            key: key.as_bytes().to_vec(),
            ..Default::default()
        };
        match self
            .inner
            .call(&req, |mut c, r| async move { c.get(r).await })
            .await
        {
            Ok(c) => Ok(ReadOutcome {
                meta: OpMeta {
                    bytes: c.value.value.len() as u64,
                    items: 1,
                    retries: c.retries,
                    ..OpMeta::default()
                },
                record: Some(std::sync::Arc::new(decode_entry(
                    key.as_bytes(),
                    &c.value.value,
                )?)),
            }),
            Err(Error::NotFound(_)) => Ok(ReadOutcome::default()),
            Err(e) => Err(e),
        }
    }

    async fn read_many(&self, keys: &[String]) -> Result<QueryOutcome> {
        let mut out = QueryOutcome::default();
        if self.inner.options.verified {
            // immudb serves at most 30 concurrent transactions server-wide ("max
            // concurrency limit exceeded" beyond that), shared with every other client:
            // verified reads go out a few at a time.
            for chunk in keys.chunks(VERIFIED_READS_IN_FLIGHT) {
                let reads =
                    futures::future::try_join_all(chunk.iter().map(|k| self.verified_read(k)))
                        .await?;
                for r in reads {
                    out.meta.add(&r.meta);
                    out.records
                        .extend(r.record.map(std::sync::Arc::unwrap_or_clone));
                }
            }
            return Ok(out);
        }
        let req = proto::KeyListRequest {
            keys: keys.iter().map(|k| k.as_bytes().to_vec()).collect(),
            since_tx: 0,
        };
        let called = self
            .inner
            .call(&req, |mut c, r| async move { c.get_all(r).await })
            .await?;
        out.meta.retries = called.retries;
        for e in &called.value.entries {
            out.meta.bytes += e.value.len() as u64;
            out.records.push(decode_entry(&e.key, &e.value)?);
        }
        out.meta.items = out.records.len() as u64;
        Ok(out)
    }

    async fn query(&self, query: &Query) -> Result<QueryOutcome> {
        match query {
            Query::Key { key } => {
                let r = self.read(key).await?;
                Ok(QueryOutcome {
                    records: r
                        .record
                        .into_iter()
                        .map(std::sync::Arc::unwrap_or_clone)
                        .collect(),
                    meta: r.meta,
                })
            }
            Query::Prefix { prefix, limit } => {
                let req = proto::ScanRequest {
                    prefix: prefix.as_bytes().to_vec(),
                    ..Default::default()
                };
                self.scan(req, *limit).await
            }
            Query::Range { start, end, limit } => {
                let req = proto::ScanRequest {
                    seek_key: start.as_bytes().to_vec(),
                    inclusive_seek: true,
                    end_key: end
                        .as_ref()
                        .map(|e| e.as_bytes().to_vec())
                        .unwrap_or_default(),
                    inclusive_end: true,
                    ..Default::default()
                };
                self.scan(req, *limit).await
            }
            Query::History { key, limit } => self.history(key, *limit).await,
            Query::Native { statement } => self.sql(statement).await,
            other => Err(Error::Unsupported(format!(
                "the immudb adapter has no `{}` queries",
                other.kind().as_str()
            ))),
        }
    }

    async fn close(&self) -> Result<()> {
        self.keepalive.abort();
        self.inner
            .call(&(), |mut c, r| async move { c.close_session(r).await })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_prints() {
        let mut o = ImmudbOptions::new("127.0.0.1:1", "hunter2");
        o.username = Some("bob".into());
        let text = format!("{o:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            text.contains("[REDACTED]") && text.contains("bob"),
            "{text}"
        );
    }

    #[test]
    fn exactly_one_password_source_is_required() {
        let mut o = ImmudbOptions::new("127.0.0.1:1", "x");
        assert!(o.problems().is_empty());
        o.password_env = Some("VAR".into());
        assert_eq!(o.problems()[0].path, "password");
        o.password = None;
        o.password_env = None;
        assert_eq!(o.problems()[0].path, "password");
        let registry = crate::database::DatabaseRegistry::with_builtins();
        let f = registry.factory("immudb").unwrap();
        let problems = f.validate(&serde_json::json!({"password_env": "X", "verified": "yes"}));
        assert_eq!(problems[0].path, "database.verified", "{problems:?}");
        assert!(f
            .validate(&serde_json::json!({"password_env": "X"}))
            .is_empty());
        let problems = f.validate(&serde_json::json!({"password_env": "X", "address": "db"}));
        assert_eq!(problems[0].path, "database.address", "{problems:?}");
        assert!(
            problems[0].message.contains("names no port"),
            "{problems:?}"
        );
    }

    #[test]
    fn addresses_need_a_host_and_a_port() {
        assert_eq!(address_problem("127.0.0.1:3322"), None);
        assert_eq!(address_problem("https://immudb.internal:443"), None);
        for bad in [
            "",
            "127.0.0.1",
            "127.0.0.1:99999",
            "ftp://h:1",
            "h:0",
            "a b:1",
        ] {
            assert!(address_problem(bad).is_some(), "{bad} passed");
        }
    }

    #[test]
    fn records_round_trip_through_the_stored_json() {
        let mut r = Record::new("k1")
            .with_field("s", Value::Str("a".into()))
            .with_field("n", Value::Int(-3))
            .with_field("f", Value::Float(1.5))
            .with_field("b", Value::Bool(true));
        r.timestamp = Some(7);
        r.dimensions.push(("host".into(), "h1".into()));
        let bytes = encode_value(&r).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            !text.contains("k1"),
            "the key is not repeated in the value: {text}"
        );
        assert_eq!(decode_entry(b"k1", &bytes).unwrap(), r);
        assert_eq!(
            String::from_utf8(
                encode_value(&Record::new("k").with_field("f", Value::Str("v".into()))).unwrap()
            )
            .unwrap(),
            r#"{"fields":[["f","v"]]}"#
        );
        assert_eq!(
            decode_entry(b"k", b"not json").unwrap_err().class(),
            crate::ErrorClass::Backend
        );
    }

    #[test]
    fn transactions_split_and_keep_the_last_write_of_a_key() {
        let recs: Vec<Record> = ["a", "b", "a", "c", "d", "e"]
            .iter()
            .map(|k| Record::new(*k))
            .collect();
        assert_eq!(
            transactions(&recs, 2),
            vec![vec![2, 1], vec![3, 4], vec![5]]
        );
        assert_eq!(transactions(&recs, 10), vec![vec![2, 1, 3, 4, 5]]);
        assert!(transactions(&[], 3).is_empty());
    }

    #[test]
    fn statuses_map_to_classes() {
        use crate::ErrorClass as C;
        let cases = [
            (Status::unavailable("connection refused"), C::Connect),
            (Status::deadline_exceeded("late"), C::Timeout),
            (Status::invalid_argument("bad key"), C::Rejected),
            (Status::unknown("key not found"), C::NotFound),
            (Status::resource_exhausted("slow down"), C::Throttled),
            (Status::permission_denied("no"), C::Config),
            (Status::internal("boom password=hunter2"), C::Backend),
            (Status::unknown("table does not exist (t)"), C::NotFound),
            (
                Status::unknown("syntax error: unexpected IDENTIFIER"),
                C::Rejected,
            ),
        ];
        for (status, class) in cases {
            let e = map_status(&status);
            assert_eq!(e.class(), class, "{status:?}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        assert!(is_session_lost(&Status::invalid_argument(
            "no session found"
        )));
        assert!(!is_session_lost(&Status::invalid_argument("key too long")));
    }

    #[test]
    fn sql_rows_become_records_keyed_by_the_first_column() {
        use proto::sql_value::Value as V;
        let v = |x| proto::SqlValue { value: Some(x) };
        let row = proto::Row {
            columns: vec![],
            values: vec![v(V::N(7)), v(V::S("x".into())), v(V::Null(0))],
        };
        let names = ["(t.id)", "(t.name)", "(t.gone)"].map(column_name).to_vec();
        let r = row_record(&names, &row);
        assert_eq!(r.key, "7");
        assert_eq!(
            r.fields,
            vec![
                ("id".into(), Value::Int(7)),
                ("name".into(), Value::Str("x".into()))
            ]
        );
    }
}
