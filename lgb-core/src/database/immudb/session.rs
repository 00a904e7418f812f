//! The session: one gRPC client and the server session shared by every task, opened
//! again when the server has dropped it (one re-login for many tasks), the trusted
//! state of verified mode, credentials from the options, the environment or AWS
//! Secrets Manager, and gRPC statuses mapped to error classes.

use std::future::Future;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use serde::Deserialize;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::{Code, Request, Response, Status};

use super::options::{ImmudbOptions, Password};
use super::verify::TrustedState;
use super::{proto, Client, SESSION_HEADER};
use crate::error::{Error, Result};
use crate::redact::redact;

/// The session the server gave us, and which login produced it.
pub(super) struct Session {
    pub(super) id: AsciiMetadataValue,
    pub(super) generation: u64,
}

pub(super) struct Credentials {
    pub(super) username: String,
    pub(super) password: Password,
}

pub(super) struct Inner {
    pub(super) client: Client,
    pub(super) options: ImmudbOptions,
    pub(super) credentials: Credentials,
    pub(super) session: RwLock<Arc<Session>>,
    /// Serialises re-logins so that many tasks seeing an expired session open one.
    pub(super) relogin: tokio::sync::Mutex<()>,
    /// The last verified state; see [`ImmudbDatabase::trusted_state`].
    pub(super) trusted: Mutex<TrustedState>,
    pub(super) max_batch: usize,
}

/// A call's answer and how many times the session had to be opened again for it.
pub(super) struct Called<T> {
    pub(super) value: T,
    pub(super) retries: u32,
}

impl Inner {
    pub(super) fn session(&self) -> Result<Arc<Session>> {
        self.session
            .read()
            .map(|s| Arc::clone(&s))
            .map_err(poisoned)
    }

    pub(super) fn trusted(&self) -> Result<TrustedState> {
        self.trusted.lock().map(|t| *t).map_err(poisoned)
    }

    /// Moves the trusted state from `seen` to `newer` if no other task moved it in the
    /// meantime: the chain of trusted states stays linear (each proven from the one
    /// before it) while verified operations run concurrently.
    pub(super) fn advance(&self, seen: TrustedState, newer: TrustedState) -> Result<()> {
        let mut t = self.trusted.lock().map_err(poisoned)?;
        if *t == seen && newer.tx_id >= seen.tx_id {
            *t = newer;
        }
        Ok(())
    }

    /// Calls the server with the current session; if the server no longer knows the
    /// session, opens a new one (once) and calls again.
    pub(super) async fn call<M, T, F, Fut>(&self, msg: &M, f: F) -> Result<Called<T>>
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
    pub(super) async fn relogin(&self, seen: u64) -> Result<()> {
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

    pub(super) async fn server_max_tx_entries(&self) -> Option<usize> {
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

pub(super) async fn keep_alive(inner: Weak<Inner>, every: Duration) {
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

pub(super) fn with_session<M>(msg: M, id: &AsciiMetadataValue) -> Request<M> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert(SESSION_HEADER, id.clone());
    r
}

pub(super) async fn open_session(
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
pub(super) fn is_session_lost(status: &Status) -> bool {
    let m = status.message();
    status.code() == Code::Unauthenticated
        || m.contains("no session found")
        || m.contains("session not found")
        || m.contains("no sessionID provided")
        || m.contains("no session auth data")
}

/// Maps a gRPC status to an error class, once, here at the adapter's edge.
pub(super) fn map_status(status: &Status) -> Error {
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

pub(super) fn is_not_found(msg: &str) -> bool {
    msg.contains("key not found") || msg.contains("no more entries") || msg.contains("tx not found")
}

pub(super) fn poisoned<T>(_: T) -> Error {
    Error::Backend("immudb adapter state poisoned by a panic".into())
}

pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

pub(super) async fn resolve_credentials(o: &ImmudbOptions) -> Result<Credentials> {
    let (password, secret_user) = if let Some(p) = &o.password {
        (p.clone(), None)
    } else if let Some(var) = &o.password_env {
        let p = crate::database::read_secret_env(var, "database.password_env")?;
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
pub(super) async fn secret_password(
    id: &str,
    endpoint: Option<&str>,
) -> Result<(Password, Option<String>)> {
    let text = &crate::database::secret_text(id, endpoint, "database.password_secret_id").await?;
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
