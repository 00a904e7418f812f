//! Runs a benchmark for Python: lgb-core's runner on a tokio runtime, with the GIL
//! released, while the calling thread wakes every [`POLL`] to take the GIL briefly,
//! check for signals (Ctrl-C in a terminal, "interrupt kernel" in Jupyter) and feed
//! the progress bar. A signal cancels the run through its `CancellationToken`; the
//! partial results are written before the exception is raised again.
//!
//! Nothing here measures or merges: that is lgb-core's runner and executor.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lgb_core::config::TestConfig;
use lgb_core::executor::Progress;
use lgb_core::protocol::Phase;
use lgb_core::report::progress::{finished_line, TestProgress};
use lgb_core::runner::{RunObserver, RunResult, TestResult};
use lgb_core::session::{self, Session};
use lgb_core::sweep::SweepPlan;
use pyo3::prelude::*;
use tokio_util::sync::CancellationToken;

use crate::errors;

/// How often the waiting thread takes the GIL: the upper bound on how late Ctrl-C is
/// noticed, and the progress bar's refresh period.
const POLL: Duration = Duration::from_millis(100);

/// What the progress bar needs to know, filled by the runner's threads and drained by
/// the thread that holds the GIL.
#[derive(Default)]
struct Live {
    events: Vec<Event>,
    current: Option<TestProgress>,
}

enum Event {
    Started(String),
    Finished(String),
}

/// A [`RunObserver`] that records test starts and ends for the progress bar. It never
/// touches Python: the runner's threads do not hold the GIL.
struct LiveObserver {
    progress: Arc<Progress>,
    live: Mutex<Live>,
}

impl LiveObserver {
    fn lock(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Position (0..=1, when the test's length is known) and a status line, as
    /// `lgb run` shows them.
    fn snapshot(&self) -> Option<(Option<f64>, String)> {
        let live = self.lock();
        let s = live.current.as_ref()?.snapshot(&self.progress);
        Some((s.fraction, s.message()))
    }
}

impl RunObserver for LiveObserver {
    fn test_started(&self, test: &TestConfig, phase: Phase, workers: u32) {
        let test = TestProgress::start(&self.progress, test, phase, workers);
        let mut live = self.lock();
        live.events.push(Event::Started(test.label().to_string()));
        live.current = Some(test);
    }

    fn test_finished(&self, result: &TestResult) {
        let line = finished_line(result, 0);
        let mut live = self.lock();
        live.current = None;
        live.events.push(Event::Finished(line));
    }
}

/// Sends what happened since the last call to the Python progress object
/// (`start(label)`, `update(fraction, message)`, `finish(line)`).
fn deliver(py: Python<'_>, observer: &LiveObserver, bar: Option<&Py<PyAny>>) -> PyResult<()> {
    let Some(bar) = bar else { return Ok(()) };
    let bar = bar.bind(py);
    let events = std::mem::take(&mut observer.lock().events);
    for e in events {
        match e {
            Event::Started(label) => bar.call_method1("start", (label,))?,
            Event::Finished(line) => bar.call_method1("finish", (line,))?,
        };
    }
    if let Some((fraction, message)) = observer.snapshot() {
        bar.call_method1("update", (fraction, message))?;
    }
    Ok(())
}

/// Runs `session` (or sweeps it over `sweep`'s sizes) and writes its results under
/// `out`. Returns the run and its results
/// directory. On a signal (or an exception from the progress bar) the run is
/// cancelled, its partial results are written, and that exception is returned with
/// the results directory in its `results` attribute.
pub fn run(
    py: Python<'_>,
    session: Session,
    out: &Path,
    bar: Option<Py<PyAny>>,
    sweep: Option<SweepPlan>,
) -> PyResult<(RunResult, PathBuf)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(errors::runtime)?;
    let progress = Arc::new(Progress::default());
    let observer = Arc::new(LiveObserver {
        progress: progress.clone(),
        live: Mutex::new(Live::default()),
    });
    let cancel = CancellationToken::new();
    let mut task = {
        let (observer, cancel) = (observer.clone(), cancel.clone());
        rt.spawn(async move {
            let connected = session.connect(Some(progress)).await?;
            match sweep {
                Some(plan) => connected
                    .sweep(&plan, cancel, &*observer)
                    .await
                    .map(|(run, report)| (run, Some(report))),
                None => connected
                    .run(cancel, &*observer)
                    .await
                    .map(|run| (run, None)),
            }
        })
    };

    let mut stopped_by: Option<PyErr> = None;
    let joined = loop {
        let done =
            py.detach(|| rt.block_on(async { tokio::time::timeout(POLL, &mut task).await.ok() }));
        if stopped_by.is_none() {
            // A failing progress bar stops the run like Ctrl-C does: its exception is
            // what the caller sees, and nothing measured is lost.
            let checked = deliver(py, &observer, bar.as_ref()).and_then(|()| py.check_signals());
            if let Err(e) = checked {
                cancel.cancel();
                stopped_by = Some(e);
            }
        }
        if let Some(joined) = done {
            break joined;
        }
    };

    let outcome = match joined {
        Ok(Ok((run, report))) => {
            let written = py.detach(|| session::write(&run, report.as_ref(), out));
            written
                .map(|dir| (run, dir))
                .map_err(|e| errors::to_py(py, &e))
        }
        Ok(Err(e)) => Err(errors::to_py(py, &e)),
        Err(join) => Err(errors::internal(
            py,
            format!("the benchmark task failed: {join}"),
        )),
    };
    py.detach(move || rt.shutdown_timeout(Duration::from_secs(5)));

    match (stopped_by, outcome) {
        (None, outcome) => {
            if outcome.is_ok() {
                deliver(py, &observer, bar.as_ref())?;
            }
            outcome
        }
        (Some(stop), Ok((_, dir))) => {
            stop.value(py)
                .setattr("results", dir.display().to_string())?;
            Err(stop)
        }
        (Some(stop), Err(_)) => Err(stop),
    }
}
