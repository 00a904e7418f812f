"""The types: the package's Python code is its own declaration (typed, `py.typed`), and
the one stub file, lgb/_lgb.pyi for the native module, is checked by mypy's stubtest
against the installed package, mypy --strict checks the package's own code and a sample user
script, and a script with type errors must be refused (so the stubs are really used)."""

from __future__ import annotations

import atexit
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from conftest import REPO

HERE = Path(__file__).resolve().parent
PACKAGE = REPO / "lgb-py" / "python" / "lgb"


# One mypy cache for the session: polars' own stubs are then analysed once.
CACHE = Path(tempfile.mkdtemp(prefix="lgb-mypy-"))
atexit.register(shutil.rmtree, CACHE, True)


def mypy(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(CACHE), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_stubs_match_the_package() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "lgb", "--mypy-config-file", str(HERE / "mypy.ini")],
        capture_output=True,
        text=True,
        cwd=HERE,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_package_code_is_strictly_typed() -> None:
    done = mypy("--strict", "--config-file", str(HERE / "mypy.ini"), str(PACKAGE))
    assert done.returncode == 0, done.stdout + done.stderr


def test_sample_script_type_checks() -> None:
    done = mypy("--strict", "--config-file", str(HERE / "mypy.ini"), str(HERE / "typing_sample.py"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_wrong_use_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        textwrap.dedent(
            """
            import lgb
            run = lgb.load("results/x")
            n: int = run.summary()
            lgb.run(42)
            run.latencies(test=1)
            lgb.no_such_function()
            """
        )
    )
    done = mypy("--strict", "--config-file", str(HERE / "mypy.ini"), str(bad))
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert 'Incompatible types in assignment (expression has type "DataFrame", variable has type "int")' in out
    assert 'Argument 1 to "run" has incompatible type "int"' in out
    assert 'Argument "test" to "latencies" of "Run" has incompatible type "int"' in out
    assert 'Module has no attribute "no_such_function"' in out
