"""Performance of the Python package (prints figures; asserts nothing about time).

1. Loading results into polars: a results directory whose latency table has 1,000,000
   rows (40 tests, each with a histogram of 25,000 distinct recorded values), timed as
   `lgb.load` (result.json parsed and histograms decoded by lgb-core) and then
   `Run.latencies()` (Arrow record batch built in Rust, IPC buffer, `polars.read_ipc`).
   The summary and percentile tables of the same run are timed too.
2. `lgb.run` against the `lgb` command on examples/quickstart.json: operations per
   second of each test, median of several alternating runs.

Run it with the venv of scripts/python-env, after building the command:

    cargo build --release -p lgb-cli
    "$(scripts/python-env)" benches/python_load.py [--rounds N] [--skip-cli]

Why not a 1M-row timeline: a timeline row is one second of one operation and carries a
full HdrHistogram (about 200 KiB in memory at 1 µs-60 s and 3 digits), so a result
with a million of them cannot exist in memory; the latency table is the large table a
real result has.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import polars as pl

import lgb

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "examples" / "quickstart.json"


def v2_histogram(distinct: int) -> str:
    """Base64 of an HdrHistogram V2 (uncompressed) encoding with lgb's layout (1 ns to
    60 s, 3 digits) and a count of 1..3 at each of the first `distinct` buckets after 0."""
    # Counts: a run of one zero (index 0) as -1, then small positive counts; each is a
    # zig-zag LEB128 varint, which for values below 64 is one byte.
    payload = bytes([1]) + bytes(((i % 3) + 1) * 2 for i in range(distinct))
    header = struct.pack(">IIIIQQd", 0x1C849313, len(payload), 0, 3, 1, 60_000_000_000, 1.0)
    return base64.b64encode(header + payload).decode()


def big_result(where: Path, tests: int = 40, distinct: int = 25_000) -> Path:
    """A results directory with `tests` x `distinct` latency buckets: a real run of the
    memory database whose test is repeated with synthetic histograms."""
    small = lgb.run(
        {
            "name": "big",
            "database": {"type": "memory"},
            "workload": {"records": 100},
            "tests": [{"name": "t", "operation": {"type": "read"}, "operations": 100}],
        },
        out=where,
        progress=False,
    )
    assert small.path is not None
    doc = json.loads((small.path / "result.json").read_text())
    # The memory test (the load phase is dropped): reads of loaded keys, no failures.
    (template,) = [t for t in doc["tests"] if t["name"] == "t"]
    latency = v2_histogram(distinct)
    doc["tests"] = []
    for i in range(tests):
        t = json.loads(json.dumps(template))
        t["name"] = f"t{i:02d}"
        t["metrics"]["operations"]["read"]["latency"] = latency
        doc["tests"].append(t)
    (small.path / "result.json").write_text(json.dumps(doc))
    return small.path


def timed(label: str, fn, repeat: int = 5):  # type: ignore[no-untyped-def]
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    print(f"  {label:<44} {best * 1000:8.1f} ms (best of {repeat})")
    return value, best


def load_figures() -> None:
    print("Loading a result with a 1,000,000-row latency table")
    with tempfile.TemporaryDirectory() as tmp:
        path = big_result(Path(tmp))
        size = (path / "result.json").stat().st_size
        print(f"  result.json: {size / 1e6:.1f} MB")
        run, t_load = timed("lgb.load (JSON + 40 histograms)", lambda: lgb.load(path))
        lat, t_lat = timed("Run.latencies() -> polars", run.latencies)
        print(f"  rows: {lat.height:,}; columns: {lat.width}; polars size {lat.estimated_size() / 1e6:.0f} MB")
        ipc = run._data.latencies(None, None)
        _, t_read = timed("  of which polars.read_ipc of the buffer", lambda: pl.read_ipc(ipc))
        print(f"  IPC buffer: {len(ipc) / 1e6:.0f} MB")
        print(f"  total load + latencies: {(t_load + t_lat) * 1000:.0f} ms (goal < 500 ms)")
        timed("Run.summary()", run.summary)
        timed("Run.percentiles(ticks=5)", run.percentiles)
        assert lat.height == 1_000_000


def throughput(run: lgb.Run) -> Dict[str, float]:
    s = run.summary().filter(pl.col("phase") == "run")
    return {test: sum(part["throughput"]) for (test,), part in s.group_by("test", maintain_order=True)}


def cli_figures(rounds: int) -> None:
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "lgb-target"))
    cli = target / "release" / "lgb"
    if not cli.exists():
        sys.exit(f"{cli} is missing: run `cargo build --release -p lgb-cli` first (or pass --skip-cli)")
    print(f"\nlgb.run vs {cli} on {QUICKSTART.relative_to(REPO)} ({rounds} alternating rounds)")
    per: Dict[str, List[Dict[str, float]]] = {"cli": [], "python": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            out = Path(tmp) / f"cli{i}"
            subprocess.run(
                [str(cli), "run", str(QUICKSTART), "--out", str(out), "--quiet"],
                capture_output=True, text=True, check=True,
            )
            (written,) = out.iterdir()
            per["cli"].append(throughput(lgb.load(written)))
            per["python"].append(throughput(lgb.run(QUICKSTART, out=f"{tmp}/py", progress=False)))
            print(f"  round {i + 1}: cli {per['cli'][-1]}, python {per['python'][-1]}")
    for test in per["cli"][0]:
        c = statistics.median(r[test] for r in per["cli"])
        p = statistics.median(r[test] for r in per["python"])
        print(f"  {test:<14} cli {c:12,.0f} ops/s   python {p:12,.0f} ops/s   python/cli {p / c:6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args()
    load_figures()
    if not args.skip_cli:
        cli_figures(args.rounds)


if __name__ == "__main__":
    main()
