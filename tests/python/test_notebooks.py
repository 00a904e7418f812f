"""Both notebooks, executed top to bottom by nbclient in a real Jupyter kernel: the
quickstart on the memory database, the comparison against the local DynamoDB (moto),
immudb and Timestream (moto) servers, and the comparison again without servers, where it
must fall back to the committed sample results. Outputs are checked, not just the
absence of errors; and the committed notebooks must have no outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Iterator, List

import nbformat
import pytest
from nbclient import NotebookClient

import lgb
from conftest import REPO

NOTEBOOKS = REPO / "notebooks"


def execute(name: str, env: Dict[str, str], results: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    saved = dict(os.environ)
    os.environ.update(env)
    os.environ["LGB_RESULTS"] = str(results)
    try:
        client = NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb


def texts(nb: nbformat.NotebookNode) -> Iterator[str]:
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                yield output["text"]
            for mime in ("text/plain", "text/html"):
                if mime in output.get("data", {}):
                    yield output["data"][mime]


def images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.parametrize("name", ["quickstart.ipynb", "compare-databases.ipynb", "sweep-memory.ipynb"])
def test_committed_notebooks_have_no_outputs(name: str) -> None:
    nb = json.loads((NOTEBOOKS / name).read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["source"]


def test_quickstart_notebook(tmp_path: Path) -> None:
    nb = execute("quickstart.ipynb", {}, tmp_path)
    out = "\n".join(texts(nb))
    # A run was written where LGB_RESULTS points, and it is what the notebook showed.
    (run_dir,) = list(tmp_path.iterdir())
    run = lgb.load(run_dir)
    assert run.status == "completed" and run.run_id in out
    assert "read-update" in out and "batch_write" in out
    assert "duration[ns]" in out  # the schema cell
    assert images(nb) >= 2  # spectrum and timeline
    # The progress bar was an HTML display in the notebook.
    assert 'class="lgb-progress"' in out and "worst p99" in out


def _runs_of(out: str) -> Dict[str, str]:
    verdicts = {}
    for line in out.splitlines():
        for db in ("memory", "dynamodb", "immudb", "timestream"):
            if line.startswith(f"{db}: "):
                verdicts[db] = line
    return verdicts


def test_compare_notebook_against_local_services(tmp_path: Path, services_env: Dict[str, str]) -> None:
    nb = execute("compare-databases.ipynb", services_env, tmp_path)
    out = "\n".join(texts(nb))
    verdicts = _runs_of(out)
    compiled = lgb.list_databases()
    for db in ("memory", "dynamodb", "immudb", "timestream"):
        if db in compiled:
            assert verdicts[db].startswith(f"{db}: ran "), verdicts
        else:
            assert "loaded sample results" in verdicts[db], verdicts
    ran = [lgb.load(d) for d in tmp_path.iterdir()]
    assert sorted(r.database for r in ran) == sorted(db for db in verdicts if "ran" in verdicts[db])
    for r in ran:
        assert r.status == "completed", (r.database, r.errors())
        assert r.summary().filter(r.summary()["phase"] == "run")["ok"].sum() > 0
    assert images(nb) >= 3
    # The cost section: the notes' price date and the per-test table.
    assert "list prices as of 2025-07-21" in out and "per_million_ops_usd" in out


def test_compare_notebook_falls_back_to_samples_without_services(tmp_path: Path) -> None:
    cleared = {k: "" for k in ("LGB_DYNAMODB_ENDPOINT", "LGB_IMMUDB_ENDPOINT", "LGB_TIMESTREAM_ENDPOINT")}
    nb = execute("compare-databases.ipynb", cleared, tmp_path)
    out = "\n".join(texts(nb))
    verdicts = _runs_of(out)
    assert verdicts["memory"].startswith("memory: ran ")
    for db in ("dynamodb", "immudb", "timestream"):
        assert "loaded sample results" in verdicts[db], verdicts
    assert [lgb.load(d).database for d in tmp_path.iterdir()] == ["memory"]
    assert images(nb) >= 3
    assert "per_million_ops_usd" in out


def test_sample_results_are_small_and_loadable() -> None:
    samples: List[Path] = sorted((NOTEBOOKS / "sample-results").iterdir())
    assert [p.name for p in samples] == ["dynamodb", "immudb", "timestream"]
    for p in samples:
        size = sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        assert size < 400_000, (p, size)
        run = lgb.load(p)
        assert run.database == p.name and run.status == "completed"
