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

mod codec;
mod options;
mod session;
pub mod verify;

/// Types and client generated from immudb's `schema.proto` (package `immudb.schema`).
#[allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]
pub mod proto {
    tonic::include_proto!("immudb.schema");
}

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use tonic::transport::{Channel, Endpoint};
use tonic::Response;

use self::proto::immu_service_client::ImmuServiceClient;
use self::verify::TrustedState;
use super::{
    AdapterOptions, BatchOutcome, Capabilities, Database, ItemFailure, OpMeta, QueryOutcome,
    ReadOutcome,
};
use crate::error::{Error, Result};
use crate::record::{Query, Record};
use crate::redact::redact;

type Client = ImmuServiceClient<Channel>;

use codec::*;
use options::{address_uri, QUERIES};
pub use options::{ImmudbOptions, Password};
use session::*;

/// immudb's default `maxTxEntries`, used when the server does not tell its own.
const DEFAULT_MAX_TX_ENTRIES: usize = 1024;
/// Verified reads of one `read_many` in flight at once (the server allows 30
/// concurrent transactions in all).
const VERIFIED_READS_IN_FLIGHT: usize = 8;
/// Header carrying the session id on every call.
const SESSION_HEADER: &str = "sessionid";

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

/// The period of the keep-alive task for a configured `interval`. tokio's interval
/// panics on a zero period, and on an instant past the clock's range (`now + period`
/// when it is set up and after each tick): the options refuse zero and the parser
/// anything above [`HumanDuration::MAX`](crate::units::HumanDuration::MAX), but
/// options built in code are not parsed, so the period is clamped to that range here.
fn keepalive_period(interval: Duration) -> Duration {
    interval.clamp(Duration::from_millis(1), crate::units::HumanDuration::MAX)
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
            keepalive_period(inner.options.keepalive_interval.0),
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
    use super::options::address_problem;
    use super::*;
    use crate::record::Value;
    use tonic::Status;

    #[tokio::test]
    async fn keepalive_periods_stay_in_the_range_tokio_takes() {
        assert_eq!(
            keepalive_period(Duration::from_secs(30)),
            Duration::from_secs(30)
        );
        assert_eq!(keepalive_period(Duration::ZERO), Duration::from_millis(1));
        // What `session::keep_alive` does with it: neither panics.
        let every = keepalive_period(Duration::MAX);
        assert_eq!(every, crate::units::HumanDuration::MAX);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.reset();
    }

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
        o.password_env = Some("LGB_SECRET_VAR".into());
        assert_eq!(o.problems()[0].path, "password");
        o.password = None;
        o.password_env = None;
        assert_eq!(o.problems()[0].path, "password");
        let registry = crate::database::DatabaseRegistry::with_builtins();
        let f = registry.factory("immudb").unwrap();
        let problems =
            f.validate(&serde_json::json!({"password_env": "LGB_SECRET_X", "verified": "yes"}));
        assert_eq!(problems[0].path, "database.verified", "{problems:?}");
        assert!(f
            .validate(&serde_json::json!({"password_env": "LGB_SECRET_X"}))
            .is_empty());
        let problems =
            f.validate(&serde_json::json!({"password_env": "LGB_SECRET_X", "address": "db"}));
        assert_eq!(problems[0].path, "database.address", "{problems:?}");
        assert!(
            problems[0].message.contains("names no port"),
            "{problems:?}"
        );
    }

    #[test]
    fn password_env_names_only_lgb_secret_variables() {
        let registry = crate::database::DatabaseRegistry::with_builtins();
        let f = registry.factory("immudb").unwrap();
        for bad in [
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "HOME",
            "LGB_SECRET_",
            "LGB_SECRET_A-B",
            "lgb_secret_x",
        ] {
            let problems = f.validate(&serde_json::json!({"password_env": bad}));
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
            assert_eq!(problems[0].path, "database.password_env", "{bad}");
            assert!(problems[0].message.contains("LGB_SECRET_"), "{problems:?}");
        }
        assert!(f
            .validate(&serde_json::json!({"password_env": "LGB_SECRET_IMMUDB_PASSWORD"}))
            .is_empty());
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
