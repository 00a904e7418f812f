//! Progress bars for `lgb run`, fed by the executor's live counters.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lgb_core::config::TestConfig;
use lgb_core::executor::Progress;
use lgb_core::protocol::Phase;
use lgb_core::report::{format_ns, format_rate};
use lgb_core::runner::{RunObserver, TestResult};

struct Current {
    bar: ProgressBar,
    started: Instant,
    planned: Option<Duration>,
    planned_ops: Option<u64>,
}

/// Shows one progress bar per test and a line per finished test on stderr.
pub struct ProgressObserver {
    progress: Arc<Progress>,
    quiet: bool,
    current: Arc<Mutex<Option<Current>>>,
    ticker: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ProgressObserver {
    pub fn new(progress: Arc<Progress>, quiet: bool) -> Self {
        let current: Arc<Mutex<Option<Current>>> = Arc::new(Mutex::new(None));
        let ticker = (!quiet).then(|| {
            let current = current.clone();
            let progress = progress.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(200));
                loop {
                    tick.tick().await;
                    if let Some(c) = current.lock().unwrap().as_ref() {
                        update(c, &progress);
                    }
                }
            })
        });
        Self {
            progress,
            quiet,
            current,
            ticker: Mutex::new(ticker),
        }
    }

    /// Stops the ticker.
    pub fn finish(&self) {
        if let Some(t) = self.ticker.lock().unwrap().take() {
            t.abort();
        }
        if let Some(c) = self.current.lock().unwrap().take() {
            c.bar.finish_and_clear();
        }
    }
}

fn update(c: &Current, p: &Progress) {
    let ops = p.ops.load(Ordering::Relaxed);
    let errors = p.errors.load(Ordering::Relaxed);
    let elapsed = c.started.elapsed();
    let pos = match (c.planned_ops, c.planned) {
        (Some(total), _) => ops.min(total) * 1000 / total.max(1),
        (None, Some(d)) => {
            (elapsed.as_millis() as u64 * 1000 / d.as_millis().max(1) as u64).min(1000)
        }
        _ => 0,
    };
    c.bar.set_position(pos);
    let rate = ops as f64 / elapsed.as_secs_f64().max(1e-3);
    let measuring = if p.measuring.load(Ordering::Relaxed) {
        ""
    } else {
        " (warming up)"
    };
    c.bar.set_message(format!(
        "{ops} ops, {errors} errors, {}{measuring}",
        format_rate(rate)
    ));
}

impl RunObserver for ProgressObserver {
    fn test_started(&self, test: &TestConfig, phase: Phase, workers: u32) {
        self.progress.ops.store(0, Ordering::Relaxed);
        self.progress.errors.store(0, Ordering::Relaxed);
        self.progress.measuring.store(false, Ordering::Relaxed);
        if self.quiet {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stderr());
        // indicatif draws only on a terminal; NO_COLOR still asks for no escapes.
        let template = if crate::output::stderr_colour() {
            "{prefix:>12.bold} [{bar:30.cyan/blue}] {elapsed:>4} {msg}"
        } else {
            "{prefix:>12} [{bar:30}] {elapsed:>4} {msg}"
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let label = match phase {
            Phase::Load => "load".to_string(),
            Phase::Run => test.name.clone(),
        };
        bar.set_prefix(format!("{label} ×{workers}"));
        let planned = match phase {
            Phase::Load => None,
            Phase::Run => test.effective_duration().map(|d| d + test.warmup.0),
        };
        *self.current.lock().unwrap() = Some(Current {
            bar,
            started: Instant::now(),
            planned,
            planned_ops: test.operations,
        });
    }

    fn test_finished(&self, result: &TestResult) {
        if let Some(c) = self.current.lock().unwrap().take() {
            c.bar.finish_and_clear();
        }
        if self.quiet {
            return;
        }
        let ops = result.metrics.ok() + result.metrics.failed();
        let p99 = result
            .metrics
            .operations
            .values()
            .map(|m| m.latency.summary().p99_ns)
            .max()
            .unwrap_or(0);
        eprintln!(
            "{:>12} {} ops in {:.1}s, {}, {} failed, worst p99 {}",
            result.name,
            ops,
            result.window_ns as f64 / 1e9,
            format_rate(result.throughput()),
            result.metrics.failed(),
            format_ns(p99 as f64)
        );
    }
}
