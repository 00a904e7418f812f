"""Ctrl-C during lgb.run: KeyboardInterrupt within about two seconds, with the partial
results on disk (status cancelled); and the terminal progress bar, drawn on a real
pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import textwrap
import time
from pathlib import Path

from conftest import small_config

CHILD = textwrap.dedent(
    """
    import json, sys, time
    import lgb
    config, out = json.loads(sys.argv[1]), sys.argv[2]
    print("running", flush=True)
    try:
        lgb.run(config, out=out, progress=False)
    except KeyboardInterrupt as stop:
        print(json.dumps({"interrupted_at": time.monotonic(), "results": getattr(stop, "results", None)}), flush=True)
        sys.exit(130)
    print("finished without interruption", flush=True)
    """
)


def test_ctrl_c_stops_a_long_run_promptly_and_keeps_partial_results(python: str, out: Path) -> None:
    cfg = small_config(duration="60s", warmup="500ms")
    del cfg["tests"][0]["operations"]  # type: ignore[index]
    child = subprocess.Popen(
        [python, "-c", CHILD, json.dumps(cfg), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "running"
        time.sleep(2.5)  # load phase, warmup, then measuring
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=10)
        exited = time.monotonic()
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, (stdout, stderr)
    report = json.loads(stdout.strip().splitlines()[-1])
    elapsed = report["interrupted_at"] - sent
    print(f"KeyboardInterrupt {elapsed:.3f} s after SIGINT; process gone after {exited - sent:.3f} s")
    assert elapsed < 2.0, elapsed
    results = Path(report["results"])
    assert results.parent == out
    on_disk = json.loads((results / "result.json").read_text())
    assert on_disk["status"] == "cancelled"
    mix = [t for t in on_disk["tests"] if t["name"] == "mix"]
    assert mix, [t["name"] for t in on_disk["tests"]]
    assert all(w["status"] == "cancelled" for w in mix[0]["workers"])
    measured = sum(m["ok"] for m in mix[0]["metrics"]["operations"].values())
    assert measured > 0
    # Far less than the planned 60 s were measured.
    assert mix[0]["window_ns"] < 10e9
    assert (results / "summary.csv").is_file()


SIGNAL_CHILD = textwrap.dedent(
    """
    import json, sys
    import lgb
    config, out = json.loads(sys.argv[1]), sys.argv[2]
    print("running", flush=True)
    try:
        lgb.run(config, out=out, progress=False)
    except SystemExit as stop:
        print(json.dumps({"code": stop.code, "results": getattr(stop, "results", None)}), flush=True)
        raise
    """
)


def _stopped_by(python: str, out: Path, sig: int) -> tuple[int, dict, dict]:
    cfg = small_config(duration="60s", warmup="500ms")
    del cfg["tests"][0]["operations"]  # type: ignore[index]
    child = subprocess.Popen(
        [python, "-c", SIGNAL_CHILD, json.dumps(cfg), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # The signal's default disposition, as in a terminal: under `nohup` the child
        # would inherit an ignored SIGHUP, which lgb rightly leaves alone.
        preexec_fn=lambda: signal.signal(sig, signal.SIG_DFL),
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "running"
        time.sleep(2.5)
        child.send_signal(sig)
        signalled = time.monotonic()
        try:
            # The run would end by itself 57.5 s after the signal: well before that.
            stdout, stderr = child.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            child.kill()
            stdout, stderr = child.communicate()
            raise AssertionError(
                f"still running {time.monotonic() - signalled:.1f} s after the signal; "
                f"stdout {stdout!r}, stderr {stderr[-4000:]!r}"
            ) from None
    finally:
        if child.poll() is None:
            child.kill()
    report = json.loads(stdout.strip().splitlines()[-1])
    on_disk = json.loads((Path(report["results"]) / "result.json").read_text())
    return child.returncode, report, on_disk


def test_sigterm_and_sighup_stop_a_run_like_ctrl_c_and_keep_what_was_measured(python: str, out: Path) -> None:
    """SIGTERM (a job scheduler) and SIGHUP (a closed SSH session) during lgb.run stop
    it the way Ctrl-C does: the results measured so far are written, marked
    incomplete with the signal, and SystemExit(128 + signal) is raised with the
    directory in its ``results`` attribute, so the process ends with the signal's
    conventional code."""
    for sig, name in [(signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")]:
        code, report, on_disk = _stopped_by(python, out / name, sig)
        assert code == 128 + sig, (name, code)
        assert report["code"] == 128 + sig
        assert on_disk["status"] == "cancelled"
        assert name in on_disk["incomplete"]["reason"], on_disk["incomplete"]
        mix = [t for t in on_disk["tests"] if t["name"] == "mix"]
        assert mix and sum(m["ok"] for m in mix[0]["metrics"]["operations"].values()) > 0
        # lgb.load reads it.
        import lgb

        assert lgb.load(report["results"]).status == "cancelled"


TERMINAL_CHILD = textwrap.dedent(
    """
    import json, sys
    import lgb
    lgb.run(json.loads(sys.argv[1]), out=sys.argv[2])
    """
)


def test_progress_bar_draws_in_place_on_a_terminal(python: str, out: Path) -> None:
    cfg = small_config(duration="1500ms")
    del cfg["tests"][0]["operations"]  # type: ignore[index]
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [python, "-c", TERMINAL_CHILD, json.dumps(cfg), str(out)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    screen = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        elif child.poll() is not None:
            break
    child.wait(timeout=10)
    os.close(leader)
    text = screen.decode("utf-8", "replace")
    assert child.returncode == 0, text
    # Redrawn in place: carriage returns, a bar that fills, the test's live counters.
    frames = [f for f in text.split("\r") if "mix ×2 [" in f]
    assert len(frames) >= 5, text
    assert "=" in frames[-1] and "ops" in frames[-1] and "/s" in frames[-1]
    assert frames[0].count("=") < frames[-1].count("="), (frames[0], frames[-1])
    # Each finished test leaves one line.
    assert "\nmix " in text.replace("\r\x1b[K", "\n") or text.count("worst p99") == 2, text
    assert text.count("worst p99") == 2
