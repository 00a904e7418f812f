"""Runs the commands of docs/lambda.md, section "A dry run on your machine", as
written: the bootstrap and `lgb` built by cargo, the control plane started by
scripts/services (in a run directory of its own), `lgb run` over the Invoke API and
over a Function URL, the stats, and the stop."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

DOC = REPO / "docs" / "lambda.md"


def doc_commands() -> str:
    text = DOC.read_text()
    section = text.split("## 6. A dry run on your machine", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the section shows one block of commands"
    return blocks[0]


def _target() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache" / "lgb-target")


@pytest.fixture(scope="module")
def lgb_dir() -> Path:
    """The folder of a debug `lgb` (built by the workspace tests, or now)."""
    lgb = _target() / "debug" / "lgb"
    build = subprocess.run(
        ["cargo", "build", "-p", "lgb-cli"],
        cwd=REPO,
        env={**os.environ, "CARGO_TARGET_DIR": str(_target())},
        capture_output=True,
        text=True,
    )
    if build.returncode != 0 or not lgb.exists():
        pytest.fail(f"cargo build -p lgb-cli failed:\n{build.stderr[-4000:]}", pytrace=False)
    return lgb.parent


def test_dry_run_commands_of_the_docs(lgb_dir, tmp_path):
    commands = doc_commands()
    assert "scripts/services start lambda" in commands and "lgb run" in commands
    env = {
        **os.environ,
        "CARGO_TARGET_DIR": str(_target()),
        "LGB_RUN_DIR": str(tmp_path / "run"),
        "PATH": f"{lgb_dir}:{os.environ['PATH']}",
    }
    for k in ("LGB_LAMBDA_CONFIG", "AWS_ENDPOINT_URL_LAMBDA", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(k, None)
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"})
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", commands],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, f"stdout:\n{out.stdout[-4000:]}\nstderr:\n{out.stderr[-4000:]}"
    stats_line = [line for line in out.stdout.splitlines() if line.startswith('{"functions"')]
    assert stats_line, out.stdout[-2000:]
    worker = json.loads(stats_line[-1])["functions"]["lgb-worker"]
    # Each run: a load phase and two tests, one worker each, all in one sandbox.
    assert worker["invocations"] == 3, worker
    assert worker["url_invocations"] == 3, worker
    assert worker["cold_starts"] == 1, worker
    assert worker["signature_failures"] == 0, worker
    assert "stopped lambda" in out.stderr
