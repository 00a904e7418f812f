"""Fixtures for the infra/ tests: the parsed module and helpers that copy infra/
with one change (to prove a check notices it).

Run everything with scripts/infra-check; these tests alone with
    "${LGB_CACHE_DIR:-$HOME/.cache/lgb}/infra/tests-venv/bin/python" -m pytest tests/infra
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
INFRA = REPO / "infra"
CACHE = Path(os.environ.get("LGB_CACHE_DIR", Path.home() / ".cache" / "lgb"))

sys.path.insert(0, str(HERE))

import least_privilege  # noqa: E402


@pytest.fixture(scope="session")
def module() -> least_privilege.Module:
    return least_privilege.load_module(INFRA)


def copy_with_change(dest: Path, fname: str, old: str, new: str) -> Path:
    """Copies infra/ (top-level files) to dest with `old` replaced by `new` once
    in `fname`; fails if `old` is not there exactly once, so a change that no
    longer applies cannot pass silently."""
    dest.mkdir(parents=True, exist_ok=True)
    for p in INFRA.iterdir():
        if p.is_file():
            shutil.copy2(p, dest / p.name)
    target = dest / fname
    source = target.read_text(encoding="utf-8")
    count = source.count(old)
    assert count == 1, f"{old!r} occurs {count} times in infra/{fname}, expected once"
    target.write_text(source.replace(old, new), encoding="utf-8")
    return dest


def tool(env_var: str, relative: str) -> Path:
    """A program installed by scripts/infra-check: from env_var, else the cache."""
    path = Path(os.environ.get(env_var) or CACHE / relative)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run scripts/infra-check (it installs it), or set {env_var}")
    return path
