"""The other two gates of scripts/infra-check are not blind either: the real
`tofu fmt -check` and checkov (with infra/.checkov.yaml and its skips) each
fail on a copy of infra/ with one problem injected, and pass on a clean copy."""

from __future__ import annotations

import os
import subprocess

from conftest import INFRA, copy_with_change, tool


def _env(tmp_path):
    env = dict(os.environ)
    # No user CLI configuration, no registry: fmt needs neither.
    rc = tmp_path / "tofurc"
    rc.write_text("", encoding="utf-8")
    env.update(TF_CLI_CONFIG_FILE=str(rc), TF_IN_AUTOMATION="1", CKV_SKIP_PACKAGE_UPDATE_CHECK="true", BC_SKIP_MAPPING="TRUE")
    return env


def _run(args, tmp_path):
    return subprocess.run(args, capture_output=True, text=True, env=_env(tmp_path), stdin=subprocess.DEVNULL, timeout=300)


def test_tofu_fmt_rejects_misaligned_arguments(tmp_path):
    tofu = tool("LGB_TOFU", "bin/tofu")
    clean = copy_with_change(tmp_path / "clean", "versions.tf", "required_version", "required_version")
    ok = _run([str(tofu), "fmt", "-check", "-recursive", str(clean)], tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = copy_with_change(tmp_path / "bad", "workers.tf", '  runtime       = "provided.al2023"', '  runtime = "provided.al2023"')
    out = _run([str(tofu), "fmt", "-check", "-recursive", str(bad)], tmp_path)
    assert out.returncode != 0
    assert "workers.tf" in out.stdout


def test_tofu_fmt_rejects_invalid_syntax(tmp_path):
    tofu = tool("LGB_TOFU", "bin/tofu")
    bad = copy_with_change(tmp_path / "bad", "storage.tf", 'resource "aws_s3_bucket" "artifacts" {\n', 'resource "aws_s3_bucket" "artifacts" {{\n')
    out = _run([str(tofu), "fmt", "-check", "-recursive", str(bad)], tmp_path)
    assert out.returncode != 0
    assert "storage.tf" in out.stderr


def test_checkov_fails_a_public_function_url(tmp_path):
    checkov = tool("LGB_CHECKOV", "infra/checkov-venv/bin/checkov")
    bad = copy_with_change(tmp_path / "bad", "workers.tf", 'authorization_type = "AWS_IAM"', 'authorization_type = "NONE"')
    out = _run([str(checkov), "--config-file", str(INFRA / ".checkov.yaml"), "-d", str(bad)], tmp_path)
    assert out.returncode != 0, out.stdout
    assert "CKV_AWS_258" in out.stdout  # "Lambda function URLs AuthType is not None"
    assert "Failed checks: 1," in out.stdout
