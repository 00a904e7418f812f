//! A small HTTP/1.1 test server on 127.0.0.1 and the message framing every server and
//! proxy of the kit uses. It owns reading and writing whole messages (Content-Length
//! or chunked bodies); it must not know about any service's protocol: what to answer
//! is the handler's business.
//!
//! The server answers one request per connection (`connection: close`), which every
//! client under test (the AWS SDK, reqwest) handles by opening a new connection.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A request as the server read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    /// Header names in lower case, values trimmed, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Request {
    /// The value of header `name` (any case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_of(&self.headers, name)
    }

    /// The last dot-separated part of `x-amz-target` (`GetItem` for
    /// `DynamoDB_20120810.GetItem`), or `""`: the operation of an AWS JSON request.
    pub fn amz_operation(&self) -> &str {
        self.header("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("")
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The same request with another body.
    pub fn with_body(&self, body: impl Into<Vec<u8>>) -> Request {
        Request {
            body: body.into(),
            ..self.clone()
        }
    }
}

/// A response: written with `content-length` and `connection: close`, which the
/// writer adds (any such headers here are left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers as `(name, value)`.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response without headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A response with `content-type: application/json`.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::new(status, body).with_header("content-type", "application/json")
    }

    /// The same response with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The value of header `name` (any case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_of(&self.headers, name)
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json_body(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

fn header_of<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Serves on a free port of 127.0.0.1 until the returned task is aborted: every
/// request is answered with what `handler` returns. Returns the base URL
/// (`http://127.0.0.1:PORT`) and the accept loop's task.
pub async fn serve<F, Fut>(handler: F) -> (String, JoinHandle<()>)
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    serve_or_close(move |req| {
        let answer = handler(req);
        async move { Some(answer.await) }
    })
    .await
}

/// Like [`serve`], but a handler that returns `None` closes the connection without
/// answering (a server that died mid-request).
pub async fn serve_or_close<F, Fut>(handler: F) -> (String, JoinHandle<()>)
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<Response>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a test server on 127.0.0.1");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handler = Arc::new(handler);
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let Ok(Some(request)) = read_request(&mut socket).await else {
                    return;
                };
                if let Some(response) = handler(request).await {
                    let _ = write_response(&mut socket, &response).await;
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, task)
}

/// Reads one request; `None` when the peer closed before sending one.
pub async fn read_request<S: AsyncRead + Unpin>(conn: &mut S) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let Some((raw, _)) = read_message(conn, &mut buf, false).await? else {
        return Ok(None);
    };
    let (start, headers, body) = split_message(&raw)?;
    let mut words = start.split_whitespace();
    let method = words.next().unwrap_or_default().to_string();
    let path = words.next().unwrap_or_default().to_string();
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}

/// Writes `response` with `content-length` and `connection: close`.
pub async fn write_response<S: AsyncWrite + Unpin>(
    conn: &mut S,
    response: &Response,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    push_headers(&mut head, &response.headers, response.body.len());
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(&response.body).await?;
    conn.flush().await
}

/// Sends `request` to `upstream` (`host:port` or `http://host:port`) on a connection
/// of its own and returns the response, body de-chunked.
pub async fn send(upstream: &str, request: &Request) -> std::io::Result<Response> {
    let upstream = upstream.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = TcpStream::connect(upstream).await?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
    push_headers(&mut head, &request.headers, request.body.len());
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(&request.body).await?;
    let mut buf = Vec::new();
    let Some((raw, _)) = read_message(&mut conn, &mut buf, true).await? else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "upstream closed without answering",
        ));
    };
    let (start, headers, body) = split_message(&raw)?;
    let status = start
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {start:?}")))?;
    Ok(Response {
        status,
        headers: headers
            .into_iter()
            .filter(|(k, _)| k != "transfer-encoding")
            .collect(),
        body,
    })
}

/// Headers other than the framing ones, then `content-length` and `connection: close`.
fn push_headers(head: &mut String, headers: &[(String, String)], body_len: usize) {
    for (k, v) in headers {
        if !["content-length", "connection", "transfer-encoding"]
            .iter()
            .any(|f| k.eq_ignore_ascii_case(f))
        {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!(
        "content-length: {body_len}\r\nconnection: close\r\n\r\n"
    ));
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Status",
    }
}

fn invalid(why: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why)
}

/// A message's start line, headers (names lower case) and de-chunked body.
type Parts = (String, Vec<(String, String)>, Vec<u8>);

/// The [`Parts`] of a raw message.
fn split_message(raw: &[u8]) -> std::io::Result<Parts> {
    let head_end = find(raw, b"\r\n\r\n").ok_or_else(|| invalid("no end of head".into()))?;
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let start = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = &raw[head_end + 4..];
    let chunked = header_of(&headers, "transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok((start, headers, body))
}

/// The data of a complete chunked body.
fn dechunk(mut b: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(p) = find(b, b"\r\n") {
        let size_text = String::from_utf8_lossy(&b[..p]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .map_err(|_| invalid(format!("bad chunk size {size_text:?}")))?;
        if size == 0 {
            break;
        }
        let data = b
            .get(p + 2..p + 2 + size)
            .ok_or_else(|| invalid("short chunk".into()))?;
        out.extend_from_slice(data);
        b = b.get(p + 2 + size + 2..).unwrap_or_default();
    }
    Ok(out)
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads more bytes into `buf`; false at end of stream.
async fn fill<S: AsyncRead + Unpin>(conn: &mut S, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let n = conn.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

/// Reads one complete HTTP/1.1 message (raw bytes, to forward as they are) and the
/// instant its first byte arrived. `None` when the peer closed between messages.
/// Bytes past the message stay in `buf` (pipelining); `response` says how to find
/// the end of a message without a length (a response runs to the end of the
/// connection, a request has no body).
pub async fn read_message<S: AsyncRead + Unpin>(
    conn: &mut S,
    buf: &mut Vec<u8>,
    response: bool,
) -> std::io::Result<Option<(Vec<u8>, Instant)>> {
    let eof = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed mid-message");
    while buf.is_empty() {
        if !fill(conn, buf).await? {
            return Ok(None);
        }
    }
    let first = Instant::now();
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if !fill(conn, buf).await? {
            return Err(eof());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
    };
    let chunked = header("transfer-encoding:").is_some_and(|v| v.contains("chunked"));
    let length = header("content-length:").and_then(|v| v.parse::<usize>().ok());
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok());
    let no_body = response && status.is_some_and(|c| c < 200 || c == 204 || c == 304);
    let end = if no_body {
        head_end
    } else if chunked {
        let mut at = head_end;
        loop {
            // Chunk size line.
            let line_end = loop {
                if let Some(i) = find(&buf[at..], b"\r\n") {
                    break at + i;
                }
                if !fill(conn, buf).await? {
                    return Err(eof());
                }
            };
            let size_text = String::from_utf8_lossy(&buf[at..line_end]).to_string();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                .map_err(|_| invalid("bad chunk size".into()))?;
            at = line_end + 2;
            if size == 0 {
                // Trailers end with an empty line.
                loop {
                    if let Some(i) = find(&buf[at..], b"\r\n") {
                        let blank = i == 0;
                        at += i + 2;
                        if blank {
                            break;
                        }
                    } else if !fill(conn, buf).await? {
                        return Err(eof());
                    }
                }
                break at;
            }
            while buf.len() < at + size + 2 {
                if !fill(conn, buf).await? {
                    return Err(eof());
                }
            }
            at += size + 2;
        }
    } else if let Some(len) = length {
        while buf.len() < head_end + len {
            if !fill(conn, buf).await? {
                return Err(eof());
            }
        }
        head_end + len
    } else if response {
        // No length: the body runs to the end of the connection.
        while fill(conn, buf).await? {}
        buf.len()
    } else {
        head_end
    };
    let message: Vec<u8> = buf.drain(..end).collect();
    Ok(Some((message, first)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_round_trips_through_the_server_and_send() {
        let (url, task) = serve(|req: Request| async move {
            Response::json(201, req.body.clone())
                .with_header("x-path", &req.path)
                .with_header("x-method", &req.method)
        })
        .await;
        let req = Request {
            method: "PUT".into(),
            path: "/a?b=1".into(),
            headers: vec![("x-amz-target".into(), "DynamoDB_20120810.GetItem".into())],
            body: br#"{"k":1}"#.to_vec(),
        };
        assert_eq!(req.amz_operation(), "GetItem");
        assert_eq!(req.json()["k"], 1);
        let resp = send(&url, &req).await.unwrap();
        task.abort();
        assert_eq!(resp.status, 201);
        assert_eq!(resp.header("X-Path"), Some("/a?b=1"));
        assert_eq!(resp.header("x-method"), Some("PUT"));
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert_eq!(resp.body, br#"{"k":1}"#);
    }

    #[tokio::test]
    async fn chunked_bodies_are_read_whole_and_dechunked() {
        let raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\nNEXT";
        let mut conn: &[u8] = raw;
        let mut buf = Vec::new();
        let (message, _) = read_message(&mut conn, &mut buf, true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(buf, b"NEXT", "bytes past the message stay buffered");
        let (start, headers, body) = split_message(&message).unwrap();
        assert_eq!(start, "HTTP/1.1 200 OK");
        assert_eq!(header_of(&headers, "Transfer-Encoding"), Some("chunked"));
        assert_eq!(body, b"abcde");
        assert!(dechunk(b"zz\r\nabc").is_err());
    }

    #[tokio::test]
    async fn a_handler_returning_none_closes_without_an_answer() {
        let (url, task) = serve_or_close(|_req: Request| async { None }).await;
        let err = send(&url, &Request::default_get("/")).await.unwrap_err();
        task.abort();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
    }

    impl Request {
        fn default_get(path: &str) -> Request {
            Request {
                method: "GET".into(),
                path: path.into(),
                headers: Vec::new(),
                body: Vec::new(),
            }
        }
    }
}
