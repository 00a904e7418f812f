"""lgb.run(target="lambda", targets=...) and lgb.sweep(...) against the local Lambda
control plane (`scripts/services run-lambda`): real `bootstrap` sandboxes under the
Runtime Interface Emulator, working on moto DynamoDB. The control plane's
`/_lgb/stats` says what the sandboxes saw."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

import lgb
import polars as pl
from conftest import REPO, SERVICES

FUNCTION = "lgb-dynamodb"


def _bootstrap() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "lgb-target"))
    path = target / "debug" / "bootstrap"
    if not path.exists():
        subprocess.run(
            ["cargo", "build", "-p", "lgb-lambda", "--bin", "bootstrap"],
            cwd=REPO,
            check=True,
            env={**os.environ, "CARGO_TARGET_DIR": str(target)},
        )
    return path


def _get(url: str) -> Dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return dict(json.loads(r.read()))


@pytest.fixture()
def control_plane(tmp_path: Path) -> Iterator[str]:
    functions = tmp_path / "functions.json"
    functions.write_text(
        json.dumps(
            {
                "update_delay_ms": 100,
                "functions": {
                    FUNCTION: {
                        "bootstrap": str(_bootstrap()),
                        "memory_size": 256,
                        "timeout": 120,
                        "environment": {"RUST_LOG": "info"},
                    }
                },
            }
        )
    )
    port = subprocess.run([str(SERVICES), "free-port"], capture_output=True, text=True, check=True).stdout.strip()
    log = open(tmp_path / "control-plane.log", "w")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
    proc = subprocess.Popen(
        [str(SERVICES), "run-lambda", port, str(functions)], stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            _get(f"{endpoint}/_lgb/health")
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the control plane did not start:\n{(tmp_path / 'control-plane.log').read_text()}")
            time.sleep(0.05)
    try:
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture()
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def _outputs(tmp_path: Path, endpoint: str) -> Path:
    """What `tofu output -json` prints for a deployment of the dynamodb worker (the
    fields lgb reads; lgb-core/tests/targets_follow_outputs_tf.rs keeps them in step
    with infra/outputs.tf)."""
    table = f"lgb-py-lambda-{uuid.uuid4().hex[:12]}"
    value = {
        "schema_version": 1,
        "region": "us-east-1",
        "name_prefix": "lgb",
        "workers": {
            "dynamodb": {
                "function_name": FUNCTION,
                "function_url": f"{endpoint}/lambda-url/{FUNCTION}/",
                "url_auth": "AWS_IAM",
                "database": {
                    "type": "dynamodb",
                    "table": table,
                    "region": "us-east-1",
                    "partition_key": {"name": "pk", "type": "S"},
                    "sort_key": None,
                },
            }
        },
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"lgb_targets": {"sensitive": False, "type": "object", "value": value}}))
    return path


def _config(endpoint: str, moto: str) -> Dict[str, Any]:
    return {
        "name": "py-lambda",
        "database": {"type": "dynamodb", "endpoint": moto, "create_table_if_missing": True},
        "workload": {"records": 100, "load_batch": 25, "load_concurrency": 1},
        "runner": {"workers": 4, "max_in_flight": 2, "cold_start": "force", "options": {"endpoint": endpoint}},
        "tests": [{"name": "reads", "operation": {"type": "read"}, "operations": 80}],
    }


def test_run_on_lambda_from_outputs(
    tmp_path: Path, out: Path, control_plane: str, services_env: Dict[str, str], aws: None
) -> None:
    outputs = _outputs(tmp_path, control_plane)
    run = lgb.run(
        _config(control_plane, services_env["LGB_DYNAMODB_ENDPOINT"]),
        target="lambda",
        targets=outputs,
        out=out,
        progress=False,
    )
    assert run.status == "completed"
    assert run.target == "lambda"
    stats = _get(f"{control_plane}/_lgb/stats")["functions"][FUNCTION]
    assert stats["invocations"] == 8, stats
    assert stats["max_in_flight"] == 2, stats
    assert stats["cold_starts"] == 8, stats
    reads = run.summary().filter(test="reads")
    assert reads["ok"].to_list() == [80]


def test_sweep_from_outputs(
    tmp_path: Path, out: Path, control_plane: str, services_env: Dict[str, str], aws: None
) -> None:
    outputs = _outputs(tmp_path, control_plane)
    config = _config(control_plane, services_env["LGB_DYNAMODB_ENDPOINT"])
    config["runner"]["cold_start"] = "allow"
    run = lgb.sweep(config, memory=[128, 512], p99_max="10s", targets=outputs, out=out, progress=False)
    report = run.sweep_report
    assert report is not None
    assert [p["memory_mb"] for p in report["points"]] == [128, 512]
    assert [p["seen_memory_mb"] for p in report["points"]] == [[128], [512]]
    assert report["original_memory_mb"] == 256
    assert report["cheapest"] in (128, 512)
    assert report["through_aliases"] is True
    assert set(run.tests()) == {"load", "reads@128MB", "reads@512MB"}
    again = lgb.load(run.path)
    assert again.sweep_report == report
    # The per-size frame: one row per size, the recommendation marked, cold workers
    # first in each size's new version.
    frame = run.sweep()
    assert frame is not None
    assert frame["memory_mb"].to_list() == [128, 512]
    assert frame.filter(pl.col("recommended"))["memory_mb"].to_list() == [report["recommended"]]
    assert (frame["cold_workers"] > 0).all()
    assert (frame["workers"] >= frame["cold_workers"]).all() and (frame["workers"] > 0).all()
    assert frame.schema["p99"] == pl.Duration("ns")
    assert (frame["cost_per_million_ops"] > 0).all()
    # Its chart, as matplotlib draws it.
    fig = run.sweep_chart()
    assert [ax.get_title() for ax in fig.axes] == ["Cost per million operations by memory size", "Latency by memory size"]
    # Workers carry Lambda's REPORT, the first operation and the peak memory.
    workers = run.workers()
    measured = workers.filter(pl.col("phase") == "run")
    for col in ["duration", "billed_duration", "max_memory_used_mb", "first_op", "peak_rss_kb"]:
        assert measured[col].null_count() == 0, col
    # Up to 1,769 MB, Lambda's CPU share is at most one vCPU: one runtime thread.
    assert measured["threads"].to_list() == [1] * measured.height
    assert measured.filter(pl.col("cold_start"))["init_duration"].null_count() == 0
    assert lgb.load(run.path).sweep_chart() is not None


def test_sweep_notebook(tmp_path: Path, control_plane: str, services_env: Dict[str, str], aws: None) -> None:
    """notebooks/sweep-memory.ipynb, executed top to bottom against the local control
    plane: it sweeps three sizes, compares cold and warm workers and picks a size."""
    from test_notebooks import execute, images, texts

    results = tmp_path / "results"
    nb = execute(
        "sweep-memory.ipynb",
        {
            "LGB_LAMBDA_ENDPOINT": control_plane,
            "LGB_DYNAMODB_ENDPOINT": services_env["LGB_DYNAMODB_ENDPOINT"],
            "LGB_FUNCTION": FUNCTION,
            "LGB_TABLE": f"lgb-nb-{uuid.uuid4().hex[:12]}",
        },
        results,
    )
    out = "\n".join(texts(nb))
    (run_dir,) = list(results.iterdir())
    run = lgb.load(run_dir)
    report = run.sweep_report
    assert report is not None and [p["memory_mb"] for p in report["points"]] == [128, 512, 1024]
    assert f"recommended: {report['recommended']} MB" in out
    workers = run.workers().filter(pl.col("phase") == "run")
    # The first test of each size started cold, the second reused the sandboxes.
    assert workers["cold_start"].any() and (~workers["cold_start"]).any()
    assert "cold workers: " in out and "warm workers: " in out
    assert images(nb) >= 1  # the sweep chart
    stats = _get(f"{control_plane}/_lgb/stats")["functions"][FUNCTION]
    assert stats["versions"] == [] and stats["aliases"] == {}, stats
