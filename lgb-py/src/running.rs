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

use lgb_core::prelude::{
    Phase, Progress, RunObserver, RunResult, Session, Stop, SweepPlan, TestConfig, TestResult,
};
use lgb_core::report::progress::{finished_line, TestProgress};
use pyo3::prelude::*;

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

/// Runs `session` (or sweeps it over `sweep`'s sizes) into a new results directory
/// under `out`, written after each test (lgb-core's session). Returns the run and its
/// results directory. On a signal (Ctrl-C, or SIGTERM or SIGHUP while they are ours:
/// see [`StopSignals`]) or an exception from the progress bar, the run is stopped,
/// the directory keeps what was measured (marked incomplete with the reason), and
/// that exception is returned with the directory in its `results` attribute. An
/// error that stopped the run early is raised the same way.
pub fn run(
    py: Python<'_>,
    session: Session,
    out: &Path,
    bar: Option<Py<PyAny>>,
    sweep: Option<SweepPlan>,
    preflight: lgb_core::preflight::PreflightOptions,
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
    let stop = Stop::new();
    let mut task = {
        let (observer, stop, out) = (observer.clone(), stop.clone(), out.to_path_buf());
        rt.spawn(async move {
            let connected = session
                .connect(Some(progress))
                .await?
                .with_preflight(preflight);
            match sweep {
                Some(plan) => connected.sweep(&plan, &out, &stop, &*observer).await,
                None => connected.run(&out, &stop, &*observer).await,
            }
        })
    };

    let signals = StopSignals::install(py)?;
    let mut stopped_by: Option<PyErr> = None;
    let joined = loop {
        let done =
            py.detach(|| rt.block_on(async { tokio::time::timeout(POLL, &mut task).await.ok() }));
        if stopped_by.is_none() {
            // A failing progress bar stops the run like Ctrl-C does: its exception is
            // what the caller sees, and nothing measured is lost.
            let checked = deliver(py, &observer, bar.as_ref()).and_then(|()| py.check_signals());
            if let Err(e) = checked {
                stop.stop(stop_reason(py, &e));
                stopped_by = Some(e);
            }
        }
        if let Some(joined) = done {
            break joined;
        }
    };
    drop(signals);

    let outcome = match joined {
        Ok(Ok(recorded)) => Ok(recorded),
        Ok(Err(e)) => Err(errors::to_py(py, &e)),
        Err(join) => Err(errors::internal(
            py,
            format!("the benchmark task failed: {join}"),
        )),
    };
    py.detach(move || rt.shutdown_timeout(Duration::from_secs(5)));

    let recorded = match (stopped_by, outcome) {
        (None, Ok(recorded)) => recorded,
        (None, Err(e)) | (Some(_), Err(e)) => return Err(e),
        (Some(stop), Ok(recorded)) => {
            stop.value(py)
                .setattr("results", recorded.dir.display().to_string())?;
            return Err(stop);
        }
    };
    if let Some(e) = &recorded.error {
        let raised = errors::to_py(py, e);
        raised
            .value(py)
            .setattr("results", recorded.dir.display().to_string())?;
        return Err(raised);
    }
    deliver(py, &observer, bar.as_ref())?;
    Ok((recorded.run, recorded.dir))
}

/// What `result.json` says stopped the run, from the exception that stopped it.
fn stop_reason(py: Python<'_>, e: &PyErr) -> String {
    if e.is_instance_of::<pyo3::exceptions::PySystemExit>(py) {
        if let Ok(code) = e.value(py).getattr("code").and_then(|c| c.extract::<i32>()) {
            match code {
                129 => return "stopped by SIGHUP (the terminal or session closed)".into(),
                143 => return "stopped by SIGTERM".into(),
                _ => {}
            }
        }
    }
    if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
        return "stopped by KeyboardInterrupt (Ctrl-C or an interrupted kernel)".into();
    }
    let name = e
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "an exception".into());
    format!("stopped by {name}: {}", e.value(py))
}

/// SIGTERM and SIGHUP stop a run like Ctrl-C does, while it runs on the main thread
/// and the program has no handler of its own for them: a handler that raises
/// `SystemExit(128 + signal)` (what the process would have ended with) is installed
/// for the run and the previous handler put back after it.
struct StopSignals<'py> {
    signal: Option<Bound<'py, PyModule>>,
    previous: Vec<(i32, Bound<'py, PyAny>)>,
}

impl<'py> StopSignals<'py> {
    fn install(py: Python<'py>) -> PyResult<Self> {
        let mut out = Self {
            signal: None,
            previous: Vec::new(),
        };
        let threading = py.import("threading")?;
        let main = threading.call_method0("main_thread")?;
        if !threading.call_method0("current_thread")?.is(&main) {
            return Ok(out);
        }
        let signal = py.import("signal")?;
        let default = signal.getattr("SIG_DFL")?;
        for name in ["SIGTERM", "SIGHUP"] {
            let Ok(number) = signal.getattr(name).and_then(|n| n.extract::<i32>()) else {
                continue;
            };
            let previous = signal.call_method1("getsignal", (number,))?;
            if !previous.eq(&default)? {
                continue;
            }
            let handler = pyo3::types::PyCFunction::new_closure(
                py,
                None,
                None,
                move |_args, _kwargs| -> PyResult<()> {
                    Err(pyo3::exceptions::PySystemExit::new_err(128 + number))
                },
            )?;
            signal.call_method1("signal", (number, handler))?;
            out.previous.push((number, previous));
        }
        out.signal = Some(signal);
        Ok(out)
    }
}

impl Drop for StopSignals<'_> {
    fn drop(&mut self) {
        if let Some(signal) = &self.signal {
            for (number, previous) in self.previous.drain(..) {
                let _ = signal.call_method1("signal", (number, previous));
            }
        }
    }
}
