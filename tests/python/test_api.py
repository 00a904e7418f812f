"""The public API of lgb against real runs of lgb-core (memory and scripted adapters):
what each function accepts, what each table holds, and that the numbers agree with the
results directory that lgb-core wrote."""

from __future__ import annotations

import csv
import datetime as dt
import json
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import lgb
from conftest import REPO, small_config

DUR = pl.Duration("ns")
UTC = pl.Datetime("ns", "UTC")


@pytest.fixture(scope="module")
def mix_run(tmp_path_factory: pytest.TempPathFactory) -> lgb.Run:
    return lgb.run(small_config(), out=tmp_path_factory.mktemp("results"), progress=False)


def test_run_writes_a_results_directory_and_describes_itself(mix_run: lgb.Run) -> None:
    assert mix_run.status == "completed"
    assert mix_run.path is not None and (mix_run.path / "result.json").is_file()
    assert mix_run.path.name == mix_run.run_id
    on_disk = json.loads((mix_run.path / "result.json").read_text())
    assert on_disk["run_id"] == mix_run.run_id
    assert mix_run.name == "small"
    assert mix_run.database == "memory"
    assert mix_run.target == "local"
    assert mix_run.tests() == ["load", "mix"]
    assert mix_run.operations("mix") == ["read", "update"]
    assert mix_run.config["tests"][0]["operations"] == 5000
    assert mix_run.config == on_disk["config"]
    age = dt.datetime.now(dt.timezone.utc) - mix_run.created_at
    assert dt.timedelta(0) <= age < dt.timedelta(minutes=10)
    assert mix_run.lgb_version == lgb.__version__
    assert mix_run.run_id in repr(mix_run)
    assert "<table" in mix_run._repr_html_()


def test_summary_columns_dtypes_and_values_match_summary_csv(mix_run: lgb.Run) -> None:
    s = mix_run.summary()
    assert s.schema == pl.Schema(
        {
            "test": pl.String,
            "phase": pl.String,
            "operation": pl.String,
            "ok": pl.UInt64,
            "failed": pl.UInt64,
            "throughput": pl.Float64,
            "min": DUR,
            "mean": DUR,
            "p50": DUR,
            "p90": DUR,
            "p95": DUR,
            "p99": DUR,
            "p999": DUR,
            "max": DUR,
            "stddev": DUR,
            "service_p50": DUR,
            "service_p99": DUR,
            "errors": pl.String,
            "read_units": pl.Float64,
            "write_units": pl.Float64,
        }
    )
    run_rows = s.filter(pl.col("phase") == "run")
    assert run_rows["ok"].sum() + run_rows["failed"].sum() == 5000
    assert s.filter(pl.col("test") == "load")["phase"].to_list() == ["load"]
    assert mix_run.path is not None
    with open(mix_run.path / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == s.height
    # Durations are exact nanoseconds (timedelta would round to microseconds).
    in_ns = s.with_columns(pl.col("p50", "p99", "max").dt.total_nanoseconds())
    for row, frame_row in zip(rows, in_ns.iter_rows(named=True)):
        assert (row["test"], row["operation"]) == (frame_row["test"], frame_row["operation"])
        assert int(row["ok"]) == frame_row["ok"]
        for col in ("p50", "p99", "max"):
            assert frame_row[col] == int(row[f"{col}_ns"])
        assert float(row["throughput"]) == pytest.approx(frame_row["throughput"])
    # Closed loop: no service-time histograms.
    assert s["service_p99"].null_count() == s.height


def test_timeline_covers_every_operation_in_utc_seconds(mix_run: lgb.Run) -> None:
    t = mix_run.timeline()
    assert t.schema == pl.Schema(
        {
            "test": pl.String,
            "phase": pl.String,
            "operation": pl.String,
            "time": UTC,
            "ops": pl.UInt64,
            "errors": pl.UInt64,
            "mean": DUR,
            "p50": DUR,
            "p90": DUR,
            "p99": DUR,
            "p999": DUR,
            "max": DUR,
        }
    )
    mix = t.filter(pl.col("test") == "mix")
    assert mix["ops"].sum() == 5000
    assert mix["time"].dt.nanosecond().max() == 0  # whole seconds
    created = mix_run.created_at
    assert all(abs(ts - created) < dt.timedelta(minutes=5) for ts in mix["time"].to_list())


def test_latencies_are_the_histograms_bucket_by_bucket(mix_run: lgb.Run) -> None:
    lat = mix_run.latencies("mix", "read")
    assert lat.schema == pl.Schema(
        {
            "test": pl.String,
            "operation": pl.String,
            "histogram": pl.String,
            "low": DUR,
            "value": DUR,
            "count": pl.UInt64,
            "cumulative_count": pl.UInt64,
            "percentile": pl.Float64,
        }
    )
    ok = mix_run.summary().filter((pl.col("test") == "mix") & (pl.col("operation") == "read"))
    reads = ok["ok"].item()
    latency = lat.filter(pl.col("histogram") == "latency")
    assert latency["count"].sum() == reads
    assert latency["cumulative_count"].to_list()[-1] == reads
    assert latency["percentile"].to_list()[-1] == pytest.approx(100.0)
    assert latency["value"].is_sorted()
    assert (latency["low"] <= latency["value"]).all()
    # The bucket holding the 99th percentile is where the summary says p99 is.
    p99 = ok["p99"].item()
    first_at_99 = latency.filter(pl.col("percentile") >= 99.0)["value"][0]
    assert first_at_99 == p99
    both = mix_run.latencies("mix")
    assert set(both["operation"].unique()) == {"read", "update"}
    everything = mix_run.latencies()
    assert set(everything["test"].unique()) == {"load", "mix"}


def test_percentile_spectrum_comes_from_hdrhistogram(mix_run: lgb.Run) -> None:
    p = mix_run.percentiles("mix", "read", ticks=5)
    assert p.schema == pl.Schema(
        {"test": pl.String, "operation": pl.String, "histogram": pl.String, "percentile": pl.Float64, "value": DUR}
    )
    latency = p.filter(pl.col("histogram") == "latency")
    assert latency["percentile"].to_list()[-1] == pytest.approx(100.0)
    assert latency["value"].is_sorted()
    finer = mix_run.percentiles("mix", "read", ticks=20).filter(pl.col("histogram") == "latency")
    assert finer.height > latency.height
    with pytest.raises(ValueError):
        mix_run.percentiles(ticks=0)


def test_unknown_test_or_operation_names_the_known_ones(mix_run: lgb.Run) -> None:
    with pytest.raises(ValueError, match="its tests: load, mix"):
        mix_run.latencies("nope")
    with pytest.raises(ValueError, match="its operations: read, update"):
        mix_run.latencies("mix", "scan")


def test_errors_and_workers_of_a_failing_scripted_database(out: Path) -> None:
    config = {
        "database": {"type": "scripted", "latencies": ["50us"], "fail_every": 5, "fail_class": "throttled"},
        "workload": {"load": False},
        "tests": [{"name": "reads", "operation": {"type": "read"}, "operations": 400, "concurrency": 2}],
    }
    r = lgb.run(config, out=out, progress=False)
    e = r.errors()
    assert e.schema == pl.Schema(
        {
            "test": pl.String,
            "phase": pl.String,
            "operation": pl.String,
            "class": pl.String,
            "count": pl.UInt64,
            "samples": pl.List(pl.String),
        }
    )
    assert e.rows() == [("reads", "run", "read", "throttled", 80, e["samples"][0].to_list())]
    assert 1 <= len(e["samples"][0]) <= 5
    s = r.summary()
    assert s["failed"].item() == 80 and s["errors"].item() == "throttled=80"
    w = r.workers()
    assert w.schema["start"] == UTC and w.schema["window"] == DUR and w.schema["init"] == DUR
    assert w.schema["cold_start"] == pl.Boolean and w.schema["worker"] == pl.UInt32
    assert w["ops"].sum() == 400
    assert w["status"].to_list() == ["completed"]
    assert w["runtime"].to_list() == ["local"]
    # The threads of the runtime the local worker ran on.
    assert w.schema["threads"] == pl.UInt64 and w["threads"][0] >= 1
    assert w["window"][0] > dt.timedelta(0)


def test_open_loop_tests_have_service_time(out: Path) -> None:
    cfg = small_config(rate=4000, duration="1s")
    del cfg["tests"][0]["operations"]  # type: ignore[index]
    r = lgb.run(cfg, out=out, progress=False)
    s = r.summary().filter(pl.col("test") == "mix")
    assert s["service_p99"].null_count() == 0
    assert "service" in set(r.latencies("mix")["histogram"].unique())


def test_config_as_path_text_or_dict_with_overrides(out: Path, tmp_path: Path) -> None:
    cfg = small_config()
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(cfg))
    shorter = {"tests[0].operations": 1000, "tests[0].concurrency": 1}
    for source in (path, str(path), json.dumps(cfg), cfg):
        r = lgb.run(source, overrides=shorter, workers=1, out=out, progress=False)
        assert r.config["tests"][0]["operations"] == 1000
        assert r.config["tests"][0]["concurrency"] == 1
        assert r.config["runner"]["workers"] == 1
        assert r.workers().filter(pl.col("test") == "mix").height == 1
    r = lgb.run(cfg, overrides=["tests[0].operations=800"], out=out, progress=False)
    assert r.summary().filter(pl.col("phase") == "run")["ok"].sum() == 800
    # Comments are allowed in config text, as `lgb init` writes them.
    r = lgb.run("{ // a comment\n" + json.dumps(cfg)[1:], overrides=shorter, out=out, progress=False)
    assert r.status == "completed"


def test_quickstart_example_runs_from_its_file(out: Path) -> None:
    short = {"tests[0].duration": "1s", "tests[0].warmup": "0s", "tests[1].duration": "1s", "workload.records": 10000}
    r = lgb.run(REPO / "examples" / "quickstart.json", overrides=short, out=out, progress=False)
    assert r.tests() == ["load", "read-update", "batch-write"]
    assert r.operations("batch-write") == ["batch_write"]


def test_load_reads_what_run_wrote(mix_run: lgb.Run) -> None:
    assert mix_run.path is not None
    for where in (mix_run.path, str(mix_run.path), mix_run.path / "result.json"):
        back = lgb.load(where)
        assert back.run_id == mix_run.run_id
        assert back.path == mix_run.path
        assert back.summary().equals(mix_run.summary())
        assert back.latencies().equals(mix_run.latencies())
        assert back.timeline().equals(mix_run.timeline())


def test_compare_stacks_summaries_with_run_labels(mix_run: lgb.Run, out: Path) -> None:
    other = lgb.run(small_config(operations=2000), out=out, progress=False)
    assert mix_run.path is not None
    c = lgb.compare([mix_run.path, other])
    assert c.columns[:3] == ["run_id", "name", "database"]
    assert c.columns[3:] == mix_run.summary().columns
    assert c.height == mix_run.summary().height + other.summary().height
    by_run = c.filter(pl.col("phase") == "run").group_by("run_id").agg(pl.col("ok").sum() + pl.col("failed").sum())
    totals = dict(by_run.iter_rows())
    assert totals == {mix_run.run_id: 5000, other.run_id: 2000}
    with pytest.raises(ValueError):
        lgb.compare([])


def test_validate_fills_defaults_and_lists(tmp_path: Path) -> None:
    cfg = lgb.validate({"database": {"type": "memory"}, "tests": [{"name": "r", "operation": {"type": "read"}}]})
    assert cfg["tests"][0]["concurrency"] == 1
    assert cfg["workload"]["records"] == 10000
    assert cfg["runner"]["target"] == "local"
    assert lgb.validate(REPO / "examples" / "quickstart.json")["name"] == "quickstart"
    dbs = lgb.list_databases()
    assert {"memory", "scripted"} <= dbs.keys()
    assert all(isinstance(v, str) and v for v in dbs.values())
    ops = lgb.list_operations()
    assert {"read", "update", "batch_write", "mix", "scan"} <= ops.keys()
    schema = lgb.schema()
    assert {"database", "tests", "workload", "runner"} <= schema["properties"].keys()


def test_run_releases_the_gil(out: Path) -> None:
    """While a 1.5 s benchmark runs in another thread, this thread keeps running Python."""
    cfg = small_config(duration="1500ms")
    del cfg["tests"][0]["operations"]  # type: ignore[index]
    done = threading.Event()
    result: list[lgb.Run] = []

    def target() -> None:
        result.append(lgb.run(cfg, out=out, progress=False))
        done.set()

    thread = threading.Thread(target=target)
    thread.start()
    spins = 0
    started = time.monotonic()
    while not done.is_set():
        spins += 1
        time.sleep(0.001)
    elapsed = time.monotonic() - started
    thread.join()
    assert result[0].status == "completed"
    assert elapsed >= 1.4
    # Held GIL: this loop would barely run (one switch per poll). Released: ~1 per ms.
    assert spins > 300, spins


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def start(self, label: str) -> None:
        self.calls.append(("start", label))

    def update(self, fraction: float | None, message: str) -> None:
        self.calls.append(("update", (fraction, message)))

    def finish(self, line: str) -> None:
        self.calls.append(("finish", line))

    def close(self, message: str | None = None) -> None:
        self.calls.append(("close", message))


def test_progress_reports_tests_live(out: Path) -> None:
    cfg = small_config(duration="1s")
    del cfg["tests"][0]["operations"]  # type: ignore[index]
    rec = Recorder()
    lgb.run(cfg, out=out, progress=rec)
    kinds = [k for k, _ in rec.calls]
    assert ("start", "load ×2") in rec.calls and ("start", "mix ×2") in rec.calls
    finished = [v for k, v in rec.calls if k == "finish"]
    assert len(finished) == 2 and str(finished[1]).startswith("mix ")
    updates = [v for k, v in rec.calls if k == "update"]
    # About ten a second during the 1 s test, with a growing position.
    mix_updates = [u for u in updates if isinstance(u, tuple) and u[0] is not None and "ops" in u[1]]
    assert len(mix_updates) >= 5
    fractions = [u[0] for u in mix_updates]
    assert fractions == sorted(fractions) and fractions[-1] > fractions[0]
    assert kinds[-1] == "close" and rec.calls[-1] == ("close", None)
    with pytest.raises(TypeError):
        lgb.run(cfg, out=out, progress="yes")  # type: ignore[arg-type]


def test_an_exception_in_the_progress_bar_stops_the_run_and_keeps_results(out: Path) -> None:
    class Failing(Recorder):
        def update(self, fraction: float | None, message: str) -> None:
            if "ops" in message and fraction:
                raise RuntimeError("bar broke")

    cfg = small_config(duration="30s")
    del cfg["tests"][0]["operations"]  # type: ignore[index]
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="bar broke") as info:
        lgb.run(cfg, out=out, progress=Failing())
    assert time.monotonic() - started < 10
    results = Path(getattr(info.value, "results"))
    partial = lgb.load(results)
    assert partial.status == "cancelled"
    assert partial.tests() == ["load", "mix"]


COST_SCHEMA = pl.Schema(
    {
        "test": pl.String,
        "phase": pl.String,
        "operations": pl.UInt64,
        "service": pl.String,
        "item": pl.String,
        "quantity": pl.Float64,
        "unit": pl.String,
        "unit_price_usd": pl.Float64,
        "cost_usd": pl.Float64,
        "per_million_ops_usd": pl.Float64,
        "prices_region": pl.String,
        "prices_as_of": pl.Date,
    }
)
# The default price table (lgb_core::cost::PriceTable, docs/results.md), per unit.
USD_PER_RRU = 0.125 / 1e6
USD_PER_WRU = 0.625 / 1e6
USD_PER_GB_SECOND = 0.0000166667
USD_PER_REQUEST = 0.20 / 1e6


def _item(cost: pl.DataFrame, test: str, item: str) -> dict[str, Any]:
    (row,) = cost.filter((pl.col("test") == test) & (pl.col("item") == item)).iter_rows(named=True)
    return row


def test_cost_of_a_dynamodb_run_is_its_request_units_at_list_prices(
    services_env: dict[str, str], out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB (moto) bills what it reports as consumed: moto charges 0.5 read unit per
    GetItem and 1 write unit per PutItem, so 300 reads and 100 writes cost 150 RRU and
    100 WRU at the price table's rates."""
    for key, value in services_env.items():
        monkeypatch.setenv(key, value)
    config = {
        "name": "cost",
        "database": {
            "type": "dynamodb",
            "endpoint": services_env["LGB_DYNAMODB_ENDPOINT"],
            "region": "us-east-1",
            "table": f"lgb-py-cost-{time.time_ns()}",
            "create_table_if_missing": True,
            "partition_key": {"name": "pk", "type": "S"},
        },
        "workload": {"records": 100, "fields": 2, "field_size": "10B", "load_batch": 25},
        "tests": [
            {"name": "reads", "operation": {"type": "read"}, "operations": 300, "concurrency": 2},
            {"name": "writes", "operation": {"type": "update"}, "operations": 100, "concurrency": 2},
        ],
    }
    r = lgb.run(config, out=out, progress=False)
    assert r.status == "completed"
    assert r.summary()["failed"].sum() == 0, r.errors()
    c = r.cost()
    assert c.schema == COST_SCHEMA
    assert set(c["test"]) == {"load", "reads", "writes"}
    assert set(c["service"]) == {"dynamodb"}  # local workers: no Lambda
    reads = _item(c, "reads", "read units")
    assert (reads["quantity"], reads["unit"], reads["operations"]) == (150.0, "RRU", 300)
    assert reads["unit_price_usd"] == pytest.approx(USD_PER_RRU, rel=1e-12)
    assert reads["cost_usd"] == pytest.approx(150 * USD_PER_RRU, rel=1e-12)
    assert reads["per_million_ops_usd"] == pytest.approx(150 * USD_PER_RRU / 300 * 1e6, rel=1e-12)
    assert _item(c, "reads", "write units")["cost_usd"] == 0.0
    writes = _item(c, "writes", "write units")
    assert (writes["quantity"], writes["unit"]) == (100.0, "WRU")
    assert writes["cost_usd"] == pytest.approx(100 * USD_PER_WRU, rel=1e-12)
    # The load phase's BatchWriteItem calls: moto reports one unit per call.
    load = _item(c, "load", "write units")
    summary_units = r.summary().filter(pl.col("test") == "load")["write_units"].sum()
    assert load["quantity"] == summary_units == 100 / 25
    assert c["prices_as_of"].unique().to_list() == [dt.date(2025, 7, 21)]
    assert c["prices_region"].unique().to_list() == ["us-east-1"]
    notes = " ".join(r.cost_notes())
    assert "DynamoDB on-demand" in notes and "no Lambda cost" in notes

    # Other prices: a dict, JSON text or a file of the fields that differ.
    dearer = {"dynamodb_per_million_rru": 0.25, "region": "eu-west-1", "as_of": "2026-01-15"}
    prices_file = tmp_path / "prices.json"
    prices_file.write_text(json.dumps(dearer))
    for prices in (dearer, json.dumps(dearer), prices_file, str(prices_file)):
        other = r.cost(prices)
        assert _item(other, "reads", "read units")["cost_usd"] == pytest.approx(2 * reads["cost_usd"], rel=1e-12)
        assert _item(other, "writes", "write units")["cost_usd"] == pytest.approx(writes["cost_usd"], rel=1e-12)
        assert other["prices_as_of"].unique().to_list() == [dt.date(2026, 1, 15)]
        assert other["prices_region"].unique().to_list() == ["eu-west-1"]
    assert "eu-west-1" in " ".join(r.cost_notes(dearer))
    with pytest.raises(lgb.ConfigError, match="dynamodb_rru") as info:
        r.cost({"dynamodb_rru": 1})
    assert info.value.paths == ["prices.dynamodb_rru"]
    with pytest.raises(lgb.IoError):
        r.cost(tmp_path / "missing.json")


def test_cost_of_lambda_workers_is_memory_times_billed_duration(mix_run: lgb.Run, tmp_path: Path) -> None:
    """A memory run costs nothing locally; the same result as if each worker had been a
    1 GB Lambda function billed 1.5 s per invocation costs 1.5 GB-s and one request per
    worker and test."""
    assert mix_run.cost().is_empty() and mix_run.cost().schema == COST_SCHEMA
    assert mix_run.path is not None
    doc = json.loads((mix_run.path / "result.json").read_text())
    for t in doc["tests"]:
        for w in t["workers"]:
            w["environment"].update(
                runtime="lambda", memory_mb=1024, report={"duration_ms": 1499.2, "billed_duration_ms": 1500.0}
            )
    copy = tmp_path / mix_run.run_id
    copy.mkdir()
    (copy / "result.json").write_text(json.dumps(doc))
    c = lgb.load(copy).cost()
    assert c.schema == COST_SCHEMA
    assert sorted(set(c["test"])) == ["load", "mix"]
    for test in ("load", "mix"):
        compute = _item(c, test, "compute")
        assert (compute["service"], compute["unit"]) == ("lambda", "GB-s")
        assert compute["quantity"] == pytest.approx(2 * 1.0 * 1.5)  # two workers
        assert compute["cost_usd"] == pytest.approx(3.0 * USD_PER_GB_SECOND, rel=1e-6)
        requests = _item(c, test, "requests")
        assert requests["quantity"] == 2.0
        assert requests["cost_usd"] == pytest.approx(2 * USD_PER_REQUEST, rel=1e-12)
    mix = c.filter(pl.col("test") == "mix")
    assert mix["operations"].unique().to_list() == [5000]
    assert mix["per_million_ops_usd"].sum() == pytest.approx(mix["cost_usd"].sum() / 5000 * 1e6, rel=1e-12)


def test_tables_cross_through_the_arrow_pycapsule_interface(mix_run: lgb.Run) -> None:
    """Tables are Arrow streams that polars (or any Arrow consumer) imports; each export
    is a new stream over the same Rust buffers."""
    table = mix_run._data.latencies(None, None)
    capsule = table.__arrow_c_stream__()
    assert type(capsule).__name__ == "PyCapsule" and '"arrow_array_stream"' in repr(capsule)
    del capsule  # never consumed: released by the capsule, no leak or crash
    first, second = pl.DataFrame(table), pl.DataFrame(table)
    assert first.height == table.num_rows > 0
    assert first.equals(second) and first.equals(mix_run.latencies())
    assert first["operation"].unique().sort().to_list() == ["load", "read", "update"]
