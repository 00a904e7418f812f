//! The local Lambda control plane (`scripts/services run-lambda`,
//! scripts/lib/lambda-control-plane.py) as tests use it: started on a free port with
//! a functions document, ended by pid (TERM: it ends its sandboxes first), and read
//! through its counters (`/_lgb/stats`). One that cannot start fails the test with
//! its log; tests never skip.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::services;

/// A running control plane; stopped when dropped.
pub struct ControlPlane {
    child: Child,
    /// `http://127.0.0.1:PORT`: the Lambda API, and Function URLs under
    /// `/lambda-url/NAME/`.
    pub endpoint: String,
    log: PathBuf,
    dir: PathBuf,
}

impl ControlPlane {
    /// Starts a control plane serving `config` (its JSON document: `functions`,
    /// `update_delay_ms`, …), with this process's environment plus `env`, and waits
    /// until it answers `/_lgb/health`.
    pub fn start(config: &Value, env: &[(&str, &str)]) -> ControlPlane {
        let port = services::free_port();
        let dir =
            std::env::temp_dir().join(format!("lgb-control-plane-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config_path = dir.join("functions.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let log = dir.join("control-plane.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(services::script())
            .args([
                "run-lambda",
                &port.to_string(),
                config_path.to_str().unwrap(),
            ])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start scripts/services run-lambda: {e}"));
        let mut cp = ControlPlane {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while get(&format!("{}/_lgb/health", cp.endpoint)).is_none() {
            if let Some(status) = cp.child.try_wait().unwrap() {
                panic!("the control plane exited ({status}):\n{}", cp.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "the control plane did not answer within 120 s:\n{}",
                cp.log_text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        cp
    }

    /// What it has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `/_lgb/stats` of function `name`: invocations, cold starts, throttles, the
    /// most invocations ever in flight, sandbox memory sizes, …
    pub fn stats(&self, name: &str) -> Value {
        let text = get(&format!("{}/_lgb/stats", self.endpoint)).expect("/_lgb/stats answers");
        let all: Value = serde_json::from_str(&text).expect("/_lgb/stats is JSON");
        all["functions"][name].clone()
    }

    /// Zeroes the counters (`POST /_lgb/reset`).
    pub fn reset(&self) {
        http("POST", &format!("{}/_lgb/reset", self.endpoint)).expect("/_lgb/reset answers 200");
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The body of a `GET` answered 200, or `None` (no answer, another status).
pub fn get(url: &str) -> Option<String> {
    http("GET", url)
}

/// A bodiless HTTP/1.0 request to an `http://` URL; the body of a 200 answer.
fn http(method: &str, url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.contains(" 200 ").then(|| body.to_string())
}
