"""The public functions of lgb and the Run class. They only adapt arguments and
results: the native module (``lgb._lgb``, lgb-core underneath) runs, loads and
validates, and hands tables over through the Arrow PyCapsule interface, which polars
imports without copying."""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import polars as pl

from . import _lgb
from ._errors import ConfigError
from ._progress import Progress, make_progress

ConfigSource = Union[str, "os.PathLike[str]", Mapping[str, Any]]
"""A config: a path, JSON text (comments allowed) or a dict."""

Overrides = Union[Mapping[str, Any], Sequence[str]]
"""``{"tests[0].concurrency": 8}`` or ``["tests[0].concurrency=8"]``."""

Prices = Union[str, "os.PathLike[str]", Mapping[str, Any]]
"""Price overrides: a dict or JSON text of the fields that differ from the default
table (``{"region": "eu-west-1", "lambda_gb_second": 0.0000133334}``), or the path of
such a JSON file (``lgb report --prices``)."""


def _source(config: ConfigSource) -> Tuple[str, bool]:
    """``(text or path, is_path)``."""
    if isinstance(config, Mapping):
        return json.dumps(config), False
    if isinstance(config, os.PathLike):
        return os.fspath(config), True
    if isinstance(config, str):
        # JSON documents are objects; anything else is a file name.
        return config, not config.lstrip().startswith("{")
    raise TypeError(f"config must be a path, JSON text or a dict, not {type(config).__name__}")


def _prices(prices: Optional[Prices]) -> Tuple[Optional[str], bool]:
    """``(text or path, is_path)`` for the native cost functions."""
    if prices is None:
        return None, False
    if isinstance(prices, Mapping):
        return json.dumps(prices), False
    if isinstance(prices, os.PathLike):
        return os.fspath(prices), True
    if isinstance(prices, str):
        return prices, not prices.lstrip().startswith("{")
    raise TypeError(f"prices must be a path, JSON text or a dict, not {type(prices).__name__}")


def _override_list(overrides: Optional[Overrides]) -> List[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        out = []
        for path, value in overrides.items():
            text = value if isinstance(value, str) else json.dumps(value)
            out.append(f"{path}={text}")
        return out
    if isinstance(overrides, str):
        return [overrides]
    return [str(o) for o in overrides]


def _frame(table: _lgb.ArrowTable) -> pl.DataFrame:
    return pl.DataFrame(table)


class Run:
    """One benchmark run: what ``lgb.run`` returns and ``lgb.load`` reads.

    Tables are polars DataFrames; latencies are ``Duration("ns")``, instants
    ``Datetime("ns", "UTC")``, counts ``UInt64``. Each call builds its table anew from
    the run's exact histograms.
    """

    def __init__(self, data: _lgb.RunData) -> None:
        self._data = data
        # Every field of the run but its tests: a new field of lgb-core's RunResult
        # arrives here without a change to the native module.
        self._fields: Dict[str, Any] = json.loads(data.run_json())
        self._tests = data.tests()

    # ---- identity -------------------------------------------------------------------

    @property
    def run_id(self) -> str:
        """Unique id of the run, also its results directory name."""
        return str(self._fields["run_id"])

    @property
    def name(self) -> str:
        """The benchmark's name (``config["name"]``)."""
        return str(self._fields["name"])

    @property
    def status(self) -> str:
        """``"completed"``, ``"cancelled"`` (interrupted; results cover what ran) or
        ``"failed"`` (a test had no worker that could run)."""
        return str(self._fields["status"])

    @property
    def incomplete(self) -> Optional[Dict[str, Any]]:
        """Why a run stopped early and which tests did not run (``{"reason": ...,
        "not_run": [...]}``), or ``None`` for a run that went to its end. The tests that
        ended before the stop are all in the results."""
        value = self._fields.get("incomplete")
        return None if value is None else dict(value)

    @property
    def target(self) -> str:
        """Where workers ran: ``"local"``, ``"lambda"`` or ``"url"``."""
        return str(self._fields["target"])

    @property
    def created_at(self) -> _dt.datetime:
        """When the run started (UTC)."""
        return _dt.datetime.fromisoformat(str(self._fields["created_at"]).replace("Z", "+00:00"))

    @property
    def lgb_version(self) -> str:
        """Version of lgb that ran the benchmark."""
        return str(self._fields["lgb_version"])

    @property
    def path(self) -> Optional[Path]:
        """The results directory (``results/<run-id>``)."""
        p = self._data.path
        return None if p is None else Path(p)

    @property
    def config(self) -> Dict[str, Any]:
        """The config as run: overrides applied, defaults filled in."""
        return dict(self._fields["config"])

    @property
    def sweep_report(self) -> Optional[Dict[str, Any]]:
        """The memory-size sweep's report (``sweep.json``: ``points`` per size,
        ``recommended`` by ``strategy``, ``cheapest``, ``fastest``,
        ``best_cost_latency``, ``original_memory_mb``, ``applied``), or ``None`` for a
        run that was not a sweep."""
        p = self.path
        if p is None or not (p / "sweep.json").is_file():
            return None
        return dict(json.loads((p / "sweep.json").read_text()))

    def sweep(self) -> Optional[pl.DataFrame]:
        """One row per memory size of a sweep, or ``None`` for a run that was not one.

        Columns: ``memory_mb`` (UInt32); ``operations`` (UInt64); ``throughput``
        (Float64, ops/s); ``p50``, ``p99``, ``mean`` (Duration ns; ``mean`` without the
        discarded share); ``workers`` (UInt32, all of the size's workers; with
        ``--only-cold-starts`` every one is cold), ``cold_workers``, ``warm_workers``
        (UInt32) and ``cold_p50``,
        ``cold_p99``, ``warm_p50``, ``warm_p99`` (Duration ns, null without such
        workers); ``billed_gb_seconds`` (Float64); ``cost_per_million_ops``,
        ``lambda_per_million_ops``, ``database_per_million_ops`` (Float64, USD);
        ``version`` (String, the published version measured); ``recommended``
        (Boolean).
        """
        report = self.sweep_report
        if report is None:
            return None
        rows = []
        for p in report["points"]:
            cold, warm = p.get("cold") or {}, p.get("warm") or {}
            rows.append(
                {
                    "memory_mb": p["memory_mb"],
                    "operations": p["operations"],
                    "throughput": float(p["throughput"]),
                    "p50": p["p50_ns"],
                    "p99": p["p99_ns"],
                    "mean": int(p.get("mean_ns") or 0),
                    "workers": p.get("workers", cold.get("workers", 0) + warm.get("workers", 0)),
                    "cold_workers": cold.get("workers", 0),
                    "cold_p50": cold.get("p50_ns"),
                    "cold_p99": cold.get("p99_ns"),
                    "warm_workers": warm.get("workers", 0),
                    "warm_p50": warm.get("p50_ns"),
                    "warm_p99": warm.get("p99_ns"),
                    "billed_gb_seconds": float(p["billed_gb_seconds"]),
                    "cost_per_million_ops": p.get("cost_per_million_ops_usd"),
                    "lambda_per_million_ops": p.get("lambda_per_million_ops_usd"),
                    "database_per_million_ops": p.get("database_per_million_ops_usd"),
                    "version": p.get("version"),
                    "recommended": p["memory_mb"] == report.get("recommended"),
                }
            )
        ns = pl.Duration("ns")
        schema: Dict[str, Any] = {
            "memory_mb": pl.UInt32,
            "operations": pl.UInt64,
            "throughput": pl.Float64,
            "p50": ns,
            "p99": ns,
            "mean": ns,
            "workers": pl.UInt32,
            "cold_workers": pl.UInt32,
            "cold_p50": ns,
            "cold_p99": ns,
            "warm_workers": pl.UInt32,
            "warm_p50": ns,
            "warm_p99": ns,
            "billed_gb_seconds": pl.Float64,
            "cost_per_million_ops": pl.Float64,
            "lambda_per_million_ops": pl.Float64,
            "database_per_million_ops": pl.Float64,
            "version": pl.String,
            "recommended": pl.Boolean,
        }
        return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)

    def sweep_chart(self) -> Any:
        """The sweep's chart as a matplotlib ``Figure`` (``pip install 'lgb[notebooks]'``):
        cost per million operations by memory size above, p50 and p99 of all, cold and
        warm workers below, the recommended size marked in red, as the HTML report
        draws it. ``None`` for a run that was not a sweep."""
        frame = self.sweep()
        if frame is None:
            return None
        try:
            import matplotlib.pyplot as plt
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("Run.sweep_chart needs matplotlib: pip install 'lgb[notebooks]'") from e
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
        mb = frame["memory_mb"].to_list()
        top.plot(mb, frame["cost_per_million_ops"].to_list(), "o-", color="#1f77b4", label="$ per 1M ops")
        top.set_ylabel("US dollars per 1M operations")
        top.set_title("Cost per million operations by memory size")

        def ms(col: str) -> List[Optional[float]]:
            return [None if v is None else v / 1e6 for v in frame[col].dt.total_nanoseconds().to_list()]

        for col, label, colour, style in [
            ("p50", "p50", "#1f77b4", "o-"),
            ("p99", "p99", "#ff7f0e", "o-"),
            ("cold_p99", "p99 cold workers", "#2ca02c", "o--"),
            ("warm_p99", "p99 warm workers", "#9467bd", "o--"),
        ]:
            values = ms(col)
            if any(v is not None for v in values):
                bottom.plot(mb, values, style, color=colour, label=label)
        bottom.set_ylabel("latency (ms)")
        bottom.set_xlabel("memory (MB)")
        bottom.set_title("Latency by memory size")
        chosen = frame.filter(pl.col("recommended"))
        if chosen.height:
            x = chosen["memory_mb"][0]
            top.plot([x], [chosen["cost_per_million_ops"][0]], "o", markersize=16, markerfacecolor="none", markeredgecolor="#d62728", markeredgewidth=2.5, label=f"recommended: {x} MB")
            bottom.axvline(x, color="#d62728", linewidth=2, label="recommended")
        top.legend()
        bottom.legend()
        fig.tight_layout()
        return fig

    @property
    def database(self) -> str:
        """The database adapter (``config["database"]["type"]``)."""
        return str(self.config["database"]["type"])

    def tests(self) -> List[str]:
        """Test names in the order they ran (``"load"`` first when records were loaded)."""
        return [name for name, _, _ in self._tests]

    def operations(self, test: Optional[str] = None) -> List[str]:
        """Operation kinds measured (by ``test``, or by any test), sorted."""
        if test is not None:
            self._check(test, None)
        ops = {op for name, _, names in self._tests if test in (None, name) for op in names}
        return sorted(ops)

    def _check(self, test: Optional[str], operation: Optional[str]) -> None:
        if test is not None and test not in self.tests():
            raise ValueError(f"run {self.run_id} has no test {test!r}; its tests: {', '.join(self.tests())}")
        if operation is not None and operation not in self.operations(test):
            where = f"test {test!r}" if test is not None else f"run {self.run_id}"
            raise ValueError(f"{where} has no operation {operation!r}; its operations: {', '.join(self.operations(test))}")

    # ---- tables ---------------------------------------------------------------------

    def summary(self) -> pl.DataFrame:
        """One row per test and operation (the rows of ``summary.csv``).

        Columns: ``test``, ``phase`` (``load``/``run``), ``operation`` (String);
        ``ok``, ``failed`` (UInt64); ``throughput`` (Float64, operations per second of
        the measured window); ``min``, ``mean``, ``p50``, ``p90``, ``p95``, ``p99``,
        ``p999``, ``max``, ``stddev`` (Duration ns, successful operations; from the
        intended start in open-loop tests); ``service_p50``, ``service_p99``
        (Duration ns, null in closed-loop tests); ``errors`` (String,
        ``class=count`` pairs); ``read_units``, ``write_units`` (Float64, capacity
        units the database reported).
        """
        return _frame(self._data.summary())

    def timeline(self) -> pl.DataFrame:
        """One row per test, second and operation.

        Columns: ``test``, ``phase``, ``operation`` (String); ``time`` (Datetime ns UTC,
        start of the second); ``ops``, ``errors`` (UInt64, operations and failures that
        ended in that second); ``mean``, ``p50``, ``p90``, ``p99``, ``p999``, ``max``
        (Duration ns, latency of that second's successful operations).
        """
        return _frame(self._data.timeline())

    def latencies(self, test: Optional[str] = None, operation: Optional[str] = None) -> pl.DataFrame:
        """The histograms at full resolution: one row per recorded bucket.

        Columns: ``test``, ``operation``, ``histogram`` (String: ``latency`` for
        successes, ``service`` for service time in open-loop tests,
        ``failed_latency`` for failures); ``low``, ``value`` (Duration ns, the
        bucket's range; ``value`` is what HdrHistogram reports for percentiles);
        ``count``, ``cumulative_count`` (UInt64); ``percentile`` (Float64, 0-100,
        share of the histogram at or below ``value``). ``value`` against
        ``percentile`` is the percentile spectrum.
        """
        self._check(test, operation)
        return _frame(self._data.latencies(test, operation))

    def percentiles(
        self, test: Optional[str] = None, operation: Optional[str] = None, ticks: int = 5
    ) -> pl.DataFrame:
        """HdrHistogram's percentile distribution: ``ticks`` points per halving of the
        distance to 100% (what HdrHistogram's plotter draws).

        Columns: ``test``, ``operation``, ``histogram`` (String); ``percentile``
        (Float64, 0-100); ``value`` (Duration ns).
        """
        self._check(test, operation)
        if ticks < 1:
            raise ValueError("ticks must be at least 1")
        return _frame(self._data.percentiles(test, operation, ticks))

    def errors(self) -> pl.DataFrame:
        """One row per test, operation and error class.

        Columns: ``test``, ``phase`` (String); ``operation`` (String, null for errors
        outside operations such as a worker that could not start); ``class`` (String:
        ``timeout``, ``throttled``, ...); ``count`` (UInt64); ``samples``
        (List(String), a few messages with secrets redacted).
        """
        return _frame(self._data.errors())

    def workers(self) -> pl.DataFrame:
        """One row per test and worker.

        Columns: ``test``, ``phase`` (String); ``worker`` (UInt32); ``status``
        (String), ``error`` (String, null unless failed); ``attempts`` (UInt32,
        invocations including retries); ``ops`` (UInt64); ``start`` (Datetime ns
        UTC); ``window`` (Duration ns, measured time); ``runtime`` (String,
        ``local``/``lambda``); ``cold_start`` (Boolean); ``init`` (Duration ns, Lambda
        init time, null locally); ``memory_mb`` (UInt32, null locally); Lambda's
        ``REPORT`` of the invocation: ``duration``, ``billed_duration``,
        ``init_duration`` (Duration ns, the last on cold starts only) and
        ``max_memory_used_mb`` (UInt32), null without one; ``first_op`` (Duration ns,
        the first operation's latency, with its new connections); ``peak_rss_kb``
        (UInt64, the worker process's peak resident memory); ``region``,
        ``function``, ``function_version`` (String, null locally); ``lgb_version``
        (String); ``cpus`` (UInt64); ``threads`` (UInt64, the worker's async
        runtime threads).
        """
        return _frame(self._data.workers())

    def cost(self, prices: Optional[Prices] = None) -> pl.DataFrame:
        """Estimated AWS cost: one row per test and billed item (what ``lgb report``
        prints; see docs/results.md, "Cost estimates").

        Columns: ``test``, ``phase`` (String); ``operations`` (UInt64, operations the
        test attempted); ``service`` (String: ``lambda``, ``dynamodb``,
        ``timestream``); ``item`` (String: ``compute``, ``requests``, ``read units``,
        ``write units``, ``writes``, ``scanned``, ...); ``quantity`` (Float64) in
        ``unit`` (String: ``GB-s``, ``requests``, ``RRU``, ``WRU``, ``RCU-h``,
        ``WCU-h``, ``KiB writes``, ``GB``); ``unit_price_usd``, ``cost_usd`` (Float64, US
        dollars; ``cost_usd = quantity * unit_price_usd``); ``per_million_ops_usd``
        (Float64, this item's cost per million of the test's operations, null without
        operations: a test's rows add up to its cost per million operations);
        ``prices_region`` (String) and ``prices_as_of`` (Date, null when the price
        table's ``as_of`` is not an ISO date) of the prices used.

        Tests with nothing billed (local workers on a database that is not a priced
        AWS service) have no rows; ``cost_notes()`` says what was and was not counted.
        ``prices`` overrides fields of the default us-east-1 table (``Prices``); a bad
        field raises ``ConfigError`` naming it.
        """
        text, is_path = _prices(prices)
        return _frame(self._data.cost(text, is_path))

    def cost_notes(self, prices: Optional[Prices] = None) -> List[str]:
        """What the cost estimate assumes and leaves out (storage, data transfer, free
        tiers), and the prices' region and date."""
        text, is_path = _prices(prices)
        return self._data.cost_notes(text, is_path)

    # ---- display --------------------------------------------------------------------

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path is not None else ""
        return f"<lgb.Run {self.run_id} {self.status}: {self.database}, {len(self._tests)} tests{where}>"

    def _repr_html_(self) -> str:
        head = f"<p><b>{self.name}</b> {self.run_id} ({self.status}, {self.database})</p>"
        table: str = self.summary()._repr_html_()
        return head + table


def run(
    config: ConfigSource,
    target: Optional[str] = "local",
    workers: Optional[int] = None,
    overrides: Optional[Overrides] = None,
    out: Union[str, "os.PathLike[str]"] = "results",
    progress: Union[bool, Progress, None] = True,
    targets: Union[str, "os.PathLike[str]", None] = None,
    yes: bool = False,
    confirm_above_usd: Optional[float] = None,
) -> Run:
    """Runs a benchmark and writes its results directory ``<out>/<run-id>/``.

    Before anything is paid, the run is checked against the deployed function and its
    account (concurrency, timeout; docs/lambda.md, "Quotas"), and a run whose estimated
    cost is above ``confirm_above_usd`` (default $1) raises ``ConfigError`` unless
    ``yes=True`` (``lgb run --yes``).

    ``targets`` is the file ``tofu output -json`` wrote for infra/ (like ``lgb run
    --targets``): with ``target="lambda"`` or ``"url"`` it picks the deployed worker of
    the config's database type and fills in the deployed settings the config and
    ``overrides`` leave open (table, region, …).

    ``config`` is a path, JSON text or a dict. ``target`` and ``workers`` override
    ``runner.target`` and ``runner.workers`` (``target=None`` keeps the config's);
    ``overrides`` sets any value by path, like ``lgb run --set``. ``progress`` shows a
    bar (HTML in Jupyter, one line in a terminal); pass ``False`` for none or an
    object with ``start/update/finish/close`` to receive the updates.

    The GIL is released while the benchmark runs. Ctrl-C (or interrupting the
    kernel) stops it within a fraction of a second: the results measured so far are
    written (status ``cancelled``) and ``KeyboardInterrupt`` is raised with their
    directory in its ``results`` attribute.

    Raises ``ConfigError`` (with every problem's JSON path) before anything runs
    when the config is wrong, and the matching ``LgbError`` subclass otherwise.
    """
    text, is_path = _source(config)
    sets = _override_list(overrides)
    if target is not None:
        sets.append(f"runner.target={target}")
    if workers is not None:
        sets.append(f"runner.workers={int(workers)}")
    bar = make_progress(progress)
    targets_path = None if targets is None else os.fspath(targets)
    try:
        data, _ = _lgb.run(
            text, is_path, sets, os.fspath(out), bar, targets_path, yes, confirm_above_usd
        )
    except KeyboardInterrupt as stop:
        results = getattr(stop, "results", None)
        if bar is not None:
            bar.close(f"interrupted; partial results: {results}" if results else "interrupted")
        raise
    except BaseException:
        if bar is not None:
            bar.close()
        raise
    if bar is not None:
        done = Run(data)
        bar.close(None if done.status == "completed" else f"run {done.status}; results: {done.path}")
        return done
    return Run(data)


def sweep(
    config: ConfigSource,
    memory: Sequence[int],
    p99_max: Union[str, float, None] = None,
    target: Optional[str] = "lambda",
    targets: Union[str, "os.PathLike[str]", None] = None,
    workers: Optional[int] = None,
    overrides: Optional[Overrides] = None,
    out: Union[str, "os.PathLike[str]"] = "results",
    progress: Union[bool, Progress, None] = True,
    yes: bool = False,
    confirm_above_usd: Optional[float] = None,
) -> Run:
    """Runs the benchmark at each Lambda memory size in ``memory`` (MB), like ``lgb
    sweep``, and writes one results directory whose tests are named
    ``<test>@<size>MB``: each size on a version published for it, side by side as the
    concurrency allows, the versions and aliases deleted afterwards, also after an
    error or Ctrl-C. ``yes`` and ``confirm_above_usd`` guard the estimated cost as in
    ``run``.

    ``p99_max`` (``"20ms"``, or seconds as a number) is the p99 the recommended
    cheapest size must meet. ``Run.sweep()`` holds the per-size table (``Run.sweep_report`` the report, ``Run.sweep_chart()`` the chart) and the
    recommendation (``cheapest``, ``fastest``, ``best_cost_latency``).
    """
    text, is_path = _source(config)
    sets = _override_list(overrides)
    if target is not None:
        sets.append(f"runner.target={target}")
    if workers is not None:
        sets.append(f"runner.workers={int(workers)}")
    p99_ns: Optional[int] = None
    if isinstance(p99_max, (int, float)):
        p99_ns = int(p99_max * 1e9)
    elif p99_max is not None:
        p99_ns = _duration_ns(p99_max)
    bar = make_progress(progress)
    targets_path = None if targets is None else os.fspath(targets)
    try:
        data, _, _report = _lgb.sweep(
            text,
            is_path,
            sets,
            os.fspath(out),
            [int(m) for m in memory],
            p99_ns,
            bar,
            targets_path,
            yes,
            confirm_above_usd,
        )
    except BaseException:
        if bar is not None:
            bar.close()
        raise
    if bar is not None:
        done = Run(data)
        bar.close(None if done.status == "completed" else f"sweep {done.status}; results: {done.path}")
        return done
    return Run(data)


def _duration_ns(text: str) -> int:
    """``"20ms"`` and friends in nanoseconds (the units lgb's configs accept)."""
    units = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
    t = text.strip()
    for unit in sorted(units, key=len, reverse=True):
        if t.endswith(unit):
            try:
                return int(float(t[: -len(unit)]) * units[unit])
            except ValueError:
                break
    raise ConfigError(f"p99_max: `{text}` is not a duration; write for example \"20ms\"", [("p99_max", "not a duration")])


def load(path: Union[str, "os.PathLike[str]"]) -> Run:
    """Loads a results directory (or its ``result.json``) written by ``lgb run`` or
    ``lgb.run``. Results newer than this package are refused with a ``ConfigError``
    that says to upgrade."""
    return Run(_lgb.load(os.fspath(path)))


def validate(config: ConfigSource, overrides: Optional[Overrides] = None) -> Dict[str, Any]:
    """Checks a config without running it and returns it as it would run (defaults
    filled in). Raises ``ConfigError`` listing every problem with its JSON path."""
    text, is_path = _source(config)
    result: Dict[str, Any] = json.loads(_lgb.validate(text, is_path, _override_list(overrides)))
    return result


def compare(runs: Iterable[Union[Run, str, "os.PathLike[str]"]]) -> pl.DataFrame:
    """The summaries of several runs in one table, for comparing databases or
    settings: ``Run.summary()``'s columns after ``run_id``, ``name`` and
    ``database`` (String). Runs may be given as ``Run`` objects or results
    directories."""
    frames = []
    for r in runs:
        run_ = r if isinstance(r, Run) else load(r)
        summary = run_.summary()
        labelled = summary.with_columns(
            pl.lit(run_.run_id, dtype=pl.String).alias("run_id"),
            pl.lit(run_.name, dtype=pl.String).alias("name"),
            pl.lit(run_.database, dtype=pl.String).alias("database"),
        )
        frames.append(labelled.select(["run_id", "name", "database", *summary.columns]))
    if not frames:
        raise ValueError("compare needs at least one run")
    return pl.concat(frames, how="vertical")


def list_databases() -> Dict[str, str]:
    """Database adapters compiled into this package: name to description."""
    return dict(_lgb.list_databases())


def list_operations() -> Dict[str, str]:
    """Operations a test can run: name to description."""
    return dict(_lgb.list_operations())


def schema() -> Dict[str, Any]:
    """The JSON Schema of benchmark configs (for editors and validators)."""
    result: Dict[str, Any] = json.loads(_lgb.schema())
    return result
