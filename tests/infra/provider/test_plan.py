"""`tofu plan` of every variable combination infra/README.md lists under "Checked
combinations", with the real provider against moto server (the data sources read
from it), and what each plan would create checked against the variables: one
function, URL and log group per database, the database resources of exactly the
chosen databases, the immudb server only without an external one, the KMS key on
everything that takes one, the architecture on the functions and the immudb task,
the dashboard and the bucket's TLS-only policy, and no password in the plan."""

from __future__ import annotations

import json

import pytest

from conftest import copy_infra, override_tf, readme_combinations

COMBINATIONS = readme_combinations()


@pytest.fixture(scope="module")
def planner(tmp_path_factory, make_tofu, moto):
    workdir = copy_infra(tmp_path_factory.mktemp("plan") / "infra")
    (workdir / "zz_local_stand_in_override.tf").write_text(override_tf(moto))
    tofu = make_tofu(workdir)
    tofu.init()
    return tofu


def planned(tofu, name: str, variables: dict) -> dict[str, dict]:
    """address -> planned values of every resource `tofu plan` would create."""
    varfile = tofu.workdir / f"{name}.tfvars.json"
    varfile.write_text(json.dumps(variables))
    tofu.run("plan", "-input=false", "-no-color", "-lock=false", f"-var-file={varfile.name}", f"-out={name}.plan")
    shown = json.loads(tofu.run("show", "-json", "-no-color", f"{name}.plan").stdout)
    changes = shown["resource_changes"]
    assert all(c["change"]["actions"] == ["create"] for c in changes if c["mode"] == "managed"), [
        (c["address"], c["change"]["actions"]) for c in changes if c["change"]["actions"] != ["create"]
    ]
    return {c["address"]: c["change"]["after"] for c in changes if c["mode"] == "managed"}


def of_type(resources: dict[str, dict], rtype: str) -> dict[str, dict]:
    return {a: v for a, v in resources.items() if a.split("[")[0].split(".")[0] == rtype}


def test_readme_lists_the_combinations_the_issue_names():
    names = set(COMBINATIONS)
    dbs = [set(v.get("databases", ["dynamodb"])) for v in COMBINATIONS.values()]
    for db in ("dynamodb", "timestream", "immudb"):
        assert {db} in dbs, f"no combination with {db} alone"
    assert {"dynamodb", "timestream", "immudb"} in dbs
    assert any(v.get("kms_key_arn") for v in COMBINATIONS.values()), names
    assert any(v.get("architecture") == "arm64" for v in COMBINATIONS.values()), names
    assert any("immudb" in v.get("databases", []) and v.get("immudb_external_address") for v in COMBINATIONS.values())


@pytest.mark.parametrize("name", sorted(COMBINATIONS))
def test_plan(planner, package_zip, name):
    variables = dict(COMBINATIONS[name])
    variables.setdefault("package_path", str(package_zip))
    res = planned(planner, name, variables)

    prefix = variables.get("name_prefix", "lgb")
    dbs = set(variables.get("databases", ["dynamodb"]))
    arch = variables.get("architecture", "x86_64")
    kms = variables.get("kms_key_arn")
    server = "immudb" in dbs and not variables.get("immudb_external_address")

    functions = of_type(res, "aws_lambda_function")
    assert {f["function_name"] for f in functions.values()} == {f"{prefix}-{db}" for db in dbs}
    for f in functions.values():
        assert f["architectures"] == [arch]
        assert f["runtime"] == "provided.al2023" and f["handler"] == "bootstrap"
        assert f.get("kms_key_arn") == kms
        assert f["logging_config"][0]["log_format"] == "Text"
        # Known at plan time unless it names a resource yet to be made (the secret).
        env = f["environment"][0].get("variables")
        if env is not None:
            deployment = json.loads(env["LGB_DEPLOYMENT"])
            assert f["function_name"] == f"{prefix}-{deployment['type']}"
    urls = of_type(res, "aws_lambda_function_url")
    assert len(urls) == len(dbs) and all(u["authorization_type"] == "AWS_IAM" for u in urls.values())

    logs = of_type(res, "aws_cloudwatch_log_group")
    names = {g["name"] for g in logs.values()}
    assert {f"/aws/lambda/{prefix}-{db}" for db in dbs} <= names
    assert (f"/ecs/{prefix}-immudb" in names) == server
    assert all(g["retention_in_days"] == variables.get("log_retention_days", 14) for g in logs.values())
    assert all(g.get("kms_key_id") == kms for g in logs.values())

    tables = of_type(res, "aws_dynamodb_table")
    assert len(tables) == ("dynamodb" in dbs)
    for t in tables.values():
        assert t["hash_key"] == "pk"
        assert t["billing_mode"] == variables.get("dynamodb_billing_mode", "PAY_PER_REQUEST")
        sort_key = variables.get("dynamodb_sort_key")
        assert t["range_key"] == (sort_key["name"] if sort_key else None)
        assert {(a["name"], a["type"]) for a in t["attribute"]} == {("pk", "S")} | (
            {(sort_key["name"], sort_key["type"])} if sort_key else set()
        )
        assert t["server_side_encryption"][0]["enabled"] == bool(kms)
        assert t["server_side_encryption"][0].get("kms_key_arn") == kms
    assert len(of_type(res, "aws_timestreamwrite_database")) == ("timestream" in dbs)
    assert len(of_type(res, "aws_timestreamwrite_table")) == ("timestream" in dbs)
    for d in of_type(res, "aws_timestreamwrite_database").values():
        assert d.get("kms_key_id") == kms

    secrets = of_type(res, "aws_secretsmanager_secret")
    assert len(secrets) == len(dbs & {"immudb", "influxdb"})
    assert all(s.get("kms_key_id") == kms for s in secrets.values())
    versions = {a: v for a, v in of_type(res, "aws_secretsmanager_secret_version").items() if ".immudb" in a}
    assert len(versions) == server
    for v in versions.values():
        # Write-only: the generated password is in neither the plan nor the state.
        assert v.get("secret_string") in (None, "") and v.get("secret_string_wo") is None, v
    assert len(of_type(res, "aws_ecs_service")) == server
    instance = "influxdb" in dbs and bool(variables.get("influxdb_create_instance"))
    assert len(of_type(res, "aws_vpc")) == server + instance
    assert len(of_type(res, "aws_timestreaminfluxdb_db_instance")) == instance
    for task in of_type(res, "aws_ecs_task_definition").values():
        assert task["runtime_platform"][0]["cpu_architecture"] == {"x86_64": "X86_64", "arm64": "ARM64"}[arch]

    (sse,) = of_type(res, "aws_s3_bucket_server_side_encryption_configuration").values()
    rule = sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert (rule["sse_algorithm"], rule.get("kms_master_key_id")) == (("aws:kms", kms) if kms else ("AES256", None))
    (block,) = of_type(res, "aws_s3_bucket_public_access_block").values()
    assert all(block[k] for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    (policy,) = of_type(res, "aws_s3_bucket_policy").values()
    if "policy" in policy:  # known at plan time only when the bucket's ARN is
        (deny,) = json.loads(policy["policy"])["Statement"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    (dashboard,) = of_type(res, "aws_cloudwatch_dashboard").values()
    body = json.dumps(json.loads(dashboard["dashboard_body"]))
    for db in dbs:
        assert f'"{prefix}-{db}"' in body, f"the dashboard does not show {prefix}-{db}"
    if "dynamodb" in dbs:
        assert f'"{prefix}-bench"' in body and "ConsumedWriteCapacityUnits" in body


def test_local_stand_in_leaves_out_only_what_moto_lacks(planner, package_zip):
    """The switch of the local apply removes the dashboard and the bucket policy,
    nothing else."""
    base = {"databases": ["dynamodb", "timestream", "immudb"], "package_path": str(package_zip)}
    real = planned(planner, "real", base)
    local = planned(planner, "stand-in", {**base, "local_stand_in": True})
    assert set(real) - set(local) == {"aws_cloudwatch_dashboard.benchmark[0]", "aws_s3_bucket_policy.artifacts[0]"}
    assert set(local) <= set(real)


def test_plan_rejects_a_missing_attribute_behind_a_dynamic_index(tmp_path, make_tofu, moto, package_zip):
    """`aws_lambda_function.worker[db].function_arn` (no such attribute) in the
    lgb_targets output passes validate, which stops at the dynamic index; plan,
    which knows the instances, rejects it."""
    workdir = copy_infra(
        tmp_path / "infra",
        "outputs.tf",
        "function_arn  = aws_lambda_function.worker[db].arn\n",
        "function_arn  = aws_lambda_function.worker[db].function_arn\n",
    )
    (workdir / "zz_local_stand_in_override.tf").write_text(override_tf(moto))
    tofu = make_tofu(workdir)
    tofu.init()
    assert tofu.run("validate", "-no-color", check=False).returncode == 0
    out = tofu.run("plan", "-input=false", "-no-color", "-lock=false", "-var", f"package_path={package_zip}", check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    assert "Unsupported attribute" in text and "function_arn" in text, text
