"""Fixtures of the Python package tests.

Run them in the venv of scripts/python-env, which builds and installs `lgb`:

    "$(scripts/python-env)" -m pytest tests/python

Services (for the compare notebook) come from `scripts/services` like in
tests/services: an LGB_*_ENDPOINT variable that is set is used as it is; otherwise the
service is started for the session (and stopped at its end). A service that cannot
start FAILS the tests that need it; nothing is skipped.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "scripts" / "services"

ENDPOINT_VARS = {
    "dynamodb": "LGB_DYNAMODB_ENDPOINT",
    "timestream": "LGB_TIMESTREAM_ENDPOINT",
    "immudb": "LGB_IMMUDB_ENDPOINT",
}


def small_config(**test: object) -> Dict[str, object]:
    """A quick memory benchmark: 1,000 records, one read/update test."""
    t: Dict[str, object] = {
        "name": "mix",
        "operation": {"type": "mix", "weights": {"read": 0.8, "update": 0.2}},
        "operations": 5000,
        "concurrency": 2,
    }
    t.update(test)
    return {
        "name": "small",
        "database": {"type": "memory"},
        "workload": {"records": 1000},
        "runner": {"workers": 2},
        "tests": [t],
    }


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    """A results folder of its own for each test."""
    return tmp_path / "results"


@pytest.fixture(scope="session")
def python() -> str:
    """The interpreter that has lgb installed (for subprocess tests)."""
    return sys.executable


def _services(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SERVICES), *args], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def _env_of(text: str) -> Dict[str, str]:
    values = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            key, value = words[1].split("=", 1)
            values[key] = value
    return values


def _service(name: str) -> Iterator[Dict[str, str]]:
    var = ENDPOINT_VARS[name]
    if os.environ.get(var):
        yield {k: v for k, v in os.environ.items() if k.startswith(("LGB_", "AWS_"))}
        return
    started_here = False
    env = _services("env", name)
    if env.returncode != 0:
        start = _services("start", name)
        if start.returncode != 0:
            pytest.fail(
                f"scripts/services start {name} failed (exit {start.returncode}):\n{start.stdout}{start.stderr}",
                pytrace=False,
            )
        started_here = True
        env = _services("env", name)
        if env.returncode != 0:
            pytest.fail(f"scripts/services env {name} failed:\n{env.stdout}{env.stderr}", pytrace=False)
    values = _env_of(env.stdout)
    if var not in values:
        pytest.fail(f"scripts/services env {name} printed no {var}:\n{env.stdout}", pytrace=False)
    yield values
    if started_here:
        _services("stop", name)


@pytest.fixture(scope="session")
def services_env() -> Iterator[Dict[str, str]]:
    """Endpoints (and AWS test credentials) of DynamoDB (moto), immudb and Timestream
    (moto), started if needed."""
    gens = [_service(n) for n in ("dynamodb", "immudb", "timestream")]
    merged: Dict[str, str] = {}
    for g in gens:
        merged.update(next(g))
    yield merged
    for g in gens:
        for _ in g:
            pass
