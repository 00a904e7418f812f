"""infra/ is consistent with itself and with what it documents: references
resolve (the part of `tofu validate` that needs no provider), every variable
and output is documented in infra/README.md, the outputs use lgb's own config
names, and every checkov skip has a reason."""

from __future__ import annotations

import json
import re

import pytest

from conftest import INFRA, REPO, copy_with_change
from least_privilege import _walk, load_module, text

README = (INFRA / "README.md").read_text(encoding="utf-8")


def _declared(module):
    resources = {(t, n) for _, t, n, _ in module.blocks("resource")}
    data = {(t, n) for _, t, n, _ in module.blocks("data")}
    return resources, data, set(module.variables()), set(module.locals())


def _expressions(module):
    for fname, tree in module.files.items():
        for path, leaf in _walk(tree, fname):
            if isinstance(leaf, str) and "${" in leaf:
                yield path, leaf
        # Block arguments like for_each/count are leaves too; keys never hold references.


def unresolved_references(module) -> list[str]:
    resources, data, variables, locals_ = _declared(module)
    problems = []
    for path, expr in _expressions(module):
        for name in re.findall(r"\bvar\.([a-z_][a-z0-9_]*)", expr):
            if name not in variables:
                problems.append(f"{path}: var.{name} is not declared")
        for name in re.findall(r"\blocal\.([a-z_][a-z0-9_]*)", expr):
            if name not in locals_:
                problems.append(f"{path}: local.{name} is not defined")
        for t, n in re.findall(r"\bdata\.([a-z0-9_]+)\.([a-z0-9_]+)", expr):
            if (t, n) not in data:
                problems.append(f"{path}: data.{t}.{n} is not declared")
        for t, n in re.findall(r"(?<![.\w])((?:aws|random)_[a-z0-9_]+)\.([a-z0-9_]+)", expr):
            if (t, n) not in resources:
                problems.append(f"{path}: {t}.{n} is not declared")
    return problems


def unindexed_counted_resources(module) -> list[str]:
    """A resource with count is a list: `x.y.attr` without [0] or [*] is an error
    that only `tofu validate` would otherwise catch."""
    blocks = list(module.blocks("resource")) + [(f, "data." + t, n, b) for f, t, n, b in module.blocks("data")]
    counted = {(t, n) for _, t, n, b in blocks if "count" in b}
    problems = []
    for path, expr in _expressions(module):
        if ".depends_on[" in path:
            continue  # whole resources, no index
        for t, n, after in re.findall(r"(?<![.\w])((?:data\.)?(?:aws|random)_[a-z0-9_]+)\.([a-z0-9_]+)(\[?)", expr):
            if (t, n) in counted and not after:
                problems.append(f"{path}: {t}.{n} has count, so it needs an index or a splat")
    return problems


def test_references_resolve(module):
    assert unresolved_references(module) == []


def test_counted_resources_are_referenced_with_an_index(module):
    assert len([b for _, _, _, b in module.blocks("resource") if "count" in b]) > 10
    assert unindexed_counted_resources(module) == []


@pytest.mark.parametrize(
    "fname,old,new,check",
    [
        ("iam.tf", '"${aws_s3_bucket.artifacts.arn}/${var.results_prefix}*"]\n  }\n\n  # An SSE-KMS', '"${aws_s3_bucket.artifact.arn}/${var.results_prefix}*"]\n  }\n\n  # An SSE-KMS', unresolved_references),
        ("workers.tf", "timeout       = var.timeout_seconds", "timeout       = var.timeout_secs", unresolved_references),
        ("locals.tf", "local.enabled.immudb && var", "local.enable.immudb && var", unresolved_references),
        ("iam.tf", "    resources = [aws_dynamodb_table.bench[0].arn]\n", "    resources = [aws_dynamodb_table.bench.arn]\n", unindexed_counted_resources),
    ],
    ids=["resource-typo", "variable-typo", "local-typo", "missing-index"],
)
def test_consistency_checks_see_an_injected_mistake(tmp_path, fname, old, new, check):
    copy = copy_with_change(tmp_path / "infra", fname, old, new)
    assert check(load_module(copy)) != []


def test_every_variable_is_typed_described_and_documented(module):
    documented = set(re.findall(r"^\| `([a-z0-9_]+)`(?: / `([a-z0-9_]+)`)?", README, re.M))
    documented = {n for pair in documented for n in pair if n}
    for name, body in module.variables().items():
        assert "type" in body, name
        assert text(body.get("description", "")).strip(), name
        assert name in documented, f"variable {name} is not in infra/README.md's table"
    assert documented <= set(module.variables()), documented - set(module.variables())


def _readme_outputs_json():
    block = re.search(r"## Outputs.*?```json\n(.*?)\n```", README, re.S).group(1)
    return json.loads(block)


def test_readme_outputs_example_is_json_with_every_output(module):
    example = _readme_outputs_json()
    outputs = {text(k) for entry in module.files["outputs.tf"]["output"] for k in entry if not k.startswith("__")}
    assert set(example) == outputs


def test_lgb_targets_shape_matches_readme(module):
    (targets,) = [e['"lgb_targets"'] for e in module.files["outputs.tf"]["output"] if '"lgb_targets"' in e]
    value = {k: v for k, v in targets["value"].items() if not k.startswith("__")}
    doc = _readme_outputs_json()["lgb_targets"]["value"]
    assert set(value) == set(doc)
    assert value["schema_version"] == doc["schema_version"] == 1
    for section in ("results", "dashboard"):
        assert set(k for k in value[section] if not k.startswith("__")) == set(doc[section])
    worker_keys = set(re.findall(r"[{,]\s*([a-z_]+) = ", text(value["workers"])))
    assert worker_keys == set(doc["workers"]["dynamodb"])
    settings = module.locals()["database_settings"]
    for db, body in doc["workers"].items():
        assert set(k for k in settings[db] if not k.startswith("__")) == set(body["database"]), db
        assert body["database"]["type"] == db


# The Rust option struct of each adapter, whose field names the outputs must use.
OPTION_STRUCTS = {
    "dynamodb": ("lgb-core/src/database/dynamodb/options.rs", "DynamoDbOptions"),
    "timestream": ("lgb-core/src/database/timestream.rs", "TimestreamOptions"),
    "immudb": ("lgb-core/src/database/immudb/options.rs", "ImmudbOptions"),
}


@pytest.mark.parametrize("db", sorted(OPTION_STRUCTS))
def test_database_settings_use_lgb_config_names(module, db):
    path, struct = OPTION_STRUCTS[db]
    source = (REPO / path).read_text(encoding="utf-8")
    body = re.search(rf"pub struct {struct} \{{(.*?)\n\}}", source, re.S).group(1)
    fields = set(re.findall(r"^\s*pub ([a-z_]+):", body, re.M))
    assert len(fields) > 3, f"could not read the fields of {struct}"
    settings = module.locals()["database_settings"][db]
    keys = {k for k in settings if not k.startswith("__")} - {"type"}
    assert keys <= fields, f"{sorted(keys - fields)} are not options of {struct}"


def test_checkov_skips_each_have_a_reason():
    config = (INFRA / ".checkov.yaml").read_text(encoding="utf-8")
    section = config.split("skip-check:", 1)[1]
    lines = [line for line in section.splitlines() if line.strip().startswith("- ")]
    assert lines, "no skip-check entries found"
    ids = []
    for line in lines:
        m = re.fullmatch(r"\s*- (CKV2?_AWS_\d+) # (.{20,})", line)
        assert m, f"skip without a one-line reason: {line!r}"
        ids.append(m.group(1))
    assert len(ids) == len(set(ids))
    assert "soft-fail" not in config


def test_no_skips_hidden_in_the_hcl():
    for path in INFRA.glob("*.tf"):
        assert "checkov:skip" not in path.read_text(encoding="utf-8"), path.name


def test_each_worker_is_pinned_to_its_deployment(module):
    """workers.tf gives each function LGB_DEPLOYMENT, the `database` section the
    lgb_targets output shows, so the worker refuses requests for anything else
    (lgb_core::worker::Deployment; docs/security.md)."""
    ((_, _, body),) = module.resources("aws_lambda_function")
    variables = body["environment"][0]["variables"]
    assert variables["LGB_DEPLOYMENT"] == "${jsonencode(local.database_settings[each.key])}"
    outputs = (INFRA / "outputs.tf").read_text(encoding="utf-8")
    assert "database      = local.database_settings[db]" in outputs


@pytest.mark.parametrize("db", sorted(OPTION_STRUCTS))
def test_pinned_destinations_are_options_of_the_adapter(db):
    """The options a pinned worker keeps as deployed (`AdapterOptions::DESTINATIONS`)
    exist; the ones the deployment leaves out are held at their default."""
    path, struct = OPTION_STRUCTS[db]
    source = (REPO / path).read_text(encoding="utf-8")
    body = re.search(rf"pub struct {struct} \{{(.*?)\n\}}", source, re.S).group(1)
    fields = set(re.findall(r"^\s*pub ([a-z_]+):", body, re.M))
    found = re.search(r"const DESTINATIONS: &'static \[&'static str\] = &\[(.*?)\];", source, re.S)
    assert found, f"{struct} lists no DESTINATIONS"
    destinations = set(re.findall(r'"([a-z_]+)"', found.group(1)))
    assert destinations and destinations <= fields, sorted(destinations - fields)
    # Where the adapter connects is always among them.
    assert destinations & {"address", "endpoint"}


def test_the_immudb_worker_reads_only_the_deployed_secret(module):
    """The secret id a pinned immudb worker accepts (its deployment's) is the only
    one its role may read."""
    settings = module.locals()["database_settings"]["immudb"]
    assert "aws_secretsmanager_secret.immudb" in text(settings["password_secret_id"])
    iam = (INFRA / "iam.tf").read_text(encoding="utf-8")
    grants = re.findall(r'actions\s*=\s*\["secretsmanager:GetSecretValue"\]\s*\n\s*resources\s*=\s*\[(.*)\]\s*\n', iam)
    # The worker role and the immudb task's execution role: both that one secret
    # only; the influxdb worker reads its own token's secret (its deployment's).
    assert grants and set(grants) == {
        "aws_secretsmanager_secret.immudb[0].arn",
        "aws_secretsmanager_secret.influxdb[0].arn",
    }, grants
    assert "aws_secretsmanager_secret.influxdb" in text(module.locals()["database_settings"]["influxdb"]["token_secret_id"])
