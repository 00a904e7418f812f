"""A script as a user writes it, checked by mypy --strict against lgb's stubs
(tests/python/test_typing.py). It is type-checked, not run."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import polars as pl

import lgb


class Quiet:
    """A progress receiver: any object with these four methods."""

    def start(self, label: str) -> None: ...
    def update(self, fraction: Optional[float], message: str) -> None: ...
    def finish(self, line: str) -> None: ...
    def close(self, message: Optional[str] = None) -> None: ...


def main() -> None:
    run: lgb.Run = lgb.run(
        "examples/quickstart.json",
        target="local",
        workers=2,
        overrides={"tests[0].duration": "2s"},
        out=Path("results"),
        progress=Quiet(),
    )
    again: lgb.Run = lgb.load(run.path or "results/x")
    summary: pl.DataFrame = run.summary()
    frames: List[pl.DataFrame] = [
        run.timeline(),
        run.latencies("read-update", "read"),
        run.percentiles(ticks=10),
        run.errors(),
        run.workers(),
        run.cost(),
        run.cost({"region": "eu-west-1", "lambda_gb_second": 0.0000133334}),
        run.cost(Path("prices.json")),
        lgb.compare([run, again, "results/y"]),
    ]
    status: str = run.status
    started: datetime.datetime = run.created_at
    config: Dict[str, object] = run.config
    names: List[str] = run.tests() + run.operations("read-update") + run.cost_notes()
    databases: Dict[str, str] = lgb.list_databases()
    checked = lgb.validate({"database": {"type": "memory"}, "tests": []}, overrides=["name=x"])
    try:
        lgb.run(checked, progress=False)
    except lgb.ConfigError as err:
        problems: List[Tuple[str, str]] = err.problems
        print(problems, err.paths, err.error_class)
    except lgb.TimeoutError as err:
        print(err.error_class)
    except lgb.LgbError:
        raise
    print(summary, frames, status, started, config, names, databases, lgb.schema(), lgb.__version__)


if __name__ == "__main__":
    main()
