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

/// What a hidden value becomes.
const REDACTED: &str = "[REDACTED]";

/// Replaces secret-looking values in `text` with `[REDACTED]`:
///
/// - **credentials in URLs**: the user information of any `scheme://user:pass@host`
///   (also a user name alone, which is often a token, and `:\/\/` as JSON escapes
///   it) becomes `scheme://[REDACTED]@host`. The user information ends at the last
///   `@` before the host's `/`, `?`, `#`, whitespace or quote, so a password with an
///   unescaped `@` is hidden whole. When no `@` comes before those but the authority
///   reads `name:rest`, the password may hold one of them (`/` is common in generated
///   passwords): the user information then runs to the last `@` of the same word, and
///   when `rest` is not a port (a password with a space), of the first word with an
///   `@` on the same line. That hides too much of a URL with a port and an `@` in its
///   path (`http://host:80/a@b`), and still shows the rest of a password that holds
///   both an `@` and a `/`, `?` or `#`, or a space after digits, without escaping
///   them (neither is a URL any client sends).
/// - **values after a secret word** (`password`, `secret`, `token`, …, also in a
///   longer name such as `db_password`, `PGPASSWORD`, `accessToken` or `secret_key`,
///   but not `ExpiredTokenException`) and `=` or `:`:
///   - a quoted value (`"…"` or `'…'`, also `\"…\"` inside an escaped JSON string) is
///     hidden up to its closing quote, escapes included, whatever it holds;
///   - an unquoted value is hidden up to a newline, `&` or `;`, or the start of the
///     next `name=` pair (after a comma or whitespace), or `, "` (the next JSON
///     member), or a quote or closing bracket that ends the text around it (one
///     followed by the end, a comma, `;`, a bracket or a quote, and for a quote
///     also whitespace or `:`). Spaces and commas alone never end it: in
///     `password=hunter 2, more` all of `hunter 2, more` is hidden. This may hide
///     more than the password (the rest of a sentence after it); it leaks a part of
///     a password only when the password itself contains one of those ends, such as
///     `a b=c` or `x&y`.
/// - AWS access key ids (`AKIA…`/`ASIA…`) and 40-character
///   secret-access-key-shaped tokens.
///
/// Redacting its output again changes nothing in these shapes (`[REDACTED]` is not
/// taken for a secret).
///
/// ```
/// let s = lgb_core::redact::redact("login failed: password=hunter2 for AKIAIOSFODNN7EXAMPLE");
/// assert!(!s.contains("hunter2") && !s.contains("AKIAIOSFODNN7EXAMPLE"));
/// let s = lgb_core::redact::redact("GET https://bob:s3cr3t@db.example/x: refused");
/// assert_eq!(s, "GET https://[REDACTED]@db.example/x: refused");
/// ```
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let lower = text.to_ascii_lowercase();
    let lower = lower.as_bytes();
    let bytes = text.as_bytes();
    // Every index where the loop resumes is an ASCII byte or the end, so slicing
    // `text` there is always on a character boundary.
    let mut i = 0;
    while i < bytes.len() {
        // `scheme://user:pass@host`: keep the scheme and the host.
        if let Some((start, at)) = url_userinfo(bytes, i) {
            out.push_str(&text[i..start]);
            out.push_str(REDACTED);
            i = at;
            continue;
        }
        // A secret word followed by a separator: keep the word, hide the value.
        if let Some((start, end)) = secret_value(bytes, lower, i) {
            out.push_str(&text[i..start]);
            out.push_str(REDACTED);
            i = end;
            continue;
        }
        // A token: AWS key ids and secret keys.
        if bytes[i].is_ascii_alphanumeric() && (i == 0 || !is_token_byte(bytes[i - 1])) {
            let end = (i..bytes.len())
                .find(|&k| !is_token_byte(bytes[k]))
                .unwrap_or(bytes.len());
            let tok = &text[i..end];
            if looks_like_key_id(tok) || looks_like_secret_key(tok) {
                out.push_str(REDACTED);
                i = end;
                continue;
            }
            // A secret word that ends a longer name (`PGPASSWORD=…`, `"accessToken":
            // …`): go on from the word, where the check above finds it. A word inside
            // a name (`ExpiredTokenException: …`) is not a secret's name.
            let ends_name = |p: usize| {
                SECRET_WORDS.iter().any(|w| {
                    lower[p..].starts_with(w.as_bytes())
                        && !bytes
                            .get(p + w.len())
                            .is_some_and(u8::is_ascii_alphanumeric)
                })
            };
            if let Some(p) =
                (i + 1..end).find(|&p| ends_name(p) && secret_value(bytes, lower, p).is_some())
            {
                out.push_str(&text[i..p]);
                i = p;
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

/// Where the user information of a URL whose `://` (or `:\/\/`) is at `i` starts, and
/// where its `@` is; `None` when the URL has none.
fn url_userinfo(bytes: &[u8], i: usize) -> Option<(usize, usize)> {
    let rest = &bytes[i..];
    let start = if rest.starts_with(b"://") {
        i + 3
    } else if rest.starts_with(b":\\/\\/") {
        i + 5
    } else {
        return None;
    };
    let quote = |b: u8| matches!(b, b'"' | b'\'' | b'<' | b'>' | b'`');
    let authority_end = (start..bytes.len())
        .find(|&k| {
            let b = bytes[k];
            matches!(b, b'/' | b'?' | b'#' | b'\\') || quote(b) || b.is_ascii_whitespace()
        })
        .unwrap_or(bytes.len());
    let authority = &bytes[start..authority_end];
    if let Some(at) = authority.iter().rposition(|&b| b == b'@') {
        return (at > 0).then_some((start, start + at));
    }
    // No `@` in the authority, yet a `name:rest` in it: the password may hold a `/`,
    // `?` or `#` (`u:12/ab@host`), or, when `rest` is no port, a space.
    if authority.first() == Some(&b'[') {
        return None; // an IPv6 address
    }
    let colon = authority.iter().position(|&b| b == b':')?;
    let port = authority[colon + 1..].iter().all(u8::is_ascii_digit);
    let line_end = |b: u8| b == b'\n' || b == b'\r' || quote(b);
    // With a port, the user information ends at whitespace too.
    let ends = |b: u8| line_end(b) || (port && b.is_ascii_whitespace());
    let first_at = (authority_end..bytes.len())
        .take_while(|&k| !ends(bytes[k]))
        .find(|&k| bytes[k] == b'@')?;
    let word_end = (first_at..bytes.len())
        .find(|&k| line_end(bytes[k]) || bytes[k].is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let at = (first_at..word_end).rev().find(|&k| bytes[k] == b'@')?;
    Some((start, at))
}

/// Where the value after a secret word at `i` starts and ends (both inside its quotes,
/// if it has them); `None` when no secret word with a separator and a value is there.
fn secret_value(bytes: &[u8], lower: &[u8], i: usize) -> Option<(usize, usize)> {
    let word = SECRET_WORDS
        .iter()
        .find(|w| lower[i..].starts_with(w.as_bytes()))?;
    let n = bytes.len();
    let mut j = i + word.len();
    // A suffix such as `_key` or `-token`, then the key's closing quote (escaped, too).
    while j < n && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b'-') {
        j += 1;
    }
    // `password_env: …`, `password_secret_id = …` name where a secret lives, not the
    // secret: a message about them must stay readable.
    if names_a_place(&lower[i..j]) {
        return None;
    }
    while j < n && matches!(bytes[j], b'"' | b'\'' | b'\\') {
        j += 1;
    }
    while j < n && matches!(bytes[j], b' ' | b'\t') {
        j += 1;
    }
    if j >= n || !matches!(bytes[j], b'=' | b':') {
        return None;
    }
    j += 1;
    while j < n && matches!(bytes[j], b' ' | b'\t') {
        j += 1;
    }
    if bytes[j..].starts_with(REDACTED.as_bytes()) {
        // Already hidden (redacting twice changes nothing).
        return Some((j, j + REDACTED.len()));
    }
    let (start, end) = match bytes.get(j) {
        Some(&q @ (b'"' | b'\'')) => (j + 1, quoted_end(bytes, j + 1, q)),
        Some(b'\\') if bytes.get(j + 1) == Some(&b'"') => (j + 2, escaped_quoted_end(bytes, j + 2)),
        Some(_) => (j, unquoted_end(bytes, j)),
        None => return None,
    };
    (end > start).then_some((start, end))
}

/// The closing `quote` of a value starting at `start` (backslash escapes skipped, and
/// `''` inside single quotes); the end of the text when it is not closed.
fn quoted_end(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut k = start;
    while k < bytes.len() {
        match bytes[k] {
            b'\\' => k += 2,
            b if b == quote => {
                if quote == b'\'' && k > start && bytes.get(k + 1) == Some(&b'\'') {
                    k += 2;
                } else {
                    return k;
                }
            }
            _ => k += 1,
        }
    }
    bytes.len()
}

/// The closing `\"` of a value inside a JSON string that holds JSON
/// (`"{\"password\": \"a \\\" b\"}"`): unescapes one level and stops at the first
/// quote the inner level does not escape, or at an unescaped `"` (the outer string's
/// end).
fn escaped_quoted_end(bytes: &[u8], start: usize) -> usize {
    let mut k = start;
    let mut inner_escape = false;
    while k < bytes.len() {
        let (c, width) = match bytes[k] {
            b'\\' if k + 1 < bytes.len() => (bytes[k + 1], 2),
            b'"' => return k,
            b => (b, 1),
        };
        // After one level of unescaping, `c` is a character of the inner string.
        if inner_escape {
            inner_escape = false;
        } else if c == b'\\' {
            inner_escape = true;
        } else if c == b'"' {
            return k;
        }
        k += width;
    }
    bytes.len()
}

/// The end of an unquoted value starting at `start` (see [`redact`] for the rule).
fn unquoted_end(bytes: &[u8], start: usize) -> usize {
    let n = bytes.len();
    let mut k = start;
    while k < n {
        let next = bytes.get(k + 1).copied();
        match bytes[k] {
            b'\n' | b'\r' | b'&' | b';' => return k,
            b'"' | b'\''
                if next.is_none_or(|b| {
                    b.is_ascii_whitespace()
                        || matches!(b, b',' | b':' | b';' | b'&' | b'}' | b']' | b')')
                }) =>
            {
                // `\"` ends an escaped string: keep its backslash.
                return if k > start && bytes[k - 1] == b'\\' {
                    k - 1
                } else {
                    k
                };
            }
            b'}' | b']' | b')'
                if next.is_none_or(|b| {
                    matches!(
                        b,
                        b'\n' | b'\r' | b',' | b';' | b'&' | b'"' | b'\'' | b'}' | b']' | b')'
                    )
                }) =>
            {
                return k
            }
            b',' | b' ' | b'\t' if next_pair_follows(bytes, k) => return k,
            _ => {}
        }
        k += 1;
    }
    n
}

/// Whether the commas and blanks at `k` lead to the next `name=` pair, or (after a
/// comma) to a quote: the next JSON member.
fn next_pair_follows(bytes: &[u8], k: usize) -> bool {
    let n = bytes.len();
    let mut m = k;
    let mut comma = false;
    while m < n && matches!(bytes[m], b',' | b' ' | b'\t') {
        comma |= bytes[m] == b',';
        m += 1;
    }
    if m >= n {
        return false;
    }
    if comma && matches!(bytes[m], b'"' | b'\'') {
        return true;
    }
    if !(bytes[m].is_ascii_alphabetic() || bytes[m] == b'_') {
        return false;
    }
    while m < n && (bytes[m].is_ascii_alphanumeric() || matches!(bytes[m], b'_' | b'.' | b'-')) {
        m += 1;
    }
    while m < n && matches!(bytes[m], b' ' | b'\t') {
        m += 1;
    }
    m < n && bytes[m] == b'='
}

/// Whether a JSON object key names a secret (`password`, `secret_key`, `token`…) rather
/// than where a secret lives (`password_env`, `secret_id`, `secret_arn`).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    !names_a_place(k.as_bytes()) && SECRET_WORDS.iter().any(|w| k.contains(w))
}

/// Endings of a name that says where a secret lives rather than holding it
/// (`password_env`, `password_secret_id`, `token_arn`, `secrets_manager_endpoint`).
const PLACE_SUFFIXES: [&str; 7] = ["_id", "_arn", "_env", "_name", "_var", "_file", "_endpoint"];

/// Whether the lower-case name `name` ends with one of [`PLACE_SUFFIXES`].
fn names_a_place(name: &[u8]) -> bool {
    PLACE_SUFFIXES.iter().any(|s| name.ends_with(s.as_bytes()))
}

/// Redacts a JSON document in place: values under secret-named keys become
/// `"[REDACTED]"`, and every other string goes through [`redact`] (so the credentials
/// of a URL in any string, such as an `endpoint` of `https://user:pass@host`, are
/// hidden too).
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

    /// `redact(input) == want`, and redacting again changes nothing.
    fn check(input: &str, want: &str) {
        let got = redact(input);
        assert_eq!(got, want, "redact({input:?})");
        assert_eq!(redact(&got), got, "redacting {got:?} again");
    }

    #[test]
    fn credentials_in_urls_are_hidden_for_any_scheme() {
        check(
            "https://user:pass@host.example/path?q=1",
            "https://[REDACTED]@host.example/path?q=1",
        );
        check(
            "postgres://bob:pw@db:5432/bench",
            "postgres://[REDACTED]@db:5432/bench",
        );
        check(
            "mongodb+srv://u:p@cluster0.example.net/?retryWrites=true",
            "mongodb+srv://[REDACTED]@cluster0.example.net/?retryWrites=true",
        );
        // A user name alone is often a token.
        check(
            "cloning https://ghp_abc123@github.com/o/r.git failed",
            "cloning https://[REDACTED]@github.com/o/r.git failed",
        );
        // Inside a longer message, with an empty user name.
        check(
            "connect to redis://:hunter2@cache:6379 failed: connection refused",
            "connect to redis://[REDACTED]@cache:6379 failed: connection refused",
        );
        // Inside JSON text, and JSON text whose slashes are escaped.
        check(
            r#"{"endpoint":"https://u:p@host.example/x","n":1}"#,
            r#"{"endpoint":"https://[REDACTED]@host.example/x","n":1}"#,
        );
        check(
            r#"{\"url\":\"https:\/\/u:p@h.example\/x\"}"#,
            r#"{\"url\":\"https:\/\/[REDACTED]@h.example\/x\"}"#,
        );
    }

    #[test]
    fn url_passwords_with_at_slash_or_space_are_hidden_whole() {
        check("https://u:p@ss@host/x", "https://[REDACTED]@host/x");
        check("https://u:ab/cd+ef@host/x", "https://[REDACTED]@host/x");
        check("https://u:ab#cd@host/x", "https://[REDACTED]@host/x");
        check("https://u:12/ab@host/x", "https://[REDACTED]@host/x");
        check("https://u:/ab@host/x", "https://[REDACTED]@host/x");
        check(
            "GET https://u:my pass@host/x: 403",
            "GET https://[REDACTED]@host/x: 403",
        );
        for leak in ["p@ss", "ab/cd", "my pass", "pass"] {
            for url in [
                "https://u:p@ss@host/x",
                "https://u:ab/cd+ef@host/x",
                "GET https://u:my pass@host/x: 403",
            ] {
                if url.contains(leak) {
                    assert!(!redact(url).contains(leak), "{leak} leaked from {url}");
                }
            }
        }
    }

    #[test]
    fn urls_without_credentials_are_unchanged() {
        for text in [
            "https://abcdef.lambda-url.eu-west-1.on.aws/",
            "Function URL http://127.0.0.1:9/: error sending request for url (http://127.0.0.1:9/)",
            "http://[::1]:8080/x and http://host:/y",
            "s3://bucket/results/run@2",
            "https://host.example/path/user@example.com",
            "see https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html; mail admin@example.com",
            "mailto:admin@example.com",
            "arn:aws:lambda:eu-west-1:123456789012:function:lgb-dynamodb",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn quoted_passwords_are_hidden_up_to_the_closing_quote() {
        check(
            r#"{"password": "a b,c", "user": "bob"}"#,
            r#"{"password": "[REDACTED]", "user": "bob"}"#,
        );
        check(
            r#"{"password":"a\"b, c","user":"bob"}"#,
            r#"{"password":"[REDACTED]","user":"bob"}"#,
        );
        check("password: 'x y'", "password: '[REDACTED]'");
        check(
            "password: 'it''s x', user: bob",
            "password: '[REDACTED]', user: bob",
        );
        check(
            "PASSWORD = \"x, y\" port=1",
            "PASSWORD = \"[REDACTED]\" port=1",
        );
        // JSON inside a JSON string: the inner quotes are escaped, and the password's
        // own quote twice.
        check(
            r#"{"error": "{\"password\": \"a \\\" b, c\", \"user\": \"bob\"}"}"#,
            r#"{"error": "{\"password\": \"[REDACTED]\", \"user\": \"bob\"}"}"#,
        );
        // An unclosed quote hides the rest.
        check("password=\"a b", "password=\"[REDACTED]");
    }

    #[test]
    fn unquoted_passwords_with_spaces_and_commas_are_hidden_whole() {
        check("password=hunter 2, more", "password=[REDACTED]");
        check(
            "auth failed (user=bob password=hunter 2, more)",
            "auth failed (user=bob password=[REDACTED])",
        );
        // The next `name=` pair, `&`, `;` and a newline end the value.
        check(
            "host=db user=bob password=hunter 2 dbname=bench sslmode=require",
            "host=db user=bob password=[REDACTED] dbname=bench sslmode=require",
        );
        check(
            "user=bob, password=a b, c, db=bench",
            "user=bob, password=[REDACTED], db=bench",
        );
        check(
            "Server=db;Password=hunter 2;Database=bench",
            "Server=db;Password=[REDACTED];Database=bench",
        );
        check(
            "GET /login?user=bob&password=a b&next=1",
            "GET /login?user=bob&password=[REDACTED]&next=1",
        );
        check(
            "password=a b\nsecond line",
            "password=[REDACTED]\nsecond line",
        );
        // Inside a JSON string: its closing quote ends the value.
        check(
            r#"{"error": "login failed password=a b, c", "code": 1}"#,
            r#"{"error": "login failed password=[REDACTED]", "code": 1}"#,
        );
        check(
            r#"{"token": 12 34, "n": 1}"#,
            r#"{"token": [REDACTED], "n": 1}"#,
        );
        // A header value with a scheme word, and a secret word inside a longer name.
        check("Authorization: Bearer abc.def", "Authorization: [REDACTED]");
        check("PGPASSWORD=hunter 2", "PGPASSWORD=[REDACTED]");
        check(
            r#"{"accessToken": "a b", "n": 1}"#,
            r#"{"accessToken": "[REDACTED]", "n": 1}"#,
        );
        // Over-redacts the rest of a sentence rather than leak a password's tail.
        check("password=hunter 2 is wrong for bob", "password=[REDACTED]");
        // A quote inside the password does not end it.
        check("password=it's a secret", "password=[REDACTED]");
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        for text in [
            "plain timeout after 10s",
            "GetItem on bench: ProvisionedThroughputExceededException: rate of requests exceeds",
            "worker 3 of 10 answered for run `x`, not `y`",
            "secret_id prod/immudb not found",
            "the password is wrong, try again",
            "tokens used: 5",
            "ExpiredTokenException: The security token included in the request is expired",
            "InvalidClientTokenId: The security token included in the request is invalid",
            "p99 = 12.5 ms, ops=1000; errors: none",
            "{\"type\": \"memory\", \"records\": 100}",
            "été 2025: 3 × faster",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn json_string_values_lose_url_credentials() {
        let mut v = serde_json::json!({
            "endpoint": "https://u:p@host.example/",
            "runner": {"url": "https://abc.lambda-url.eu-west-1.on.aws/"},
            "notes": ["password=a b, c"],
        });
        redact_json(&mut v);
        assert_eq!(v["endpoint"], "https://[REDACTED]@host.example/");
        assert_eq!(
            v["runner"]["url"],
            "https://abc.lambda-url.eu-west-1.on.aws/"
        );
        assert_eq!(v["notes"][0], "password=[REDACTED]");
    }

    #[test]
    fn names_of_where_a_secret_lives_keep_their_values() {
        for text in [
            "database.password_env: `AWS_SECRET_ACCESS_KEY` is not a secret's variable",
            "database.password_secret_id: secret `arn:x` is missing",
            "database.secrets_manager_endpoint: `http://10.0.0.1` is not deployed",
        ] {
            assert_eq!(redact(text), text);
        }
        assert_eq!(redact("password: hunter2"), "password: [REDACTED]");
    }
}
