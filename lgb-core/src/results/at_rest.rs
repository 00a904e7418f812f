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

/// Files under `dir`, as (`/`-separated relative path, absolute path), sorted by path.
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
            } else if kind.is_file() {
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

/// Decrypts a blob made by [`encrypt_dir`] into `out` (created if needed) and returns
/// the files written. A wrong key and a damaged file are the same error: the
/// authentication tag does not match.
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
    for (name, content) in entries {
        let rel = safe_relative(&name).ok_or_else(|| {
            Error::Backend(format!(
                "refusing a path outside the output directory: {name:?}"
            ))
        })?;
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        fs::write(&path, content)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        files.push(path);
    }
    Ok(files)
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

/// Uploads every file of the results directory `dir` to
/// `s3://bucket/prefix/<dir name>/<file>` (or, when `dir` is a file such as an
/// encrypted `.lgbenc`, to `s3://bucket/prefix/<file name>`) and returns the keys
/// written.
#[cfg(feature = "s3")]
pub async fn upload_dir(
    dir: &Path,
    to: &S3Location,
    options: &UploadOptions,
) -> Result<Vec<String>> {
    s3::upload_dir(dir, to, options).await
}

/// Uploads a results directory to S3; this build has no S3 support.
#[cfg(not(feature = "s3"))]
pub async fn upload_dir(
    _dir: &Path,
    _to: &S3Location,
    _options: &UploadOptions,
) -> Result<Vec<String>> {
    Err(Error::Unsupported(
        "S3 upload is not compiled in; enable feature `s3`".into(),
    ))
}

#[cfg(feature = "s3")]
mod s3 {
    use std::path::Path;

    use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::ServerSideEncryption;

    use super::{files_of, S3Location, UploadOptions};
    use crate::error::{Error, Result};
    use crate::redact::redact;

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
                    Some("NoSuchBucket") => Error::NotFound(msg),
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

    pub(super) async fn upload_dir(
        dir: &Path,
        to: &S3Location,
        options: &UploadOptions,
    ) -> Result<Vec<String>> {
        let base = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::config("dir", format!("{} has no file name", dir.display())))?;
        // A directory goes under its name (the run id); a single file (an encrypted
        // `.lgbenc`) goes as it is.
        let files = if dir.is_file() {
            vec![(String::new(), dir.to_path_buf())]
        } else {
            files_of(dir)?
        };
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
        let client = aws_sdk_s3::Client::from_conf(conf);
        let mut keys = Vec::new();
        for (name, path) in files {
            let rel = if name.is_empty() {
                base.clone()
            } else {
                format!("{base}/{name}")
            };
            let key = if to.prefix.is_empty() {
                rel
            } else {
                format!("{}/{rel}", to.prefix)
            };
            let body = ByteStream::from_path(&path).await.map_err(|e| Error::Io {
                context: format!("reading {}", path.display()),
                source: std::io::Error::other(e.to_string()),
            })?;
            let mut put = client
                .put_object()
                .bucket(&to.bucket)
                .key(&key)
                .content_type(content_type(&key))
                .body(body);
            put = match &options.kms_key_id {
                Some(kms) => put
                    .server_side_encryption(ServerSideEncryption::AwsKms)
                    .ssekms_key_id(kms),
                None => put.server_side_encryption(ServerSideEncryption::Aes256),
            };
            put.send()
                .await
                .map_err(|e| from_sdk(&e, &format!("uploading s3://{}/{key}", to.bucket)))?;
            keys.push(key);
        }
        Ok(keys)
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
    fn paths_stay_inside() {
        assert!(safe_relative("hdr/a.hlog").is_some());
        assert!(safe_relative("../x").is_none());
        assert!(safe_relative("/etc/passwd").is_none());
        assert!(safe_relative("").is_none());
    }
}
