"""infra/ follows the least-privilege rules (see least_privilege.py), and the
rules' exceptions are exactly the ones listed there."""

from __future__ import annotations

import re

import least_privilege as lp
from conftest import INFRA
from least_privilege import text


def test_infra_breaks_no_rule(module):
    violations = lp.check(module)
    assert violations == [], "\n".join(map(str, violations))


def test_every_file_was_parsed(module):
    on_disk = sorted(p.name for p in INFRA.glob("*.tf"))
    assert sorted(module.files) == on_disk
    # Enough of the module was seen for the rules to mean something.
    assert len(list(lp.statements(module))) >= 15
    assert {n for _, n, _ in module.resources("aws_lambda_function")} == {"worker"}


def test_resource_star_only_where_aws_requires_it(module):
    star = {
        (st.document, tuple(st.actions))
        for st in lp.statements(module)
        if isinstance(st.resources, list) and "*" in st.resources
    }
    assert star == {
        ("timestream_worker", ("timestream:DescribeEndpoints",)),
        ("immudb_worker", ("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets")),
        ("influxdb_worker", ("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets")),
        ("runner", ("lambda:GetAccountSettings",)),
    }
    # Each of them says why, inside the statement.
    for st in lp.statements(module):
        if isinstance(st.resources, list) and "*" in st.resources:
            assert any("required" in c for c in st.comments), st.where


def test_no_allow_has_a_wildcard_action(module):
    for st in lp.statements(module):
        assert isinstance(st.actions, list), st.where
        assert "*" not in st.actions, st.where
        if st.effect == "Allow":
            assert not [a for a in st.actions if "*" in a], st.where


def test_each_worker_has_its_own_document(module):
    docs = {name for _, t, name, _ in module.blocks("data") if t == "aws_iam_policy_document"}
    for db in lp.WORKER_DATABASES:
        assert f"{db}_worker" in docs
    mapping = module.locals()["worker_policy_json"]
    assert text(mapping["dynamodb"]) == "${one(data.aws_iam_policy_document.dynamodb_worker[*].json)}"
    role_policy = next(b for _, n, b in module.resources("aws_iam_role_policy") if n == "worker")
    assert text(role_policy["role"]) == "${aws_iam_role.worker[each.key].id}"
    assert text(role_policy["policy"]) == "${local.worker_policy_json[each.key]}"


def test_dynamodb_grants_name_only_the_own_table(module):
    grants = [st for st in lp.statements(module) if any(a.startswith("dynamodb:") for a in st.actions)]
    assert {st.document for st in grants} == {"dynamodb_worker"}
    resources = {r for st in grants for r in st.resources}
    assert resources == {"${aws_dynamodb_table.bench[0].arn}", "${aws_dynamodb_table.bench[0].arn}/index/*"}
    # ... and there is only one table, so "own" is unambiguous.
    assert [n for _, n, _ in module.resources("aws_dynamodb_table")] == ["bench"]
    actions = {a for st in grants for a in st.actions}
    assert "dynamodb:CreateTable" not in actions and "dynamodb:DeleteTable" not in actions
    assert actions >= {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem", "dynamodb:Query"}


def test_timestream_grants_name_only_the_own_table(module):
    grants = [st for st in lp.statements(module) if any(a.startswith("timestream:") for a in st.actions)]
    assert {st.document for st in grants} == {"timestream_worker"}
    by_action = {a: st.resources for st in grants for a in st.actions}
    assert by_action == {
        "timestream:WriteRecords": ["${aws_timestreamwrite_table.bench[0].arn}"],
        "timestream:Select": ["${aws_timestreamwrite_table.bench[0].arn}"],
        "timestream:DescribeEndpoints": ["*"],
    }


def test_immudb_secret_is_read_only_by_its_worker_and_server(module):
    grants = [st for st in lp.statements(module) if any(a.startswith("secretsmanager:") for a in st.actions)]
    assert {st.document for st in grants} == {"immudb_worker", "immudb_task_execution", "influxdb_worker"}
    for st in grants:
        assert st.actions == ["secretsmanager:GetSecretValue"]
        # Each secret is read only by its own database's roles.
        db = "influxdb" if st.document == "influxdb_worker" else "immudb"
        assert st.resources == [f"${{aws_secretsmanager_secret.{db}[0].arn}}"]


def test_only_the_runner_writes_s3_and_only_under_the_results_prefix(module):
    grants = [st for st in lp.statements(module) if st.effect == "Allow" and any(a.startswith("s3:") for a in st.actions)]
    assert [st.document for st in grants] == ["runner"]
    assert grants[0].actions == ["s3:GetObject", "s3:PutObject"]
    assert grants[0].resources == ["${aws_s3_bucket.artifacts.arn}/${var.results_prefix}*"]
    # The prefix itself cannot widen the grant: one path segment, no wildcard.
    validation = module.variables()["results_prefix"]["validation"][0]
    pattern = re.search(r'regex\("(.+)", var\.results_prefix\)', text(validation["condition"])).group(1)
    pattern = pattern.replace("\\\\", "\\")
    for ok in ("results/", "lgb-results/"):
        assert re.search(pattern, ok), ok
    for bad in ("", "*", "results", "results/*/", "/", "a/b/", "res*/"):
        assert not re.search(pattern, bad), bad


def test_function_urls_require_sigv4(module):
    urls = module.resources("aws_lambda_function_url")
    assert urls
    for _, name, body in urls:
        assert text(body["authorization_type"]) == "AWS_IAM", name
    assert module.resources("aws_lambda_permission") == []


def test_workers_run_the_bootstrap_on_al2023(module):
    _, _, fn = module.resources("aws_lambda_function")[0]
    assert text(fn["runtime"]) == "provided.al2023"
    assert text(fn["handler"]) == "bootstrap"
    assert fn["architectures"] == ["${var.architecture}"]
    arch = module.variables()["architecture"]
    assert text(arch["default"]) == "x86_64"


def test_every_log_group_has_retention(module):
    groups = module.resources("aws_cloudwatch_log_group")
    assert {n for _, n, _ in groups} == {"worker", "immudb"}
    for _, name, body in groups:
        assert text(body["retention_in_days"]) == "${var.log_retention_days}", name
    assert module.variables()["log_retention_days"]["default"] > 0


def test_bucket_is_private_and_tls_only(module):
    (_, _, pab), = module.resources("aws_s3_bucket_public_access_block")
    assert [pab[k] for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")] == [True] * 4
    (_, _, policy), = module.resources("aws_s3_bucket_policy")
    assert text(policy["policy"]) == "${data.aws_iam_policy_document.artifacts_bucket.json}"
    deny = [st for st in lp.statements(module) if st.document == "artifacts_bucket"]
    assert len(deny) == 1 and deny[0].effect == "Deny"
    assert lp._has_tls_deny(next(b for _, t, n, b in module.blocks("data") if n == "artifacts_bucket"), "artifacts")
