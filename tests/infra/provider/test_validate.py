"""`tofu validate` of infra/ against the hashicorp/aws provider's own schema, and
proof that it rejects what the HCL-parsing tests cannot see: a misspelt argument,
an output naming an attribute the resource does not have, a value the provider
refuses. (validate checks a reference only up to a dynamic index: a missing
attribute after `aws_lambda_function.worker[db]` passes it, and test_plan shows
that plan rejects it.)"""

from __future__ import annotations

import pytest

from conftest import copy_infra


def validate(make_tofu, workdir):
    tofu = make_tofu(workdir)
    tofu.init()
    return tofu.run("validate", "-no-color", check=False)


def test_infra_validates(tmp_path, make_tofu):
    out = validate(make_tofu, copy_infra(tmp_path / "infra"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "The configuration is valid" in out.stdout, out.stdout


@pytest.mark.parametrize(
    "fname,old,new,expected",
    [
        (
            "workers.tf",
            "  memory_size   = each.value.memory_mb\n",
            "  memory_sizes  = each.value.memory_mb\n",
            ['Unsupported argument', 'An argument named "memory_sizes" is not expected here'],
        ),
        (
            "outputs.tf",
            'value       = "s3://${aws_s3_bucket.artifacts.id}/${var.results_prefix}"',
            'value       = "s3://${aws_s3_bucket.artifacts.bucket_name}/${var.results_prefix}"',
            ["Unsupported attribute", "exported attribute named", '"bucket_name"'],
        ),
        (
            "workers.tf",
            '  invoke_mode        = "BUFFERED"\n',
            '  invoke_mode        = "BUFFER"\n',
            ["invoke_mode", "BUFFER"],
        ),
    ],
    ids=["misspelt-lambda-argument", "output-missing-attribute", "value-the-provider-refuses"],
)
def test_validate_rejects_a_broken_copy(tmp_path, make_tofu, fname, old, new, expected):
    out = validate(make_tofu, copy_infra(tmp_path / "infra", fname, old, new))
    text = out.stdout + out.stderr
    assert out.returncode != 0, f"validate passed a broken copy ({fname}: {new.strip()}):\n{text}"
    for phrase in expected:
        assert phrase in text, f"{phrase!r} not in:\n{text}"
    assert fname in text, text
