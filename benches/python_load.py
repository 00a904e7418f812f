"""Performance of the Python package (prints figures; asserts nothing about time).

1. Loading results into polars: a results directory whose latency table has 1,000,000
   rows (40 tests, each with a histogram of 25,000 distinct recorded values), timed as
   `lgb.load` (result.json parsed and histograms decoded by lgb-core) and then
   `Run.latencies()`, split into building the Arrow table in Rust and polars importing
   it through the Arrow PyCapsule interface. The summary and percentile tables of the
   same run are timed too.
2. The timeline: a result with a few thousand timeline points (seconds x operations),
   timed like the latency table, with the memory each point takes.
3. `lgb.run` against the `lgb` command on examples/quickstart.json: operations per
   second of each test, median of several alternating runs.

Run it with the venv of scripts/python-env, after building the command:

    cargo build --release -p lgb-cli
    "$(scripts/python-env)" benches/python_load.py [--rounds N] [--skip-cli] [--timeline-points N]

The timeline of a large run: a row is one second of one operation, and each keeps only
its occupied buckets (a sparse histogram in the whole-test layout, docs/results.md,
"Versions"); `LGB_SCALE_KEEP=1 LGB_SCALE_MINUTES=14 LGB_SCALE_WORKERS=1000 cargo bench
-p lgb-core --bench scale` writes a 1,000-worker, 14-minute result whose load and
timeline docs/results.md ("At scale") times.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple, TypeVar

import polars as pl

import lgb

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "examples" / "quickstart.json"
T = TypeVar("T")


def v2_histogram(distinct: int, first: int = 1) -> str:
    """Base64 of an HdrHistogram V2 (uncompressed) encoding with lgb's layout (1 ns to
    60 s, 3 digits) and a count of 1..3 at each of `distinct` buckets from `first`."""
    # Counts: a run of `first` zeros as -first, then small positive counts; each is a
    # zig-zag LEB128 varint (one byte below 64, two below 8192).
    zeros = zigzag(-first)
    payload = zeros + bytes(((i % 3) + 1) * 2 for i in range(distinct))
    header = struct.pack(">IIIIQQd", 0x1C849313, len(payload), 0, 3, 1, 60_000_000_000, 1.0)
    return base64.b64encode(header + payload).decode()


def counts_index(value: int) -> int:
    """Index of `value`'s bucket in the counts of lgb's layout (2,048 sub-buckets)."""
    if value < 2048:
        return value
    bucket = value.bit_length() - 1 - 10
    return (bucket + 1) * 1024 + (value >> bucket) - 1024


def zigzag(n: int) -> bytes:
    v = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        byte = v & 0x7F
        v >>= 7
        if v:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def small_run(where: Path) -> Tuple[Path, Dict[str, Any]]:
    """A real run of the memory database (reads of loaded keys, no failures) and its
    result.json, to be grown with synthetic tests."""
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
    return small.path, json.loads((small.path / "result.json").read_text())


def big_latency_result(where: Path, tests: int = 40, distinct: int = 25_000) -> Path:
    """A results directory with `tests` x `distinct` latency buckets."""
    path, doc = small_run(where)
    (template,) = [t for t in doc["tests"] if t["name"] == "t"]
    latency = v2_histogram(distinct)
    doc["tests"] = []
    for i in range(tests):
        t = json.loads(json.dumps(template))
        t["name"] = f"t{i:02d}"
        t["metrics"]["operations"]["read"]["latency"] = latency
        t["metrics"]["timeline"] = []
        doc["tests"].append(t)
    (path / "result.json").write_text(json.dumps(doc))
    return path


def long_timeline_result(where: Path, points: int) -> Path:
    """A results directory whose one test has `points` timeline points: two operations
    for points/2 seconds, each second with a histogram of 200 distinct values from
    100 us up (a busy second of a real test)."""
    path, doc = small_run(where)
    (template,) = [t for t in doc["tests"] if t["name"] == "t"]
    # The list of points of schema version 2, which still loads (result.json of
    # version 3 holds the timeline's binary form instead).
    second = template["start_unix_ms"] // 1000
    per_second = v2_histogram(200, first=counts_index(100_000))
    template["metrics"]["timeline"] = [
        {"second": second + i // 2, "operation": ("read", "update")[i % 2], "ops": 400, "errors": 0, "latency": per_second}
        for i in range(points)
    ]
    doc["tests"] = [template]
    (path / "result.json").write_text(json.dumps(doc))
    return path


def timed(label: str, fn: Callable[[], T], repeat: int = 5) -> Tuple[T, float]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    print(f"  {label:<48} {best * 1000:8.1f} ms (best of {repeat})")
    assert value is not None
    return value, best


def load_figures() -> None:
    print("Loading a result with a 1,000,000-row latency table")
    with tempfile.TemporaryDirectory() as tmp:
        path = big_latency_result(Path(tmp))
        size = (path / "result.json").stat().st_size
        print(f"  result.json: {size / 1e6:.1f} MB")
        run, t_load = timed("lgb.load (JSON + 40 histograms)", lambda: lgb.load(path))
        lat, t_lat = timed("Run.latencies() -> polars", run.latencies)
        print(f"  rows: {lat.height:,}; columns: {lat.width}; polars size {lat.estimated_size() / 1e6:.0f} MB")
        table, _ = timed("  of which the Arrow table built in Rust", lambda: run._data.latencies(None, None))
        timed("  of which polars importing it (PyCapsule)", lambda: pl.DataFrame(table))
        print(f"  total load + latencies: {(t_load + t_lat) * 1000:.0f} ms (goal < 500 ms)")
        timed("Run.summary()", run.summary)
        timed("Run.percentiles(ticks=5)", run.percentiles)
        assert lat.height == 1_000_000


def timeline_figures(points: int) -> None:
    print(f"\nLoading a result with a {points:,}-point timeline")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as tmp:
        path = long_timeline_result(Path(tmp), points)
        run, t_load = timed("lgb.load", lambda: lgb.load(path), repeat=3)
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tl, t_tl = timed("Run.timeline() -> polars", run.timeline, repeat=3)
        assert tl.height == points, tl.height
        per_row = (t_load + t_tl) / points
        grown = (rss_after - rss_before) * 1024 / points
        print(f"  per point: {per_row * 1e6:.1f} us to load and tabulate; about {grown / 1024:.0f} KiB of memory")
        print(
            f"  a 1,000,000-point timeline would take about {per_row * 1e6:.0f} s and "
            f"{grown * 1e6 / 1e9:.0f} GB: not loadable as designed (see the top of this file)"
        )


def throughput(run: lgb.Run) -> Dict[str, float]:
    s = run.summary().filter(pl.col("phase") == "run")
    return {str(test): float(sum(part["throughput"])) for (test,), part in s.group_by("test", maintain_order=True)}


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
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--timeline-points", type=int, default=2000)
    args = parser.parse_args()
    load_figures()
    timeline_figures(args.timeline_points)
    if not args.skip_cli:
        cli_figures(args.rounds)


if __name__ == "__main__":
    main()
