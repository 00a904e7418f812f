//! The InfluxDB 2 and 3 HTTP APIs as the `influxdb` adapter must call them, for the
//! API versions no local server runs (`scripts/services` runs InfluxDB 1.6.7, v1 API
//! only): a [`Recorder`] that keeps every request and answers the way InfluxDB does,
//! and the expected requests of one scenario per API ([`V2_EXPECTED`],
//! [`V3_EXPECTED`]) with their exact method, path and query, headers and body.
//!
//! The expectations and the answers are written from InfluxDB's API references
//! (v2: `/api/v2/write`, `/api/v2/buckets`, `/api/v2/orgs`, the v1-compatible
//! `/query`; v3: `/api/v3/write_lp`, `/api/v3/query_sql`, `/api/v3/configure/database`),
//! not captured from a running v2 or v3 server: docs/influxdb.md says which paths ran
//! against a real server.
//!
//! The scenario: connect with `create_database_if_missing`, write one point, read its
//! series back, on org `lgb`, bucket/database `bench`, token `test-token`, measurement
//! `cpu`, key tag `hostname`, millisecond precision.

use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

use crate::http::{serve, Request, Response};

/// The token the scenario's options give.
pub const TOKEN: &str = "test-token";

/// The point the scenario writes, as line protocol.
pub const LINE: &str =
    "cpu,hostname=host\\ 1,region=eu\\,west usage_user=1.5,n=3i,msg=\"say \\\"hi\\\"\" 1700000000000\n";

/// One request the adapter must send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path and query, exactly as sent.
    pub path: &'static str,
    /// Headers that must be present with these values (names in lower case).
    pub headers: &'static [(&'static str, &'static str)],
    /// The body: compared as JSON when the content type is JSON, else byte for byte.
    pub body: &'static str,
}

const AUTH: (&str, &str) = ("authorization", "Token test-token");
const JSON: (&str, &str) = ("content-type", "application/json");
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const TEXT: (&str, &str) = ("content-type", "text/plain; charset=utf-8");

/// The v2 scenario: bucket lookup and creation, a write to `/api/v2/write`, a read
/// through the v1-compatible `/query` with the bucket as database.
pub const V2_EXPECTED: &[Expected] = &[
    Expected {
        method: "GET",
        path: "/api/v2/buckets?name=bench&org=lgb",
        headers: &[AUTH],
        body: "",
    },
    Expected {
        method: "GET",
        path: "/api/v2/orgs?org=lgb",
        headers: &[AUTH],
        body: "",
    },
    Expected {
        method: "POST",
        path: "/api/v2/buckets",
        headers: &[AUTH, JSON],
        body: r#"{"orgID":"0a1b2c3d4e5f6a7b","name":"bench","retentionRules":[]}"#,
    },
    Expected {
        method: "POST",
        path: "/api/v2/write?org=lgb&bucket=bench&precision=ms",
        headers: &[AUTH, TEXT],
        body: LINE,
    },
    Expected {
        method: "POST",
        path: "/query",
        headers: &[AUTH, FORM],
        body: "db=bench&q=SELECT+*+FROM+%22cpu%22+WHERE+%22hostname%22+%3D+%27host+1%27+AND+time+%3E%3D+now%28%29+-+86400000ms+GROUP+BY+*+ORDER+BY+time+DESC+LIMIT+1&epoch=ms",
    },
];

/// The v3 scenario: database creation, a write to `/api/v3/write_lp`, a read through
/// `/api/v3/query_sql`.
pub const V3_EXPECTED: &[Expected] = &[
    Expected {
        method: "POST",
        path: "/api/v3/configure/database",
        headers: &[AUTH, JSON],
        body: r#"{"db":"bench"}"#,
    },
    Expected {
        method: "POST",
        path: "/api/v3/write_lp?db=bench&precision=millisecond",
        headers: &[AUTH, TEXT],
        body: LINE,
    },
    Expected {
        method: "POST",
        path: "/api/v3/query_sql",
        headers: &[AUTH, JSON],
        body: r#"{"db":"bench","format":"json","q":"SELECT * FROM \"cpu\" WHERE \"hostname\" = 'host 1' AND time >= now() - INTERVAL '86400000 milliseconds' ORDER BY time DESC LIMIT 1"}"#,
    },
];

/// What InfluxDB 2 or 3 answers the scenario's requests: 204 to writes, the bucket
/// and org lists, 201 to a created bucket, 200 to a created database, and the point
/// back to queries (InfluxQL series JSON on `/query`, rows on `/api/v3/query_sql`).
pub fn answer(req: &Request) -> Response {
    let path = req.path.split('?').next().unwrap_or("");
    match (req.method.as_str(), path) {
        ("POST", "/api/v2/write" | "/api/v3/write_lp") => Response::new(204, ""),
        ("GET", "/api/v2/buckets") => Response::json(200, r#"{"buckets":[]}"#),
        ("GET", "/api/v2/orgs") => {
            Response::json(200, r#"{"orgs":[{"id":"0a1b2c3d4e5f6a7b","name":"lgb"}]}"#)
        }
        ("POST", "/api/v2/buckets") => Response::json(201, r#"{"id":"b1","name":"bench"}"#),
        ("POST", "/api/v3/configure/database") => Response::new(200, ""),
        ("POST", "/query") => Response::json(
            200,
            r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"hostname":"host 1","region":"eu,west"},"columns":["time","msg","n","usage_user"],"values":[[1700000000000,"say \"hi\"",3,1.5]]}]}]}"#,
        ),
        ("POST", "/api/v3/query_sql") => Response::json(
            200,
            r#"[{"hostname":"host 1","region":"eu,west","time":"2023-11-14T22:13:20","msg":"say \"hi\"","n":3,"usage_user":1.5}]"#,
        ),
        _ => Response::json(404, r#"{"code":"not found","message":"path not found"}"#),
    }
}

/// A server on 127.0.0.1 that keeps every request and answers with a closure.
pub struct Recorder {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    task: JoinHandle<()>,
}

impl Recorder {
    /// Starts a recorder answering with `respond` (for example [`answer`]).
    pub async fn start<F>(respond: F) -> Recorder
    where
        F: Fn(&Request) -> Response + Send + Sync + 'static,
    {
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let kept = requests.clone();
        let respond = Arc::new(respond);
        let (url, task) = serve(move |req| {
            let answer = respond(&req);
            kept.lock().expect("recorder lock").push(req);
            async move { answer }
        })
        .await;
        Recorder {
            url,
            requests,
            task,
        }
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("recorder lock").clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Panics, naming the first difference, unless `recorded` are exactly the `expected`
/// requests in order (headers: those expected must be there with their values;
/// `content-encoding` must be absent, as the scenario does not gzip).
pub fn assert_requests(recorded: &[Request], expected: &[Expected]) {
    let got: Vec<String> = recorded
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(recorded.len(), expected.len(), "requests sent: {got:#?}");
    for (i, (r, e)) in recorded.iter().zip(expected).enumerate() {
        assert_eq!(r.method, e.method, "request {i}: {got:?}");
        assert_eq!(r.path, e.path, "request {i}");
        for (name, value) in e.headers {
            assert_eq!(
                r.header(name),
                Some(*value),
                "request {i} ({}) header {name}",
                e.path
            );
        }
        assert_eq!(r.header("content-encoding"), None, "request {i}");
        if r.header("content-type") == Some("application/json") {
            let want: serde_json::Value =
                serde_json::from_str(e.body).expect("an expected JSON body parses");
            assert_eq!(r.json(), want, "request {i} ({}) body", e.path);
        } else {
            assert_eq!(
                String::from_utf8_lossy(&r.body),
                e.body,
                "request {i} ({}) body",
                e.path
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_expected_request_has_an_answer() {
        for e in V2_EXPECTED.iter().chain(V3_EXPECTED) {
            let req = Request {
                method: e.method.into(),
                path: e.path.into(),
                headers: Vec::new(),
                body: e.body.as_bytes().to_vec(),
            };
            assert_ne!(answer(&req).status, 404, "{}", e.path);
        }
    }
}
