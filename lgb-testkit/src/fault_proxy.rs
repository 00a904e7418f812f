//! A fault-injecting HTTP/1.1 proxy on 127.0.0.1 in front of a real local service.
//! Each request goes to a rewrite function (the hook) with an [`Exchange`]; the hook
//! decides: forward it as it is, forward a changed request, change the response,
//! answer by itself (a throttle), or never answer (a hang). The proxy owns the
//! plumbing; the hook owns what the fault is, so a service's fault proxy is a few
//! lines in its test.
//!
//! One request per connection (it answers `connection: close`), which the AWS SDK
//! handles.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::http::{self, Request, Response};

/// What a hook can do besides looking at the request: reach the upstream service and
/// count the faults it injects.
#[derive(Debug, Clone)]
pub struct Exchange {
    upstream: Arc<str>,
    faults: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    number: u64,
}

impl Exchange {
    /// Sends `request` (the one received, or a changed one) to the upstream service
    /// and returns its response (body de-chunked).
    pub async fn forward(&self, request: &Request) -> std::io::Result<Response> {
        http::send(&self.upstream, request).await
    }

    /// Counts one injected fault; returns how many were injected before it.
    pub fn fault(&self) -> u64 {
        self.faults.fetch_add(1, Ordering::SeqCst)
    }

    /// Faults injected so far.
    pub fn faults(&self) -> u64 {
        self.faults.load(Ordering::SeqCst)
    }

    /// This request's number: 1 for the first request the proxy read.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Requests read so far (this one included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A running fault proxy; dropping it stops accepting connections.
#[derive(Debug)]
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`: the endpoint to give the client under test.
    pub endpoint: String,
    faults: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://host:port`). The hook answers each
    /// request: `Ok(response)` is sent back; `Err` closes the connection unanswered.
    pub async fn start<F, Fut>(upstream: &str, hook: F) -> FaultProxy
    where
        F: Fn(Request, Exchange) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::io::Result<Response>> + Send + 'static,
    {
        let upstream: Arc<str> = upstream.into();
        let faults = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let (f, r) = (faults.clone(), requests.clone());
        let (endpoint, task) = http::serve_or_close(move |req| {
            let exchange = Exchange {
                upstream: upstream.clone(),
                faults: f.clone(),
                requests: r.clone(),
                number: r.fetch_add(1, Ordering::SeqCst) + 1,
            };
            let answer = hook(req, exchange);
            async move { answer.await.ok() }
        })
        .await;
        FaultProxy {
            endpoint,
            faults,
            requests,
            task,
        }
    }

    /// A proxy that forwards everything unchanged.
    pub async fn transparent(upstream: &str) -> FaultProxy {
        Self::start(upstream, |req, ex| async move { ex.forward(&req).await }).await
    }

    /// Faults injected so far (what the hook counted with [`Exchange::fault`]).
    pub fn faults(&self) -> u64 {
        self.faults.load(Ordering::SeqCst)
    }

    /// Requests read so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_hook_forwards_rewrites_or_answers_itself() {
        let (upstream, task) = http::serve(|req: Request| async move {
            Response::new(200, [b"upstream saw ".as_slice(), &req.body].concat())
        })
        .await;
        let proxy = FaultProxy::start(&upstream, |req, ex| async move {
            match req.path.as_str() {
                "/rewrite" => {
                    let mut resp = ex.forward(&req.with_body("changed")).await?;
                    resp.body.extend_from_slice(b"!");
                    Ok(resp)
                }
                "/throttle" => {
                    ex.fault();
                    Ok(Response::json(429, "{}"))
                }
                "/drop" => Err(std::io::Error::other("dropped")),
                _ => ex.forward(&req).await,
            }
        })
        .await;
        let get = |path: &str| Request {
            method: "POST".into(),
            path: path.into(),
            headers: vec![],
            body: b"original".to_vec(),
        };
        let plain = http::send(&proxy.endpoint, &get("/")).await.unwrap();
        assert_eq!(
            (plain.status, plain.body.as_slice()),
            (200, b"upstream saw original".as_slice())
        );
        let rewritten = http::send(&proxy.endpoint, &get("/rewrite")).await.unwrap();
        assert_eq!(rewritten.body, b"upstream saw changed!");
        let throttled = http::send(&proxy.endpoint, &get("/throttle"))
            .await
            .unwrap();
        assert_eq!(throttled.status, 429);
        assert!(http::send(&proxy.endpoint, &get("/drop")).await.is_err());
        assert_eq!((proxy.requests(), proxy.faults()), (4, 1));
        task.abort();
    }
}
