"""Fixtures for the local services of scripts/services.

Each fixture (session scope) uses the service's LGB_*_ENDPOINT variable when it
is set. Otherwise it asks `scripts/services env NAME`; if the service is not
running it runs `scripts/services start NAME` first (and stops it again at the
end of the session). A service that cannot start FAILS the tests that need it,
with the script's output (which ends with the service log's last lines); it is
never skipped.

Run: scripts/services install && scripts/services start &&
     "${LGB_CACHE_DIR:-$HOME/.cache/lgb}/venv/bin/python" -m pytest tests/services
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "scripts" / "services"

ENDPOINT_VARS = {
    "dynamodb": "LGB_DYNAMODB_ENDPOINT",
    "timestream": "LGB_TIMESTREAM_ENDPOINT",
    "immudb": "LGB_IMMUDB_ENDPOINT",
    "lambda-rie": "LGB_LAMBDA_RIE_ENDPOINT",
}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SERVICES), *args], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def _parse_env(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            key, value = words[1].split("=", 1)
            values[key] = value
    return values


def _service(name: str):
    var = ENDPOINT_VARS[name]
    if os.environ.get(var):
        # Given from outside: use the environment as it is.
        yield dict(os.environ)
        return
    started_here = False
    env = _run("env", name)
    if env.returncode != 0:
        start = _run("start", name)
        if start.returncode != 0:
            pytest.fail(
                f"scripts/services start {name} failed (exit {start.returncode}):\n"
                f"{start.stdout}{start.stderr}",
                pytrace=False,
            )
        started_here = True
        env = _run("env", name)
        if env.returncode != 0:
            pytest.fail(f"scripts/services env {name} failed:\n{env.stdout}{env.stderr}", pytrace=False)
    values = _parse_env(env.stdout)
    if var not in values:
        pytest.fail(f"scripts/services env {name} printed no {var}:\n{env.stdout}", pytrace=False)
    yield {**os.environ, **values}
    if started_here:
        _run("stop", name)


@pytest.fixture(scope="session")
def dynamodb_env():
    yield from _service("dynamodb")


@pytest.fixture(scope="session")
def timestream_env():
    yield from _service("timestream")


@pytest.fixture(scope="session")
def immudb_env():
    yield from _service("immudb")


@pytest.fixture(scope="session")
def lambda_rie_env():
    yield from _service("lambda-rie")


@pytest.fixture(scope="session")
def immudb_probe() -> str:
    """Path of lgb-immudb-probe, the Go client built by `scripts/services install immudb`."""
    path = _run("path", "lgb-immudb-probe").stdout.strip()
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"lgb-immudb-probe is not installed at {path!r}: run scripts/services install immudb",
                    pytrace=False)
    return path
