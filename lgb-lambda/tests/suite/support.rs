//! What the emulator tests share: their AWS credentials, one HTTP client, and [`Rie`],
//! one AWS Lambda Runtime Interface Emulator running this crate's `bootstrap` (started
//! through `scripts/services run-rie`).
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lgb_testkit::services;
use serde_json::Value;

/// One HTTP client for the whole test binary: building one loads the system's root
/// certificates, which would otherwise be timed with every invocation.
pub fn http() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

/// Real-looking temporary AWS credentials for the runner and the functions (the
/// emulator passes its environment on); moto and the front ends accept any. None of
/// them may leak into results or logs.
pub const ACCESS_KEY_ID: &str = "ASIAQLAMBDAFAULTS7XQ";
/// The secret access key of [`ACCESS_KEY_ID`].
pub const SECRET_KEY: &str = "kP3vR8sW1xZ5nB7mQ2tY6uC9dF4gH0jL3aS8eT1w";
/// The session token that goes with them.
pub const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjELaMbDaFaUlTs//////////wEaCXVzLWVhc3QtMSJIMEYCIQCq9Z3kLmN0pRsT5uVwXyZ1bC4dE7fG2hI8jK6lM9nO==";

/// The tests' credentials and region in this process's environment, set once before
/// any client or emulator starts (every test of the binary shares the process, so
/// they all use the same ones).
pub fn aws_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_SESSION_TOKEN", SESSION_TOKEN),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ] {
            std::env::set_var(k, v);
        }
        std::env::remove_var("AWS_PROFILE");
    });
}

/// One emulator running this crate's `bootstrap`.
pub struct Rie {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Rie {
    /// Starts the emulator around the `bootstrap` binary of this crate, with the
    /// function's settings in `env` (`AWS_LAMBDA_FUNCTION_*`, `RUST_LOG`), and waits
    /// until it listens.
    pub fn start(env: &[(&str, String)]) -> Rie {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("rie.log");
        let file = std::fs::File::create(&log).unwrap();
        let port = services::free_port();
        let child = Command::new(services::script())
            .args([
                "run-rie",
                &port.to_string(),
                env!("CARGO_BIN_EXE_bootstrap"),
            ])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start scripts/services run-rie: {e}"));
        let mut rie = Rie {
            child,
            port,
            log,
            _dir: dir,
        };
        rie.wait_listening();
        rie
    }

    /// Waits for the emulator's port; no invocation, so the first one stays cold.
    pub fn wait_listening(&mut self) {
        // run-rie installs the emulator first if needed.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the emulator exited ({status}) before listening:\n{}",
                    self.log_text()
                );
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the emulator did not listen on 127.0.0.1:{} within 120 s:\n{}",
                self.port,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn invoke_url(&self) -> String {
        format!(
            "{}/2015-03-31/functions/function/invocations",
            self.endpoint()
        )
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// POSTs `body` to the emulator's Invoke API; returns status and body.
    pub async fn invoke(&self, body: &[u8]) -> (u16, Vec<u8>) {
        let r = http()
            .post(self.invoke_url())
            .body(body.to_vec())
            .send()
            .await
            .unwrap_or_else(|e| panic!("invoking the emulator: {e}\n{}", self.log_text()));
        let status = r.status().as_u16();
        (status, r.bytes().await.unwrap().to_vec())
    }

    pub async fn invoke_json(&self, body: &Value) -> Value {
        let (status, bytes) = self.invoke(&serde_json::to_vec(body).unwrap()).await;
        assert_eq!(
            status,
            200,
            "{}\n{}",
            String::from_utf8_lossy(&bytes),
            self.log_text()
        );
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)))
    }

    /// Pids of the emulator's children (the bootstrap, once the first invoke started it).
    pub fn children(&self) -> Vec<u32> {
        let task_dir = format!("/proc/{}/task", self.child.id());
        let mut pids = Vec::new();
        for task in std::fs::read_dir(task_dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            pids.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
        pids
    }

    /// The pid of the running bootstrap (waits for the emulator to start one).
    pub fn bootstrap(&self, not: Option<u32>) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.children().into_iter().find(|&pid| {
                Some(pid) != not
                    && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                        .is_ok_and(|c| c.trim() == "bootstrap")
                    && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .is_ok_and(|s| s.contains(") Z "))
            });
            if let Some(pid) = found {
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "no bootstrap process:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Peak resident memory of the bootstrap, in KiB.
    pub fn bootstrap_peak_rss_kib(&self) -> Option<u64> {
        self.children().into_iter().find_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            if !status
                .lines()
                .any(|l| l.starts_with("Name:") && l.contains("bootstrap"))
            {
                return None;
            }
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
    }

    /// The emulator's `REPORT` line for request `id`, as it printed it.
    pub fn report_line(&self, id: &str) -> Option<String> {
        let needle = format!("REPORT RequestId: {id}");
        self.log_text()
            .lines()
            .find(|l| l.contains(&needle))
            .map(str::to_string)
    }
}

impl Drop for Rie {
    fn drop(&mut self) {
        let children = self.children();
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The bootstrap is the emulator's child: end it too if it outlived its parent.
        for c in children {
            if Path::new(&format!("/proc/{c}")).exists() {
                let _ = Command::new("kill")
                    .args(["-KILL", &c.to_string()])
                    .status();
            }
        }
    }
}
