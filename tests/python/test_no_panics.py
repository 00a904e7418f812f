"""No input makes lgb panic. A Rust panic reaches Python as
``pyo3_runtime.PanicException``, which derives from ``BaseException``: ``except
Exception`` does not catch it, so to a caller it is a crash. Every config given to
``lgb.validate`` and ``lgb.run`` and every results directory given to ``lgb.load``
(and the tables of what loads) must end in a result or in one of lgb's own errors,
whatever it holds: values that overflow, negative and huge numbers, wrong types,
deep nesting, odd unicode, truncated and garbage files.

The runs are kept short: a hostile config is either refused before anything runs,
or bounded (the `noop` database, a few hundred operations, no load phase of a huge
data set).
"""

from __future__ import annotations

import base64
import copy
import json
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple, Union

import pytest

import lgb
from conftest import small_config

U64_MAX = 2**64 - 1
I64_MAX = 2**63 - 1
I64_MIN = -(2**63)
BIG_SECONDS = "18446744073709551615s"

Config = Union[Dict[str, Any], str]


def check_not_a_panic(e: BaseException) -> None:
    """Fails unless ``e`` is an ordinary error: not a ``PanicException``, not another
    ``BaseException``, and not one of lgb's errors carrying a panic (a panicked task
    reported as ``the benchmark task failed: task … panicked``)."""
    name = type(e).__name__
    if name == "PanicException" or not isinstance(e, Exception) or "panicked" in str(e):
        raise AssertionError(f"lgb raised {type(e).__module__}.{name}: {e}") from e


def outcome(call: Callable[[], object]) -> str:
    """``"ok"``, or the name of the exception ``call`` raised; fails the test on a
    panic (see ``check_not_a_panic``)."""
    try:
        call()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # noqa: B036 - PanicException is a BaseException
        check_not_a_panic(e)
        return type(e).__name__
    return "ok"


# ---- configs --------------------------------------------------------------------------


def hostile(test: Dict[str, Any] | None = None, **top: Any) -> Dict[str, Any]:
    """A bounded config on the noop database (100 records, 200 operations) with
    ``test`` merged into its one test and ``top`` into the document."""
    t: Dict[str, Any] = {"name": "t", "operation": {"type": "read"}, "operations": 200}
    t.update(test or {})
    cfg: Dict[str, Any] = {
        "name": "hostile",
        "database": {"type": "noop"},
        "workload": {"records": 100},
        "tests": [t],
    }
    cfg.update(top)
    return cfg


def nested(depth: int, leaf: Any = 1) -> Any:
    v = leaf
    for _ in range(depth):
        v = [v]
    return v


OVERFLOW: Dict[str, Any] = {
    "name": "x",
    "database": {"type": "memory"},
    "tests": [{"name": "t", "operation": {"type": "read"}, "duration": BIG_SECONDS, "warmup": "1s"}],
}

CONFIGS: List[Tuple[str, Config]] = [
    # Durations whose sum (duration + warmup) or conversion overflows.
    ("overflow-duration", OVERFLOW),
    ("overflow-warmup", hostile({"duration": "1s", "warmup": BIG_SECONDS})),
    ("overflow-both", hostile({"duration": BIG_SECONDS, "warmup": BIG_SECONDS})),
    ("overflow-warmup-alone", hostile({"warmup": BIG_SECONDS})),
    ("overflow-nanoseconds", hostile({"duration": "18446744073709551615ns", "warmup": "18446744073709551615ns"})),
    ("overflow-sum-of-parts", hostile({"duration": f"{BIG_SECONDS} {BIG_SECONDS}"})),
    ("overflow-days", hostile({"duration": "18446744073709551615d"})),
    ("overflow-timeout", hostile({"timeout": BIG_SECONDS})),
    ("overflow-ramp", hostile(runner={"workers": 2, "ramp": BIG_SECONDS})),
    ("duration-at-the-limit", hostile({"duration": "14m", "warmup": "1ns"})),
    ("duration-zero", hostile({"duration": "0s"})),
    ("duration-negative", hostile({"duration": "-1s"})),
    ("duration-number", hostile({"duration": 1e300})),
    # Huge, negative and fractional numbers.
    ("records-u64-max-plus-one", hostile(workload={"records": U64_MAX + 1})),
    ("records-1e300", hostile(workload={"records": 1e300})),
    ("records-negative", hostile(workload={"records": -1})),
    ("records-fraction", hostile(workload={"records": 1.5})),
    ("records-zero", hostile(workload={"records": 0})),
    ("fields-huge", hostile(workload={"records": 10, "fields": U64_MAX, "field_size": "1B"})),
    ("field-size-huge", hostile(workload={"records": 10, "fields": 2, "field_size": "16EiB"})),
    ("field-size-u64-max", hostile(workload={"records": 10, "field_size": U64_MAX})),
    ("load-batch-huge", hostile(workload={"records": 10, "load_batch": U64_MAX})),
    ("scan-length-huge", hostile({"operation": {"type": "scan"}}, workload={"records": 10, "scan_length": U64_MAX})),
    ("concurrency-negative", hostile({"concurrency": -1})),
    ("concurrency-huge", hostile({"concurrency": 2**32})),
    ("concurrency-fraction", hostile({"concurrency": 1.5})),
    ("operations-zero", hostile({"operations": 0})),
    ("operations-negative", hostile({"operations": -5})),
    ("operations-u64-max", hostile({"operations": U64_MAX, "duration": "10ms"})),
    ("rate-huge", hostile({"rate": 1e308})),
    ("rate-negative", hostile({"rate": -1.0})),
    ("rate-zero", hostile({"rate": 0})),
    ("workers-huge", hostile(runner={"workers": 2**32})),
    ("workers-zero", hostile(runner={"workers": 0})),
    ("test-workers-huge", hostile({"workers": U64_MAX})),
    ("max-in-flight-zero", hostile(runner={"max_in_flight": 0})),
    ("retries-huge", hostile(runner={"retries": U64_MAX})),
    ("seed-u64-max", hostile(workload={"records": 10, "seed": U64_MAX})),
    ("seed-negative", hostile(workload={"seed": -1})),
    ("zipfian-theta-negative", hostile(workload={"distribution": {"type": "zipfian", "theta": -1}})),
    ("zipfian-theta-huge", hostile(workload={"distribution": {"type": "zipfian", "theta": 1e308}})),
    ("zipfian-theta-tiny", hostile(workload={"records": 10, "distribution": {"type": "zipfian", "theta": 5e-324}})),
    ("hotspot-fractions", hostile(workload={"distribution": {"type": "hotspot", "hot_fraction": 2, "hot_ops": -1}})),
    ("batch-size-huge", hostile({"operation": {"type": "batch_write", "size": U64_MAX}})),
    ("mix-weights-huge", hostile({"operation": {"type": "mix", "weights": {"read": 1e308, "update": 1e308}}})),
    ("mix-weights-negative", hostile({"operation": {"type": "mix", "weights": {"read": -1, "update": 2}}})),
    ("mix-weights-zero", hostile({"operation": {"type": "mix", "weights": {"read": 0}}})),
    # At the edges of the key space: key numbers near u64::MAX (refused: records are
    # capped), and at the largest accepted data set, run (bounded: no load phase, 200
    # operations) with several workers and inserts, which grow the key space past the
    # records, and with verification, which remembers every acknowledged key.
    ("key-space-at-u64-max", hostile(
        {"operation": {"type": "mix", "weights": {"read": 1, "insert": 1}}},
        workload={"records": U64_MAX, "load": False, "distribution": {"type": "scrambled_zipfian"}},
        runner={"workers": 2},
    )),
    ("latest-at-u64-max", hostile(
        {"operation": {"type": "mix", "weights": {"read": 1, "insert": 1}}, "verify": True},
        workload={"records": U64_MAX, "load": False, "distribution": {"type": "latest"}},
        runner={"workers": 3},
    )),
    ("key-space-at-max-records", hostile(
        {"operation": {"type": "mix", "weights": {"read": 1, "insert": 1}}},
        workload={"records": 2**48, "load": False, "distribution": {"type": "scrambled_zipfian"}},
        runner={"workers": 2},
    )),
    ("latest-at-max-records", hostile(
        {"operation": {"type": "mix", "weights": {"read": 1, "insert": 1, "scan": 1}}, "concurrency": 2},
        workload={"records": 2**48, "load": False, "scan_length": 10, "distribution": {"type": "latest"}},
        runner={"workers": 3},
    )),
    ("verify-at-max-records", hostile(
        {"operation": {"type": "insert"}, "operations": 10, "verify": True},
        workload={"records": 2**48, "load": False},
    )),
    ("records-1e19-uniform", hostile(
        {"operation": {"type": "scan"}, "concurrency": 4},
        workload={"records": 1e19, "load": False, "scan_length": 1000},
        runner={"workers": 2},
    )),
    # Wrong types and shapes.
    ("tests-object", hostile(tests={"name": "t"})),
    ("tests-empty", hostile(tests=[])),
    ("tests-string", hostile(tests="t")),
    ("tests-null", hostile(tests=None)),
    ("test-null", hostile(tests=[None])),
    ("database-list", hostile(database=["noop"])),
    ("database-type-number", hostile(database={"type": 5})),
    ("database-unknown", hostile(database={"type": "cassandra"})),
    ("noop-bad-option", hostile(database={"type": "noop", "reads": nested(100)})),
    ("name-number", hostile(name=5)),
    ("workload-null", hostile(workload=None)),
    ("operation-string", hostile({"operation": "read"})),
    ("operation-type-null", hostile({"operation": {"type": None}})),
    ("distribution-string", hostile(workload={"distribution": "zipfian"})),
    ("runner-target-unknown", hostile(runner={"target": "mars"})),
    ("runner-url-garbage", hostile(runner={"target": "url", "url": "http://\u0000:99999999/"})),
    ("preset-and-operation", hostile({"preset": "ycsb-a"})),
    ("preset-unknown", hostile({"preset": "ycsb-z", "operation": None})),
    ("duplicate-names", hostile(tests=[{"name": "t", "operation": {"type": "read"}, "operations": 5}] * 2)),
    # Deep nesting, in open option maps and in the document itself.
    ("nested-database-option", hostile(database={"type": "noop", "x": nested(120)})),
    ("nested-operation-option", hostile({"operation": {"type": "read", "x": nested(120)}})),
    ("nested-document-text", '{"a":' * 100_000 + "1" + "}" * 100_000),
    ("nested-array-text", '{"tests":' + "[" * 100_000 + "]" * 100_000 + "}"),
    # Unicode and control characters.
    ("name-unicode", hostile({"name": "t\u202e\u0000\U0001f600\ufeff"}, name="\u00e9\u0301\u200d")),
    ("name-blank-unicode", hostile({"name": "\u2003\u3000"})),
    ("names-equal-after-normalization", hostile(tests=[
        {"name": "\u00e9", "operation": {"type": "read"}, "operations": 5},
        {"name": "e\u0301", "operation": {"type": "read"}, "operations": 5},
    ])),
    ("key-prefix-unicode", hostile(workload={"records": 10, "key_prefix": "\U0001f511/../\u0000"})),
    ("name-huge", hostile({"name": "n" * 1_000_000})),
    ("lone-surrogate-text", '{"name": "\\ud800", "database": {"type": "noop"}, "tests": []}'),
    ("invalid-json-text", '{"name": "x", "database": '),
    ("nan-and-infinity-text", '{"name": NaN, "workload": {"records": Infinity}, "tests": [{"rate": -Infinity}]}'),
    ("comment-only-text", "{/* */"),
]

# Overrides (`--set`) with hostile paths and values, on a valid config.
OVERRIDES: List[Tuple[str, Dict[str, Any]]] = [
    ("index-huge", {"tests[18446744073709551616].name": "x"}),
    ("index-out-of-range", {"tests[99999999].name": "x"}),
    ("index-negative", {"tests[-1].name": "x"}),
    ("empty-path", {"": 1}),
    ("duration-overflow", {"tests[0].duration": BIG_SECONDS, "tests[0].warmup": BIG_SECONDS}),
    ("records-huge", {"workload.records": U64_MAX + 1}),
    ("nested-value", {"database.x": nested(120)}),
    ("replace-everything", {"tests": "x", "workload": None}),
]


def config_id(case: Tuple[str, Any]) -> str:
    return case[0]


@pytest.mark.parametrize("case", CONFIGS, ids=config_id)
def test_validate_never_panics(case: Tuple[str, Config]) -> None:
    _, config = case
    outcome(lambda: lgb.validate(copy.deepcopy(config)))


@pytest.mark.parametrize("case", OVERRIDES, ids=config_id)
def test_overrides_never_panic(case: Tuple[str, Dict[str, Any]]) -> None:
    _, overrides = case
    cfg = hostile()
    outcome(lambda: lgb.validate(cfg, overrides=overrides))


def test_the_overflow_config_is_refused_as_a_config_error() -> None:
    with pytest.raises(BaseException) as info:
        lgb.validate(OVERFLOW)
    assert type(info.value).__name__ != "PanicException", info.value
    assert isinstance(info.value, lgb.ConfigError), repr(info.value)
    assert any(p.startswith("tests[0]") for p in info.value.paths), info.value.problems


# Runs an accepted config in a child process, so that a crash that is not a panic (an
# abort, such as a failed allocation) fails one test instead of ending the session. It
# prints the outcome, then every error message of the run (workers and error samples).
CHILD = """
import json, sys
import lgb
args = json.load(sys.stdin)
try:
    run = lgb.run(args["config"], out=args["out"], progress=False)
except BaseException as e:
    print(json.dumps([type(e).__name__, [str(e)]]))
    sys.exit(0)
messages = [m for m in run.workers()["error"].to_list() if m]
messages += [m for samples in run.errors()["samples"].to_list() for m in samples]
print(json.dumps(["ok", messages]))
"""


@pytest.mark.parametrize("case", CONFIGS, ids=config_id)
def test_run_never_panics(case: Tuple[str, Config], tmp_path: Path, python: str) -> None:
    _, config = case
    out = tmp_path / "results"
    # lgb.run sets the target to local; a config that validation refuses so is refused
    # by run before anything runs, here.
    if outcome(lambda: lgb.validate(copy.deepcopy(config), overrides=["runner.target=local"])) != "ok":
        outcome(lambda: lgb.run(copy.deepcopy(config), out=out, progress=False))
        assert not out.exists(), "a refused config ran"
        return
    child = subprocess.run(
        [python, "-c", CHILD],
        input=json.dumps({"config": config, "out": str(out)}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, f"lgb.run crashed (exit {child.returncode}):\n{child.stderr[-3000:]}"
    name, messages = json.loads(child.stdout.strip().splitlines()[-1])
    assert name != "PanicException", messages
    panics = [m for m in messages if "panicked" in m]
    assert not panics, f"a task of the run panicked: {panics}"
    if name == "ok":
        # What ran, loads.
        (run_dir,) = out.iterdir()
        outcome(lambda: _read_everything(lgb.load(run_dir)))


def test_configs_in_files_never_panic(tmp_path: Path) -> None:
    """Documents that are not objects (only a file can hold them) and bytes that are not
    UTF-8."""
    contents: List[bytes] = [
        b"",
        b"[]",
        b"null",
        b'"config"',
        b"18446744073709551616",
        b"\xff\xfe\x00{",
        json.dumps(OVERFLOW).encode()[:-7],
        b"{" * 10_000,
        b"// only a comment\n",
    ]
    for i, content in enumerate(contents):
        path = tmp_path / f"config-{i}.json"
        path.write_bytes(content)
        outcome(lambda: lgb.validate(path))
        outcome(lambda: lgb.run(path, out=tmp_path / "results", progress=False))


# ---- results directories ---------------------------------------------------------------


@pytest.fixture(scope="module")
def base_result(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """``result.json`` of a real, small run: two workers, a load phase, a mix with
    errors-free reads and updates and an open-loop test (service-time histograms)."""
    cfg = small_config(operations=2000)
    cfg["tests"].append(  # type: ignore[attr-defined]
        {"name": "open", "operation": {"type": "read"}, "rate": 2000, "duration": "300ms"}
    )
    run = lgb.run(cfg, out=tmp_path_factory.mktemp("results"), progress=False)
    assert run.path is not None
    doc: Dict[str, Any] = json.loads((run.path / "result.json").read_text())
    return doc


def _read_everything(run: lgb.Run) -> None:
    """Every table and description of a loaded run: what computes from its counters."""
    repr(run)
    run._repr_html_()
    for attr in ("run_id", "name", "status", "target", "lgb_version", "path", "database"):
        getattr(run, attr)
    for attr in ("created_at", "config", "sweep"):
        outcome(lambda: getattr(run, attr))
    run.tests()
    run.operations()
    outcome(run.summary)
    outcome(run.timeline)
    outcome(run.latencies)
    outcome(run.percentiles)
    outcome(lambda: run.percentiles(ticks=1))
    outcome(run.errors)
    outcome(run.workers)
    outcome(run.cost)
    outcome(run.cost_notes)
    for test in run.tests():
        outcome(lambda: run.latencies(test))
        for op in run.operations(test):
            outcome(lambda: run.percentiles(test, op))
    outcome(lambda: lgb.compare([run, run]))


def _walk(value: Any, visit: Callable[[str, Any], Any], key: str = "") -> Any:
    """``value`` with ``visit(key, leaf)`` applied to every leaf (dict values keep
    their key; list items their list's key)."""
    if isinstance(value, dict):
        return {k: _walk(v, visit, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, visit, key) for v in value]
    return visit(key, value)


# Counters of result.json that are u64 (the others, `retries` and `attempts`, are u32).
COUNTERS = {
    "ok", "failed", "ops", "errors", "window_ns", "warmup_ops", "first_op_ns", "bytes",
    "items", "acknowledged", "found", "missing", "unchecked",
}


def _counters_to(n: int, keys: Any = COUNTERS) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    def mutate(doc: Dict[str, Any]) -> Dict[str, Any]:
        def visit(key: str, v: Any) -> Any:
            return n if key in keys and isinstance(v, int) and not isinstance(v, bool) else v

        out: Dict[str, Any] = _walk(doc, visit)
        # Error counts by class: {"counts": {"timeout": N}}.
        for t in out.get("tests", []):
            for m in [t["metrics"], *t["metrics"].get("operations", {}).values()]:
                m.setdefault("errors", {}).setdefault("counts", {})
                m["errors"]["counts"].update({"timeout": n, "throttled": n, "internal": n})
        return out

    return mutate


def _floats_to(n: float) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    def mutate(doc: Dict[str, Any]) -> Dict[str, Any]:
        def visit(key: str, v: Any) -> Any:
            return n if key in ("read_units", "write_units") else v

        return _walk(doc, visit)  # type: ignore[no-any-return]

    return mutate


def _times_to(n: int) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    def mutate(doc: Dict[str, Any]) -> Dict[str, Any]:
        def visit(key: str, v: Any) -> Any:
            return n if key in ("start_unix_ms", "second") and isinstance(v, int) else v

        return _walk(doc, visit)  # type: ignore[no-any-return]

    return mutate


def _leb128_9(v: int) -> bytes:
    """HdrHistogram's LEB128-64b9B: seven bits per byte for eight bytes, a whole ninth."""
    out = bytearray()
    for _ in range(8):
        b, v = v & 0x7F, v >> 7
        if v == 0:
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)
    out.append(v & 0xFF)
    return bytes(out)


def _v2_histogram(counts: Dict[int, int], compressed: bool = True) -> str:
    """An HdrHistogram V2 encoding (lgb's layout: lowest 1, 3 digits) with ``counts``
    at counter indexes, base64 as result.json keeps histograms."""
    payload = bytearray()
    at = 0
    for index, n in sorted(counts.items()):
        if index > at:
            payload += _leb128_9(2 * (index - at) - 1)  # zigzag of -(gap): a run of zeros
        payload += _leb128_9(2 * n)  # zigzag of n >= 0
        at = index + 1
    plain = struct.pack(">IIIIqqd", 0x1C849313, len(payload), 0, 3, 1, 60_000_000_000, 1.0) + bytes(payload)
    if not compressed:
        return base64.b64encode(plain).decode()
    body = zlib.compress(plain)
    return base64.b64encode(struct.pack(">II", 0x1C849314, len(body)) + body).decode()


def _histograms_to(text: str) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    def mutate(doc: Dict[str, Any]) -> Dict[str, Any]:
        def visit(key: str, v: Any) -> Any:
            return text if key in ("latency", "failed_latency", "service") and isinstance(v, str) else v

        return _walk(doc, visit)  # type: ignore[no-any-return]

    return mutate


def _set(path: List[Union[str, int]], value: Any) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    def mutate(doc: Dict[str, Any]) -> Dict[str, Any]:
        out = copy.deepcopy(doc)
        target: Any = out
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        return out

    return mutate


HUGE_HISTOGRAM = _v2_histogram({0: 2**62, 100: 2**62, 5_000: 2**62, 20_000: 2**62})
MUTATIONS: List[Tuple[str, Callable[[Dict[str, Any]], Dict[str, Any]]]] = [
    ("counters-u64-max", _counters_to(U64_MAX)),
    ("counters-i64-max", _counters_to(I64_MAX)),
    ("counters-negative", _counters_to(-1)),
    ("counters-zero", _counters_to(0)),
    ("retries-and-attempts-u32-max", _counters_to(2**32 - 1, {"retries", "attempts"})),
    ("capacity-units-huge", _floats_to(1e308)),
    ("capacity-units-negative", _floats_to(-1e308)),
    ("times-i64-max", _times_to(I64_MAX)),
    ("times-i64-min", _times_to(I64_MIN)),
    ("times-u64-max", _times_to(U64_MAX)),
    ("histograms-huge-counts", _histograms_to(HUGE_HISTOGRAM)),
    ("histograms-huge-counts-plain", _histograms_to(_v2_histogram({0: I64_MAX, 27_000: I64_MAX}, compressed=False))),
    ("histograms-out-of-range", _histograms_to(_v2_histogram({10**6: 1}))),
    ("histograms-garbage", _histograms_to("!!not base64!!")),
    ("histograms-random-bytes", _histograms_to(base64.b64encode(bytes(range(256)) * 4).decode())),
    ("histograms-truncated", _histograms_to(HUGE_HISTOGRAM[:20])),
    ("histograms-length-lies", _histograms_to(base64.b64encode(struct.pack(">II", 0x1C849314, 0xFFFFFFFF) + b"x").decode())),
    ("histograms-zip-bomb", _histograms_to(base64.b64encode(
        struct.pack(">II", 0x1C849314, 0) + zlib.compress(b"\x00" * 10_000_000)
    ).decode())),
    ("histograms-empty", _histograms_to("")),
    ("schema-version-huge", _set(["schema_version"], U64_MAX)),
    ("schema-version-zero", _set(["schema_version"], 0)),
    ("schema-version-string", _set(["schema_version"], "2")),
    ("status-unknown", _set(["status"], "exploded")),
    ("created-at-garbage", _set(["created_at"], "\u0000yesterday")),
    ("tests-object", _set(["tests"], {})),
    ("tests-empty", _set(["tests"], [])),
    ("metrics-string", lambda d: _set(["tests", 0, "metrics"], "x")(d) if d.get("tests") else d),
    ("workers-empty", lambda d: {**d, "tests": [dict(t, workers=[]) for t in d["tests"]]}),
    ("timeline-shift-huge", lambda d: {**d, "tests": [
        {**t, "workers": [dict(w, timeline_shift=255) for w in t["workers"]]} for t in d["tests"]
    ]}),
    ("config-hostile", _set(["config"], OVERFLOW)),
    ("config-nested", _set(["config"], nested(120))),
    ("run-id-path", _set(["run_id"], "../../../etc/passwd")),
    ("names-unicode", lambda d: {**d, "tests": [dict(t, name="\u202e\u0000\U0001f600") for t in d["tests"]]}),
]


@pytest.mark.parametrize("case", MUTATIONS, ids=config_id)
def test_load_of_a_hostile_result_never_panics(
    case: Tuple[str, Callable[[Dict[str, Any]], Dict[str, Any]]],
    base_result: Dict[str, Any],
    tmp_path: Path,
) -> None:
    _, mutate = case
    doc = mutate(copy.deepcopy(base_result))
    (tmp_path / "result.json").write_text(json.dumps(doc))
    loaded: List[lgb.Run] = []
    result = outcome(lambda: loaded.append(lgb.load(tmp_path)))
    if result == "ok":
        _read_everything(loaded[0])
    # The file itself (not its directory) reads the same way.
    outcome(lambda: lgb.load(tmp_path / "result.json"))


def _malformed_dirs(base: Dict[str, Any], root: Path) -> Iterator[Tuple[str, Path]]:
    text = json.dumps(base).encode()
    files: Dict[str, bytes] = {
        "empty": b"",
        "truncated-half": text[: len(text) // 2],
        "truncated-one-byte": text[:-1],
        "not-utf8": b"\xff\xfe" + text,
        "null": b"null",
        "array": b"[]",
        "only-version": b'{"schema_version": 2}',
        "nested": b'{"schema_version": 2, "tests": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "garbage": bytes(range(256)) * 64,
    }
    for name, content in files.items():
        d = root / name
        d.mkdir()
        (d / "result.json").write_bytes(content)
        yield name, d
    # A good result.json next to garbage histogram logs and summary.
    d = root / "garbage-hdr"
    (d / "hdr").mkdir(parents=True)
    (d / "result.json").write_bytes(text)
    (d / "hdr" / "t.read.hlog").write_bytes(b"#[garbage\n" + bytes(range(256)) * 16)
    (d / "summary.csv").write_bytes(b"\x00,\xff\n" * 100)
    yield "garbage-hdr", d
    # result.json is a directory; the directory is empty.
    d = root / "result-json-is-a-directory"
    (d / "result.json").mkdir(parents=True)
    yield "result-json-is-a-directory", d
    d = root / "no-result-json"
    d.mkdir()
    yield "no-result-json", d


def test_load_of_malformed_directories_never_panics(base_result: Dict[str, Any], tmp_path: Path) -> None:
    seen = {}
    for name, d in _malformed_dirs(base_result, tmp_path):
        loaded: List[lgb.Run] = []
        seen[name] = outcome(lambda: loaded.append(lgb.load(d)))
        if loaded:
            _read_everything(loaded[0])
    # Only the intact result.json loads; everything else is one of lgb's errors.
    assert seen.pop("garbage-hdr") == "ok"
    assert all(r != "ok" for r in seen.values()), seen
