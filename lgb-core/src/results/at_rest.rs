//! Results at rest and in transit, apart from reporting: client-side encryption of a
//! results directory into one file with a user-supplied key, and upload of a results
//! directory to Amazon S3 (feature `s3`).
//!
//! Encrypted file layout (`.lgbenc`), so any XChaCha20-Poly1305 implementation can
//! decrypt it:
//!
//! ```text
//! "LGBENC01" (8 bytes, also the associated data) | nonce (24 random bytes) | ciphertext+tag
//! plaintext = for each file, in path order:
//!     path length (u32, big-endian) | path (UTF-8, `/`-separated, relative) |
//!     content length (u64, big-endian) | content
//! ```
//!
//! The key is 32 bytes, given base64-encoded (for example in [`KEY_ENV`]); it never
//! appears in errors, logs or `Debug` output.
//!
//! ```
//! use lgb_core::results::{decrypt_to_dir, encrypt_dir, ResultsKey};
//! # let dir = tempfile::tempdir().unwrap();
//! # std::fs::write(dir.path().join("result.json"), b"{}").unwrap();
//! let key = ResultsKey::generate();
//! let sealed = encrypt_dir(dir.path(), &key).unwrap();
//! let out = tempfile::tempdir().unwrap();
//! decrypt_to_dir(&sealed, &key, out.path()).unwrap();
//! assert_eq!(std::fs::read(out.path().join("result.json")).unwrap(), b"{}");
//! ```

use std::fs;
use std::path::{Component, Path, PathBuf};

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::error::{Error, Result};

/// Environment variable holding the base64 key used by `lgb encrypt` / `lgb decrypt`.
pub const KEY_ENV: &str = "LGB_RESULTS_KEY";
/// First bytes of an encrypted results file (and its associated data).
pub const MAGIC: &[u8; 8] = b"LGBENC01";
/// Usual extension of an encrypted results file.
pub const EXTENSION: &str = "lgbenc";
const NONCE_LEN: usize = 24;

/// A 256-bit key for results encryption.
#[derive(Clone)]
pub struct ResultsKey([u8; 32]);

impl std::fmt::Debug for ResultsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResultsKey(<redacted>)")
    }
}

impl ResultsKey {
    /// A new random key.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(k)
    }

    /// A key from its base64 text (32 bytes once decoded).
    pub fn from_base64(text: &str) -> Result<Self> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| Error::config("key", "the results key is not valid base64"))?;
        let k: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            Error::config(
                "key",
                format!("the results key must be 32 bytes, it has {}", b.len()),
            )
        })?;
        Ok(Self(k))
    }

    /// The key in environment variable `var` (see [`KEY_ENV`]).
    pub fn from_env(var: &str) -> Result<Self> {
        let text = std::env::var(var).map_err(|_| {
            Error::config(
                var,
                "not set; put a base64 key of 32 bytes there (for example from `head -c32 /dev/urandom | base64`)",
            )
        })?;
        Self::from_base64(&text).map_err(|e| match e {
            Error::Config(mut p) => {
                for x in &mut p {
                    x.path = var.to_string();
                }
                Error::Config(p)
            }
            other => other,
        })
    }

    /// The key as base64 text.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }
}

/// Files under `dir`, as (`/`-separated relative path, absolute path), sorted by path;
/// the temporary files of a write under way (or cut off) are left out.
pub fn files_of(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
        let entries =
            fs::read_dir(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else if kind.is_file()
                && !super::files::is_temp_name(&entry.file_name().to_string_lossy())
            {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let name: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push((name.join("/"), path));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// Encrypts every file of the results directory `dir` into one sealed blob.
pub fn encrypt_dir(dir: &Path, key: &ResultsKey) -> Result<Vec<u8>> {
    let mut plain = Vec::new();
    for (name, path) in files_of(dir)? {
        let content =
            fs::read(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        plain.extend_from_slice(&(name.len() as u32).to_be_bytes());
        plain.extend_from_slice(name.as_bytes());
        plain.extend_from_slice(&(content.len() as u64).to_be_bytes());
        plain.extend_from_slice(&content);
    }
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let cipher = XChaCha20Poly1305::new((&key.0).into());
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: MAGIC,
            },
        )
        .map_err(|_| Error::Internal("encryption failed".into()))?;
    let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + sealed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// A relative path that stays inside the output directory.
fn safe_relative(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    let ok = !name.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then(|| p.to_path_buf())
}

/// Decrypts a blob made by [`encrypt_dir`] into the directory `out` and returns the
/// files written. A wrong key and a damaged file are the same error: the
/// authentication tag does not match. The directory appears whole or not at all: the
/// files are written and fsynced in a hidden directory beside it, which is then
/// renamed to `out`. An `out` that exists and is not empty is refused (nothing is
/// written over).
pub fn decrypt_to_dir(sealed: &[u8], key: &ResultsKey, out: &Path) -> Result<Vec<PathBuf>> {
    if sealed.len() < MAGIC.len() + NONCE_LEN || &sealed[..MAGIC.len()] != MAGIC {
        return Err(Error::config(
            "input",
            "not an lgb encrypted results file (no LGBENC01 header)",
        ));
    }
    let nonce = XNonce::from_slice(&sealed[MAGIC.len()..MAGIC.len() + NONCE_LEN]);
    let cipher = XChaCha20Poly1305::new((&key.0).into());
    let plain = cipher
        .decrypt(
            nonce,
            Payload {
                msg: &sealed[MAGIC.len() + NONCE_LEN..],
                aad: MAGIC,
            },
        )
        .map_err(|_| {
            Error::config(
                "key",
                "cannot decrypt: wrong key, or the file was altered or truncated",
            )
        })?;
    let damaged = || Error::Backend("decrypted results are malformed".into());
    let mut files = Vec::new();
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8]> {
        let s = plain
            .get(at..at.checked_add(n).ok_or_else(damaged)?)
            .ok_or_else(damaged)?;
        at += n;
        Ok(s)
    };
    let mut entries = Vec::new();
    while let Ok(len) = take(4) {
        let len = u32::from_be_bytes(len.try_into().map_err(|_| damaged())?) as usize;
        let name = String::from_utf8(take(len)?.to_vec()).map_err(|_| damaged())?;
        let size = u64::from_be_bytes(take(8)?.try_into().map_err(|_| damaged())?) as usize;
        let content = take(size)?.to_vec();
        entries.push((name, content));
    }
    let mut checked = Vec::with_capacity(entries.len());
    for (name, content) in entries {
        let rel = safe_relative(&name).ok_or_else(|| {
            Error::Backend(format!(
                "refusing a path outside the output directory: {name:?}"
            ))
        })?;
        checked.push((rel, content));
    }
    let occupied = fs::read_dir(out).map(|mut d| d.next().is_some());
    if let Ok(true) = occupied {
        return Err(Error::config(
            "--out",
            format!(
                "{} exists and is not empty; decrypting never writes over files",
                out.display()
            ),
        ));
    }
    let staging = super::files::temp_name(out);
    let written = write_tree(&staging, &checked).and_then(|()| {
        if occupied.is_ok() {
            // An empty directory: the rename takes its place.
            fs::remove_dir(out)
                .map_err(|e| Error::io(format!("replacing {}", out.display()), e))?;
        }
        fs::rename(&staging, out).map_err(|e| {
            Error::io(
                format!("renaming {} to {}", staging.display(), out.display()),
                e,
            )
        })
    });
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    super::files::sync_dir(parent)?;
    for (rel, _) in checked {
        files.push(out.join(rel));
    }
    Ok(files)
}

/// Writes `files` under a new directory `root`, each file and directory fsynced.
fn write_tree(root: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    use std::io::Write;
    let mut dirs = std::collections::BTreeSet::new();
    fs::create_dir_all(root).map_err(|e| Error::io(format!("creating {}", root.display()), e))?;
    dirs.insert(root.to_path_buf());
    for (rel, content) in files {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
            let mut up = parent.to_path_buf();
            while up.starts_with(root) && dirs.insert(up.clone()) {
                match up.parent() {
                    Some(p) => up = p.to_path_buf(),
                    None => break,
                }
            }
        }
        let io = |e| Error::io(format!("writing {}", path.display()), e);
        let mut f = fs::File::create(&path).map_err(io)?;
        f.write_all(content).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    for d in dirs {
        super::files::sync_dir(&d)?;
    }
    Ok(())
}

/// Where results go in S3: `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix, without leading or trailing `/` (may be empty).
    pub prefix: String,
}

impl std::str::FromStr for S3Location {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let rest = s.strip_prefix("s3://").ok_or_else(|| {
            Error::config("upload", format!("`{s}` is not an s3://bucket/prefix URL"))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::config("upload", format!("`{s}` names no bucket")));
        }
        Ok(Self {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }
}

/// How to upload.
#[derive(Debug, Clone, Default)]
pub struct UploadOptions {
    /// Server-side encryption with this KMS key (id, ARN or alias); SSE-S3 (AES-256)
    /// when `None`.
    pub kms_key_id: Option<String>,
    /// Endpoint override (a local S3-compatible server); also read from
    /// `LGB_S3_ENDPOINT` when `None`.
    pub endpoint: Option<String>,
}

/// The file an upload writes last, beside a run's files: every file's path, size and
/// SHA-256. A prefix without it is an upload that did not finish.
pub const MANIFEST_FILE: &str = "lgb-manifest.json";

/// One file of an upload's manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManifestEntry {
    /// Path relative to the run's prefix, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
}

/// What [`MANIFEST_FILE`] holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The run's id (the directory's name).
    pub run_id: String,
    /// Every file of the upload but the manifest, in path order.
    pub files: Vec<ManifestEntry>,
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Uploaded {
    /// Every key of the upload, the manifest last.
    pub keys: Vec<String>,
    /// Files sent by this call.
    pub sent: usize,
    /// Files that were there already (same size and SHA-256) and were not sent again.
    pub already_there: usize,
}

/// Uploads every file of the results directory `dir` to
/// `s3://bucket/prefix/<dir name>/<file>`, then [`MANIFEST_FILE`] last (or, when `dir`
/// is a file such as an encrypted `.lgbenc`, that one object to
/// `s3://bucket/prefix/<file name>`). Objects carry their SHA-256 in their metadata;
/// a file already there with the same size and SHA-256 is not sent again, so running
/// it again after a failure finishes the upload. A failure names the files uploaded
/// before it.
#[cfg(feature = "s3")]
pub async fn upload_dir(dir: &Path, to: &S3Location, options: &UploadOptions) -> Result<Uploaded> {
    s3::upload_dir(dir, to, options).await
}

/// Uploads a results directory to S3; this build has no S3 support.
#[cfg(not(feature = "s3"))]
pub async fn upload_dir(
    _dir: &Path,
    _to: &S3Location,
    _options: &UploadOptions,
) -> Result<Uploaded> {
    Err(Error::Unsupported(
        "S3 upload is not compiled in; enable feature `s3`".into(),
    ))
}

/// Whether the upload of a run at `run` (`s3://bucket/prefix/<run-id>`) is complete:
/// its manifest is there and every file it lists is there with its size and SHA-256.
/// `Err` with the reason when not (no manifest: the upload did not finish).
#[cfg(feature = "s3")]
pub async fn verify_upload(run: &S3Location, options: &UploadOptions) -> Result<Manifest> {
    s3::verify_upload(run, options).await
}

/// Checks an upload; this build has no S3 support.
#[cfg(not(feature = "s3"))]
pub async fn verify_upload(_run: &S3Location, _options: &UploadOptions) -> Result<Manifest> {
    Err(Error::Unsupported(
        "S3 upload is not compiled in; enable feature `s3`".into(),
    ))
}

#[cfg(feature = "s3")]
mod s3 {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::ServerSideEncryption;
    use sha2::{Digest, Sha256};

    use super::{
        files_of, Manifest, ManifestEntry, S3Location, UploadOptions, Uploaded, MANIFEST_FILE,
    };
    use crate::error::{Error, Result};
    use crate::redact::redact;

    /// The object metadata key holding a file's SHA-256 (`x-amz-meta-sha256`).
    const SHA_KEY: &str = "sha256";

    fn content_type(name: &str) -> &'static str {
        match name.rsplit('.').next() {
            Some("json") => "application/json",
            Some("csv") => "text/csv",
            Some("html") => "text/html; charset=utf-8",
            Some("png") => "image/png",
            Some("hlog") | Some("txt") | Some("md") => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        }
    }

    /// Maps an SDK error once, here, to an lgb error class.
    fn from_sdk<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
        e: &SdkError<E, R>,
        what: &str,
    ) -> Error {
        match e {
            SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => {
                Error::Connect(redact(&format!("{what}: {e}")))
            }
            SdkError::TimeoutError(_) => Error::Timeout(format!("{what}: timed out")),
            SdkError::ServiceError(s) => {
                let err = s.err();
                let msg = redact(&format!(
                    "{what}: {}: {}",
                    err.code().unwrap_or("error"),
                    err.message().unwrap_or("")
                ));
                match err.code() {
                    Some("NoSuchBucket") | Some("NoSuchKey") | Some("NotFound") => {
                        Error::NotFound(msg)
                    }
                    Some("SlowDown") | Some("Throttling") => Error::Throttled(msg),
                    Some("AccessDenied")
                    | Some("InvalidAccessKeyId")
                    | Some("SignatureDoesNotMatch") => Error::Connect(msg),
                    _ => Error::Backend(msg),
                }
            }
            other => Error::Backend(redact(&format!("{what}: {other}"))),
        }
    }

    /// The same error with `more` after its message (its class kept).
    fn with_note(e: Error, more: &str) -> Error {
        match e {
            Error::Connect(m) => Error::Connect(format!("{m}{more}")),
            Error::Timeout(m) => Error::Timeout(format!("{m}{more}")),
            Error::Throttled(m) => Error::Throttled(format!("{m}{more}")),
            Error::NotFound(m) => Error::NotFound(format!("{m}{more}")),
            Error::Backend(m) => Error::Backend(format!("{m}{more}")),
            Error::Io { context, source } => Error::Io {
                context: format!("{context}{more}"),
                source,
            },
            other => Error::Backend(format!("{other}{more}")),
        }
    }

    async fn client(options: &UploadOptions) -> aws_sdk_s3::Client {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        let endpoint = options
            .endpoint
            .clone()
            .or_else(|| std::env::var("LGB_S3_ENDPOINT").ok());
        if let Some(e) = &endpoint {
            loader = loader.endpoint_url(e);
        }
        let shared = loader.load().await;
        // Local servers serve buckets by path, not by host name.
        let conf = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(endpoint.is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Size and SHA-256 of a file, read in blocks.
    fn digest(path: &Path) -> Result<(u64, String)> {
        use std::io::Read;
        let io = |e| Error::io(format!("reading {}", path.display()), e);
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buf[..n]);
        }
        let hex = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((size, hex))
    }

    fn key_of(to: &S3Location, rel: &str) -> String {
        if to.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", to.prefix)
        }
    }

    /// Keys under `prefix` and their sizes.
    async fn listing(
        client: &aws_sdk_s3::Client,
        bucket: &str,
        prefix: &str,
    ) -> Result<BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        let mut pages = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| from_sdk(&e, &format!("listing s3://{bucket}/{prefix}")))?;
            for o in page.contents() {
                if let Some(k) = o.key() {
                    out.insert(k.to_string(), o.size().unwrap_or(0).max(0) as u64);
                }
            }
        }
        Ok(out)
    }

    /// The SHA-256 an object carries in its metadata, if any.
    async fn sha_of(
        client: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
    ) -> Result<Option<String>> {
        let head = client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| from_sdk(&e, &format!("reading s3://{bucket}/{key}")))?;
        Ok(head.metadata().and_then(|m| m.get(SHA_KEY)).cloned())
    }

    async fn put(
        client: &aws_sdk_s3::Client,
        to: &S3Location,
        key: &str,
        body: ByteStream,
        sha256: &str,
        options: &UploadOptions,
    ) -> Result<()> {
        let mut put = client
            .put_object()
            .bucket(&to.bucket)
            .key(key)
            .content_type(content_type(key))
            .metadata(SHA_KEY, sha256)
            .body(body);
        put = match &options.kms_key_id {
            Some(kms) => put
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(kms),
            None => put.server_side_encryption(ServerSideEncryption::Aes256),
        };
        put.send()
            .await
            .map(|_| ())
            .map_err(|e| from_sdk(&e, &format!("uploading s3://{}/{key}", to.bucket)))
    }

    /// The files uploaded, for an error message: all of them up to ten.
    fn named(done: &[String]) -> String {
        let mut shown: Vec<&str> = done.iter().take(10).map(String::as_str).collect();
        if done.len() > 10 {
            shown.push("…");
        }
        shown.join(", ")
    }

    pub(super) async fn upload_dir(
        dir: &Path,
        to: &S3Location,
        options: &UploadOptions,
    ) -> Result<Uploaded> {
        let base = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::config("dir", format!("{} has no file name", dir.display())))?;
        let client = client(options).await;
        // A single file (an encrypted `.lgbenc`) goes as it is, in one PUT: it is
        // there whole or not at all.
        if dir.is_file() {
            let key = key_of(to, &base);
            let (_, sha) = digest(dir)?;
            let body = ByteStream::from_path(dir).await.map_err(|e| {
                Error::io(
                    format!("reading {}", dir.display()),
                    std::io::Error::other(e.to_string()),
                )
            })?;
            put(&client, to, &key, body, &sha, options).await?;
            return Ok(Uploaded {
                keys: vec![key],
                sent: 1,
                already_there: 0,
            });
        }
        let files: Vec<(String, PathBuf)> = files_of(dir)?
            .into_iter()
            .filter(|(name, _)| name != MANIFEST_FILE)
            .collect();
        let mut manifest = Manifest {
            run_id: base.clone(),
            files: Vec::with_capacity(files.len()),
        };
        for (name, path) in &files {
            let (size, sha256) = digest(path)?;
            manifest.files.push(ManifestEntry {
                path: name.clone(),
                size,
                sha256,
            });
        }
        let run_prefix = key_of(to, &format!("{base}/"));
        let there = listing(&client, &to.bucket, &run_prefix).await?;
        let mut done = Vec::new();
        let mut out = Uploaded::default();
        for (entry, (_, path)) in manifest.files.iter().zip(&files) {
            let key = key_of(to, &format!("{base}/{}", entry.path));
            let same = there.get(&key) == Some(&entry.size)
                && sha_of(&client, &to.bucket, &key).await?.as_deref()
                    == Some(entry.sha256.as_str());
            if same {
                out.already_there += 1;
            } else {
                let sent = async {
                    let body = ByteStream::from_path(path).await.map_err(|e| {
                        Error::io(
                            format!("reading {}", path.display()),
                            std::io::Error::other(e.to_string()),
                        )
                    })?;
                    put(&client, to, &key, body, &entry.sha256, options).await
                }
                .await;
                if let Err(e) = sent {
                    let note = format!(
                        "; {} of {} files are in s3://{}/{run_prefix} ({}), but not its \
                         manifest, so the upload reads as incomplete: run the same upload \
                         again to finish it (files already there are not sent again)",
                        out.already_there + out.sent,
                        files.len(),
                        to.bucket,
                        named(&done),
                    );
                    return Err(with_note(e, &note));
                }
                out.sent += 1;
            }
            done.push(entry.path.clone());
            out.keys.push(key);
        }
        let text = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::Internal(format!("encoding the manifest: {e}")))?;
        let sha: String = Sha256::digest(&text)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let key = key_of(to, &format!("{base}/{MANIFEST_FILE}"));
        put(&client, to, &key, ByteStream::from(text), &sha, options).await?;
        out.keys.push(key);
        Ok(out)
    }

    pub(super) async fn verify_upload(
        run: &S3Location,
        options: &UploadOptions,
    ) -> Result<Manifest> {
        let client = client(options).await;
        let where_ = format!("s3://{}/{}", run.bucket, run.prefix);
        let key = key_of(run, MANIFEST_FILE);
        let got = client
            .get_object()
            .bucket(&run.bucket)
            .key(&key)
            .send()
            .await
            .map_err(
                |e| match from_sdk(&e, &format!("reading s3://{}/{key}", run.bucket)) {
                    Error::NotFound(_) => Error::NotFound(format!(
                        "{where_} has no {MANIFEST_FILE}: its upload did not finish (run the \
                     upload again to finish it)"
                    )),
                    other => other,
                },
            )?;
        let bytes = got
            .body
            .collect()
            .await
            .map_err(|e| Error::Backend(format!("reading s3://{}/{key}: {e}", run.bucket)))?
            .into_bytes();
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            Error::Backend(format!(
                "s3://{}/{key} is not an lgb manifest: {e}",
                run.bucket
            ))
        })?;
        let there = listing(&client, &run.bucket, &key_of(run, "")).await?;
        for f in &manifest.files {
            let key = key_of(run, &f.path);
            let sha = match there.get(&key) {
                Some(&size) if size == f.size => sha_of(&client, &run.bucket, &key).await?,
                _ => None,
            };
            if sha.as_deref() != Some(f.sha256.as_str()) {
                return Err(Error::NotFound(format!(
                    "{where_}: {} is missing or differs from the manifest",
                    f.path
                )));
            }
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_never_printed() {
        let k = ResultsKey::generate();
        assert_eq!(ResultsKey::from_base64(&k.to_base64()).unwrap().0, k.0);
        assert!(!format!("{k:?}").contains(&k.to_base64()));
        let err = ResultsKey::from_base64("c2hvcnQ=").unwrap_err().to_string();
        assert!(err.contains("32 bytes") && err.contains("has 5"), "{err}");
        assert!(ResultsKey::from_base64("***")
            .unwrap_err()
            .to_string()
            .contains("base64"));
    }

    #[test]
    fn s3_locations_parse() {
        let l: S3Location = "s3://bucket/a/b/".parse().unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("bucket", "a/b"));
        let l: S3Location = "s3://bucket".parse().unwrap();
        assert_eq!(l.prefix, "");
        assert!("https://x".parse::<S3Location>().is_err());
        assert!("s3:///x".parse::<S3Location>().is_err());
    }

    #[test]
    fn decrypting_writes_a_whole_directory_and_never_over_files() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join("hdr")).unwrap();
        std::fs::write(src.path().join("result.json"), b"{}").unwrap();
        std::fs::write(src.path().join("hdr/a.hlog"), b"log").unwrap();
        let key = ResultsKey::generate();
        let sealed = encrypt_dir(src.path(), &key).unwrap();
        let parent = tempfile::tempdir().unwrap();
        let out = parent.path().join("run");
        let files = decrypt_to_dir(&sealed, &key, &out).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(std::fs::read(out.join("hdr/a.hlog")).unwrap(), b"log");
        // Only the directory: no staging directory is left beside it.
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 1);
        // Again into the same directory: refused, nothing changed.
        std::fs::write(out.join("result.json"), b"mine").unwrap();
        let e = decrypt_to_dir(&sealed, &key, &out).unwrap_err();
        assert!(e.to_string().contains("is not empty"), "{e}");
        assert_eq!(std::fs::read(out.join("result.json")).unwrap(), b"mine");
        // A wrong key writes nothing at all.
        let other = parent.path().join("other");
        assert!(decrypt_to_dir(&sealed, &ResultsKey::generate(), &other).is_err());
        assert!(!other.exists());
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 1);
        // An empty directory is taken.
        let empty = parent.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        decrypt_to_dir(&sealed, &key, &empty).unwrap();
        assert_eq!(std::fs::read(empty.join("result.json")).unwrap(), b"{}");
    }

    #[test]
    fn paths_stay_inside() {
        assert!(safe_relative("hdr/a.hlog").is_some());
        assert!(safe_relative("../x").is_none());
        assert!(safe_relative("/etc/passwd").is_none());
        assert!(safe_relative("").is_none());
    }
}
