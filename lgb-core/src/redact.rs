//! Keeps secrets out of results, logs and errors: every error message that lgb stores
//! passes through [`redact`].

/// Words after which a value is a secret (`password=…`, `"secret": "…"`, `token: …`).
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "credential",
    "api_key",
    "apikey",
    "x-amz-security-token",
];

/// Replaces secret-looking values in `text` with `[REDACTED]`: values following a
/// secret word and `=`/`:`, AWS access key ids (`AKIA…`/`ASIA…`), and 40-character
/// secret-access-key-shaped tokens.
///
/// ```
/// let s = lgb_core::redact::redact("login failed: password=hunter2 for AKIAIOSFODNN7EXAMPLE");
/// assert!(!s.contains("hunter2") && !s.contains("AKIAIOSFODNN7EXAMPLE"));
/// ```
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // A secret word followed by a separator: keep the word, hide the value.
        if let Some(word) = SECRET_WORDS.iter().find(|w| lower[i..].starts_with(**w)) {
            let mut j = i + word.len();
            // Allow a suffix such as `_key` or `"` before the separator.
            while j < bytes.len()
                && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b'-')
            {
                j += 1;
            }
            let sep_start = j;
            while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b' ' | b'=' | b':') {
                j += 1;
            }
            let has_sep = bytes[sep_start..j].iter().any(|b| matches!(b, b'=' | b':'));
            if has_sep {
                let value_end = (j..bytes.len())
                    .find(|&k| {
                        matches!(
                            bytes[k],
                            b'"' | b'\'' | b' ' | b',' | b'&' | b';' | b'}' | b'\n'
                        )
                    })
                    .unwrap_or(bytes.len());
                if value_end > j {
                    out.push_str(&text[i..j]);
                    out.push_str("[REDACTED]");
                    i = value_end;
                    continue;
                }
            }
        }
        // A token: AWS key ids and secret keys.
        if bytes[i].is_ascii_alphanumeric() && (i == 0 || !is_token_byte(bytes[i - 1])) {
            let end = (i..bytes.len())
                .find(|&k| !is_token_byte(bytes[k]))
                .unwrap_or(bytes.len());
            let tok = &text[i..end];
            if looks_like_key_id(tok) || looks_like_secret_key(tok) {
                out.push_str("[REDACTED]");
                i = end;
                continue;
            }
            out.push_str(tok);
            i = end;
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Whether a JSON object key names a secret (`password`, `secret_key`, `token`…) rather
/// than where a secret lives (`password_env`, `secret_id`, `secret_arn`).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let names_a_place = ["_id", "_arn", "_env", "_name", "_var", "_file"]
        .iter()
        .any(|s| k.ends_with(s));
    !names_a_place && SECRET_WORDS.iter().any(|w| k.contains(w))
}

/// Redacts a JSON document in place: values under secret-named keys become
/// `"[REDACTED]"`, and every other string goes through [`redact`].
///
/// ```
/// let mut v = serde_json::json!({"database": {"password": "hunter2", "password_env": "PW"}});
/// lgb_core::redact::redact_json(&mut v);
/// assert_eq!(v["database"]["password"], "[REDACTED]");
/// assert_eq!(v["database"]["password_env"], "PW");
/// ```
pub fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) && !v.is_null() {
                    *v = serde_json::Value::String("[REDACTED]".into());
                } else {
                    redact_json(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        serde_json::Value::String(s) => {
            let r = redact(s);
            if r != *s {
                *s = r;
            }
        }
        _ => {}
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'/' || b == b'+'
}

fn looks_like_key_id(tok: &str) -> bool {
    tok.len() == 20
        && (tok.starts_with("AKIA") || tok.starts_with("ASIA"))
        && tok
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn looks_like_secret_key(tok: &str) -> bool {
    tok.len() == 40
        && tok.bytes().any(|b| b.is_ascii_lowercase())
        && tok.bytes().any(|b| b.is_ascii_uppercase())
        && tok
            .bytes()
            .any(|b| b.is_ascii_digit() || b == b'/' || b == b'+')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_passwords_keys_and_tokens_but_keeps_the_rest() {
        let msg = r#"connect to db1 failed: {"password": "s3cr3t!", "user": "bob"} key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY token=abc.def"#;
        let r = redact(msg);
        for secret in [
            "s3cr3t!",
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "abc.def",
        ] {
            assert!(!r.contains(secret), "{secret} leaked: {r}");
        }
        assert!(r.contains("bob") && r.contains("db1"), "{r}");
        assert_eq!(redact("plain timeout after 10s"), "plain timeout after 10s");
    }

    #[test]
    fn json_secrets_are_hidden_by_key_and_by_shape() {
        let mut v = serde_json::json!({
            "type": "immudb",
            "password": "p@ss",
            "secret_id": "prod/immudb",
            "nested": [{"aws_secret_access_key": "x"}, "AKIAIOSFODNN7EXAMPLE"],
            "partition_key": "pk"
        });
        redact_json(&mut v);
        assert_eq!(v["password"], "[REDACTED]");
        assert_eq!(v["secret_id"], "prod/immudb");
        assert_eq!(v["nested"][0]["aws_secret_access_key"], "[REDACTED]");
        assert_eq!(v["nested"][1], "[REDACTED]");
        assert_eq!(v["partition_key"], "pk");
    }
}
