//! Progress bars for `lgb run`: lgb-core's [`TestProgress`] computes what to show
//! (label, fraction, status, the finished line); this draws it with indicatif.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lgb_core::prelude::{Phase, Progress, RunObserver, TestConfig, TestResult};
use lgb_core::report::progress::{finished_line, TestProgress};

/// Width of the test-name column of bars and finished lines.
const NAME_WIDTH: usize = 12;

struct Current {
    bar: ProgressBar,
    test: TestProgress,
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
                        let s = c.test.snapshot(&progress);
                        c.bar
                            .set_position((s.fraction.unwrap_or(0.0) * 1000.0) as u64);
                        c.bar.set_message(s.message());
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

impl RunObserver for ProgressObserver {
    fn test_started(&self, test: &TestConfig, phase: Phase, workers: u32) {
        let test = TestProgress::start(&self.progress, test, phase, workers);
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
        bar.set_prefix(test.label().to_string());
        *self.current.lock().unwrap() = Some(Current { bar, test });
    }

    fn test_finished(&self, result: &TestResult) {
        if let Some(c) = self.current.lock().unwrap().take() {
            c.bar.finish_and_clear();
        }
        if !self.quiet {
            // Never a panic: after SIGHUP the terminal may be gone, and the run still
            // has its results to write.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{}", finished_line(result, NAME_WIDTH));
        }
    }
}
