//! A latency-injecting HTTP/1.1 TCP proxy on 127.0.0.1, in front of a real local
//! service. It delimits requests and responses (Content-Length or chunked), so the
//! injected delay applies per request, and it records each matching request's
//! turnaround (first request byte in → last response byte out): the ground truth that
//! tests compare lgb's numbers with.
//!
//! The delay of request `n` (1-based, counted over every request the proxy reads) is
//! a pure function of the [`Schedule`] and `n` (plus wall time for periodic stalls), so
//! a test can compute what it should see.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::http::{find, read_message};

/// A random extra delay per request, drawn from an rng seeded by (seed, request index).
#[derive(Debug, Clone, Copy)]
pub enum Jitter {
    /// Uniform in `[low, high)`.
    Uniform {
        /// Smallest extra delay.
        low: Duration,
        /// Bound of the extra delay (excluded).
        high: Duration,
    },
    /// Exponential with the given mean.
    Exponential {
        /// Mean extra delay.
        mean: Duration,
    },
}

/// What the proxy does to request `n`.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    /// Added to every request.
    pub fixed: Duration,
    /// `(n, stall)`: every `n`th request waits `stall` more.
    pub every_nth: Option<(u64, Duration)>,
    /// `(index, stall)`: these requests wait `stall` more.
    pub at: Vec<(u64, Duration)>,
    /// `(period, length)`: from the proxy's start, a stall of `length` begins every
    /// `period`; a request arriving inside one waits until it ends.
    pub periodic: Option<(Duration, Duration)>,
    /// A random extra delay.
    pub jitter: Option<Jitter>,
    /// Seed of the jitter.
    pub seed: u64,
    /// After this many requests, every connection is dropped and new ones are refused
    /// (the database was killed).
    pub drop_after: Option<u64>,
    /// Requests after this many are read but never answered (the database hangs).
    pub hang_after: Option<u64>,
}

impl Schedule {
    /// A fixed delay for every request.
    pub fn fixed(d: Duration) -> Self {
        Self {
            fixed: d,
            ..Self::default()
        }
    }

    /// The delay of request `n` (1-based), without periodic stalls (they depend on time).
    pub fn delay_of(&self, n: u64) -> Duration {
        let mut d = self.fixed;
        if let Some((every, stall)) = self.every_nth {
            if n.is_multiple_of(every) {
                d += stall;
            }
        }
        for &(i, stall) in &self.at {
            if i == n {
                d += stall;
            }
        }
        if let Some(j) = self.jitter {
            let mut rng = StdRng::seed_from_u64(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            d += match j {
                Jitter::Uniform { low, high } => Duration::from_nanos(
                    rng.gen_range(low.as_nanos() as u64..high.as_nanos() as u64),
                ),
                Jitter::Exponential { mean } => {
                    let e = Exp::new(1.0 / mean.as_secs_f64()).expect("positive mean");
                    Duration::from_secs_f64(e.sample(&mut rng))
                }
            };
        }
        d
    }
}

struct Shared {
    schedule: Schedule,
    upstream: String,
    filter: Option<String>,
    started: Instant,
    requests: AtomicU64,
    recorded: Mutex<(Histogram<u64>, Vec<u64>)>,
    stop: CancellationToken,
    killed: CancellationToken,
}

/// A running proxy; dropping it closes every connection.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    shared: Arc<Shared>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

impl Proxy {
    /// Requests read so far (all of them, matching the filter or not).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The turnaround histogram (ns) of the matching requests answered so far.
    pub fn truth(&self) -> Histogram<u64> {
        self.shared.recorded.lock().unwrap().0.clone()
    }

    /// Every matching request's turnaround (ns), in the order they were answered.
    pub fn turnarounds(&self) -> Vec<u64> {
        self.shared.recorded.lock().unwrap().1.clone()
    }

    /// Forgets what was recorded (the request counter keeps counting).
    pub fn reset(&self) {
        let mut r = self.shared.recorded.lock().unwrap();
        r.0.reset();
        r.1.clear();
    }
}

/// Starts a proxy to `upstream` (`http://host:port`) on 127.0.0.1. Only requests
/// whose head contains `filter` (for example `DynamoDB_20120810.GetItem`) are
/// recorded; every request counts for the schedule.
pub async fn start(upstream: &str, schedule: Schedule, filter: Option<&str>) -> Proxy {
    let upstream = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let shared = Arc::new(Shared {
        schedule,
        upstream,
        filter: filter.map(str::to_string),
        started: Instant::now(),
        requests: AtomicU64::new(0),
        recorded: Mutex::new((
            Histogram::new_with_bounds(1_000, 60_000_000_000, 3).unwrap(),
            Vec::new(),
        )),
        stop: CancellationToken::new(),
        killed: CancellationToken::new(),
    });
    let s = shared.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                // Dropping the listener makes new connections fail: "killed".
                _ = s.stop.cancelled() => break,
                _ = s.killed.cancelled() => break,
                accepted = listener.accept() => {
                    let Ok((conn, _)) = accepted else { break };
                    let s = s.clone();
                    tokio::spawn(async move {
                        let (stop, killed) = (s.stop.clone(), s.killed.clone());
                        tokio::select! {
                            _ = serve(conn, &s) => {}
                            _ = stop.cancelled() => {}
                            _ = killed.cancelled() => {}
                        }
                    });
                }
            }
        }
    });
    Proxy { endpoint, shared }
}

/// Serves one client connection over one upstream connection, request by request.
async fn serve(mut client: TcpStream, s: &Shared) -> std::io::Result<()> {
    let mut upstream: Option<TcpStream> = None;
    let mut cbuf = Vec::new();
    let mut ubuf = Vec::new();
    loop {
        let Some((request, first_byte)) = read_message(&mut client, &mut cbuf, false).await? else {
            return Ok(());
        };
        let n = s.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let sch = &s.schedule;
        if sch.drop_after.is_some_and(|k| n > k) {
            s.killed.cancel();
            return Ok(());
        }
        if sch.hang_after.is_some_and(|k| n > k) {
            std::future::pending::<()>().await;
        }
        let mut delay = sch.delay_of(n);
        if let Some((period, length)) = sch.periodic {
            let since = s.started.elapsed().as_nanos() % period.as_nanos();
            if since < length.as_nanos() {
                delay += Duration::from_nanos((length.as_nanos() - since) as u64);
            }
        }
        tokio::time::sleep(delay).await;
        if upstream.is_none() {
            upstream = Some(TcpStream::connect(&s.upstream).await?);
            ubuf.clear();
        }
        let up = upstream.as_mut().unwrap();
        up.write_all(&request).await?;
        let Some((response, _)) = read_message(up, &mut ubuf, true).await? else {
            return Ok(());
        };
        client.write_all(&response).await?;
        let took = first_byte.elapsed().as_nanos() as u64;
        let head_end = find(&request, b"\r\n\r\n").unwrap_or(request.len());
        let head = String::from_utf8_lossy(&request[..head_end]);
        if s.filter.as_ref().is_none_or(|f| head.contains(f.as_str())) {
            let mut r = s.recorded.lock().unwrap();
            r.0.saturating_record(took);
            r.1.push(took);
        }
        if head_contains_close(&response) {
            upstream = None;
        }
    }
}

fn head_contains_close(message: &[u8]) -> bool {
    let end = find(message, b"\r\n\r\n").unwrap_or(message.len());
    String::from_utf8_lossy(&message[..end])
        .to_ascii_lowercase()
        .contains("connection: close")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{self, Request, Response};

    #[test]
    fn delays_follow_the_schedule() {
        let ms = Duration::from_millis;
        let s = Schedule {
            fixed: ms(1),
            every_nth: Some((3, ms(10))),
            at: vec![(4, ms(100))],
            ..Schedule::default()
        };
        let delays: Vec<Duration> = (1..=6).map(|n| s.delay_of(n)).collect();
        assert_eq!(delays, [ms(1), ms(1), ms(11), ms(101), ms(1), ms(11)]);
        let jittered = Schedule {
            jitter: Some(Jitter::Uniform {
                low: ms(5),
                high: ms(6),
            }),
            seed: 9,
            ..Schedule::default()
        };
        for n in 1..50 {
            let d = jittered.delay_of(n);
            assert!(d >= ms(5) && d < ms(6), "{d:?}");
            assert_eq!(d, jittered.delay_of(n), "a pure function of n");
        }
    }

    #[tokio::test]
    async fn it_delays_forwards_and_records_matching_requests() {
        let (upstream, task) =
            http::serve(|req: Request| async move { Response::new(200, req.body) }).await;
        let proxy = start(
            &upstream,
            Schedule::fixed(Duration::from_millis(30)),
            Some("/counted"),
        )
        .await;
        for path in ["/counted", "/other"] {
            let req = Request {
                method: "POST".into(),
                path: path.into(),
                headers: vec![],
                body: path.as_bytes().to_vec(),
            };
            let resp = http::send(&proxy.endpoint, &req).await.unwrap();
            assert_eq!(resp.body, path.as_bytes());
        }
        assert_eq!(proxy.requests(), 2);
        let recorded = proxy.turnarounds();
        assert_eq!(recorded.len(), 1, "only the filtered request is recorded");
        assert!(recorded[0] >= 30_000_000, "{recorded:?}");
        assert_eq!(proxy.truth().len(), 1);
        proxy.reset();
        assert!(proxy.turnarounds().is_empty());
        task.abort();
    }
}
