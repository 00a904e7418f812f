"""Exceptions: each lgb-core error class arrives as its own LgbError subclass with the
Rust message, and a bad config lists every problem with its JSON path."""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import pytest

import lgb
from conftest import small_config


def test_config_error_lists_every_problem_with_its_path(out: Path) -> None:
    cfg = small_config(concurrency=0)
    cfg["workload"] = {"records": "many"}
    cfg["tests"].append({"name": "mix", "operation": {"type": "teleport"}})  # type: ignore[attr-defined]
    with pytest.raises(lgb.ConfigError) as info:
        lgb.run(cfg, out=out, progress=False)
    err = info.value
    paths = err.paths
    assert "tests[0].concurrency" in paths
    assert "workload.records" in paths
    assert any(p.startswith("tests[1]") for p in paths), paths
    assert len(err.problems) >= 3
    for path, message in err.problems:
        assert message and f"{path}: {message}" in str(err)
    assert str(err).startswith("invalid configuration: ")
    assert err.error_class == "config"
    assert isinstance(err, lgb.LgbError) and isinstance(err, ValueError)
    # Nothing ran, nothing was written.
    assert not out.exists()


def test_validate_raises_the_same_problems_as_run() -> None:
    cfg = small_config(concurrency=0)
    with pytest.raises(lgb.ConfigError) as info:
        lgb.validate(cfg)
    assert info.value.problems == [("tests[0].concurrency", info.value.problems[0][1])]
    with pytest.raises(lgb.ConfigError) as info:
        lgb.validate(small_config(), overrides={"tests[0].timeout": "soon"})
    assert info.value.paths == ["tests[0].timeout"]


def test_invalid_json_text_is_a_config_error_with_its_position() -> None:
    with pytest.raises(lgb.ConfigError, match="line 1, column"):
        lgb.validate('{"database": ')


def test_a_database_that_is_not_compiled_in_names_its_feature() -> None:
    compiled = lgb.list_databases()
    missing = [n for n in ("dynamodb", "immudb", "timestream") if n not in compiled]
    cfg = small_config()
    if not missing:
        cfg["database"] = {"type": "cassandra"}
        with pytest.raises(lgb.ConfigError) as info:
            lgb.validate(cfg)
        assert info.value.paths == ["database.type"]
        assert "memory" in str(info.value)
        return
    cfg["database"] = {"type": missing[0]}
    with pytest.raises(lgb.ConfigError, match=f"enable feature `{missing[0]}`") as info:
        lgb.validate(cfg)
    assert info.value.paths == ["database.type"]


def test_missing_files_are_io_errors(tmp_path: Path) -> None:
    with pytest.raises(lgb.IoError) as info:
        lgb.run(tmp_path / "nope.json", progress=False)
    assert isinstance(info.value, OSError)
    assert "nope.json" in str(info.value)
    assert info.value.error_class == "io"
    with pytest.raises(lgb.IoError, match="result.json"):
        lgb.load(tmp_path)


def test_results_from_a_newer_lgb_are_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text(json.dumps({"schema_version": 999}))
    with pytest.raises(lgb.ConfigError, match="Upgrade lgb") as info:
        lgb.load(tmp_path)
    assert info.value.paths[0].endswith("schema_version")


def test_a_run_that_cannot_reach_its_target_raises_before_running(out: Path) -> None:
    cfg = small_config()
    with pytest.raises(lgb.ConfigError) as info:
        lgb.run(cfg, target="lambda", out=out, progress=False)
    assert any(p.startswith("runner") for p in info.value.paths), info.value.problems


@pytest.mark.parametrize(
    ("error_class", "exception", "builtin"),
    [
        ("connect", lgb.ConnectError, ConnectionError),
        ("timeout", lgb.TimeoutError, builtins.TimeoutError),
        ("throttled", lgb.ThrottledError, None),
        ("not_found", lgb.NotFoundError, LookupError),
        ("rejected", lgb.RejectedError, None),
        ("unsupported", lgb.UnsupportedError, None),
        ("tampered", lgb.TamperedError, None),
        ("io", lgb.IoError, OSError),
        ("cancelled", lgb.CancelledError, None),
        ("backend", lgb.BackendError, None),
        ("lambda_throttled", lgb.LambdaThrottledError, None),
    ],
)
def test_each_error_class_has_its_exception(error_class: str, exception: type, builtin: type | None) -> None:
    from lgb._errors import _from_rust

    err = _from_rust(error_class, f"{error_class}: boom", [])
    assert type(err) is exception
    assert isinstance(err, lgb.LgbError)
    assert err.error_class == error_class
    assert str(err) == f"{error_class}: boom"
    if builtin is not None:
        assert isinstance(err, builtin)


def test_an_unknown_error_class_is_still_an_lgb_error() -> None:
    from lgb._errors import _from_rust

    err = _from_rust("brand_new", "new: boom", [])
    assert type(err) is lgb.LgbError and err.error_class == "brand_new"


def test_one_exception_class_per_lgb_core_error_class() -> None:
    from lgb import _errors, _lgb

    native = _lgb.error_classes()
    assert "internal" in native
    assert sorted(_errors._BY_CLASS) == sorted(native)
    for name, cls in _errors._BY_CLASS.items():
        assert cls.error_class == name
        assert cls.__name__ in lgb.__all__, cls.__name__
    assert issubclass(lgb.InternalError, lgb.LgbError)
    assert not issubclass(lgb.InternalError, lgb.BackendError)
    assert isinstance(_errors._from_rust("internal", "boom", []), lgb.InternalError)


def test_a_finished_run_is_not_incomplete(out: Path) -> None:
    run = lgb.run(small_config(), out=out, progress=False)
    assert run.incomplete is None
    on_disk = json.loads((run.path / "result.json").read_text())
    assert on_disk.get("incomplete") is None
