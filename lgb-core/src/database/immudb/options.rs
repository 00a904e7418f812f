//! The `immudb` adapter's options: where the server is, which database and user, the
//! password's source (never printed), verified mode and limits, checked without
//! connecting.

use serde::Deserialize;

use super::DEFAULT_MAX_TX_ENTRIES;
use crate::database::{AdapterOptions, Capabilities};
use crate::error::ConfigProblem;
use crate::record::QueryKind;
use crate::units::HumanDuration;

/// A password that never shows itself: `Debug` and `Display` print `[REDACTED]`.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Password(pub(super) String);

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
///   "username": "immudb", "password_env": "LGB_SECRET_IMMUDB_PASSWORD", "verified": false }
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
    /// Name of an environment variable holding the password; it must start with
    /// `LGB_SECRET_` ([`crate::database::SECRET_ENV_PREFIX`]).
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
pub(super) fn address_uri(address: &str) -> String {
    if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    }
}

/// Why `address` is not a `host:port` (or `http(s)://host:port`) the client can open.
pub(super) fn address_problem(address: &str) -> Option<String> {
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
    /// The server the password goes to and where the password comes from.
    const DESTINATIONS: &'static [&'static str] = &[
        "address",
        "database",
        "password_secret_id",
        "secrets_manager_endpoint",
    ];

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
        if let Some(why) = self
            .password_env
            .as_deref()
            .and_then(crate::database::secret_env_problem)
        {
            out.push(ConfigProblem::new("password_env", why));
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
pub(super) const QUERIES: [QueryKind; 5] = [
    QueryKind::Key,
    QueryKind::Prefix,
    QueryKind::Range,
    QueryKind::History,
    QueryKind::Native,
];
