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
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A random extra delay per request, drawn from an rng seeded by (seed, request index).
#[derive(Debug, Clone, Copy)]
pub enum Jitter {
    /// Uniform in `[low, high)`.
    Uniform { low: Duration, high: Duration },
    /// Exponential with the given mean.
    Exponential { mean: Duration },
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

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads more bytes into `buf`; false at end of stream.
async fn fill(conn: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let n = conn.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

/// Reads one complete HTTP/1.1 message (raw bytes, to forward as they are) and the
/// instant its first byte arrived. `None` when the peer closed between messages.
/// Bytes past the message stay in `buf` (pipelining).
async fn read_message(
    conn: &mut TcpStream,
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
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "bad chunk size")
                })?;
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
