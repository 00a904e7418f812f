//! Secrets from AWS Secrets Manager, for the adapters that take a password or token
//! from there (`password_secret_id`, `token_secret_id`). One file, so that the IAM
//! table (`iam.rs`) finds the one call it makes among each such adapter's sources.

use crate::error::{Error, Result};

/// The text of the AWS Secrets Manager secret `id` (`endpoint` for a local stand-in);
/// `path` names the option that named the secret in errors, which never carry the
/// secret. Each adapter reads its own fields out of the text.
pub(crate) async fn secret_text(id: &str, endpoint: Option<&str>, path: &str) -> Result<String> {
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
                path,
                format!(
                    "cannot read secret `{id}`: {}",
                    crate::redact::redact(
                        &aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string()
                    )
                ),
            )
        })?;
    out.secret_string()
        .map(str::to_string)
        .ok_or_else(|| Error::config(path, format!("secret `{id}` has no string value")))
}
