"""The checker is not blind: each test copies infra/, injects one wildcard or
wider grant, and asserts that least_privilege.check reports it under the
expected rule (and that the unchanged copy is clean)."""

from __future__ import annotations

import pytest

import least_privilege as lp
from conftest import copy_with_change

# (id, file, old text, new text, rule that must fire)
CHANGES = [
    (
        "wildcard-dynamodb-action",
        "iam.tf",
        '      "dynamodb:GetItem",\n',
        '      "dynamodb:*",\n',
        "wildcard-action",
    ),
    (
        "star-action",
        "iam.tf",
        'actions   = ["timestream:WriteRecords"]',
        'actions   = ["*"]',
        "star-action",
    ),
    (
        "star-resource-on-putitem",
        "iam.tf",
        "    resources = [aws_dynamodb_table.bench[0].arn]\n",
        '    resources = ["*"]\n',
        "resource-star",
    ),
    (
        "another-table",
        "iam.tf",
        "    resources = [aws_dynamodb_table.bench[0].arn]\n",
        '    resources = [aws_dynamodb_table.bench[0].arn, "arn:aws:dynamodb:us-east-1:123456789012:table/payroll"]\n',
        "own-resource",
    ),
    (
        "other-tables-indexes",
        "iam.tf",
        '      "${aws_dynamodb_table.bench[0].arn}/index/*",\n',
        '      "arn:aws:dynamodb:us-east-1:123456789012:table/*/index/*",\n',
        "resource-wildcard",
    ),
    (
        "whole-bucket-for-runner",
        "iam.tf",
        '    actions   = ["s3:GetObject", "s3:PutObject"]\n    resources = ["${aws_s3_bucket.artifacts.arn}/${var.results_prefix}*"]',
        '    actions   = ["s3:GetObject", "s3:PutObject"]\n    resources = ["${aws_s3_bucket.artifacts.arn}/*"]',
        "resource-wildcard",
    ),
    (
        "workers-write-s3",
        "iam.tf",
        '    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]\n    resources = ["${aws_cloudwatch_log_group.worker[each.key].arn}:*"]',
        '    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "s3:PutObject"]\n    resources = ["${aws_cloudwatch_log_group.worker[each.key].arn}:*"]',
        "service-ownership",
    ),
    (
        "star-resource-without-comment",
        "iam.tf",
        "    # Resource \"*\" is required: the SDKs call DescribeEndpoints (endpoint\n"
        "    # discovery) before any write or query, and the action supports no\n"
        "    # resource-level permissions.\n",
        "",
        "resource-star",
    ),
    (
        "secret-read-by-dynamodb-worker",
        "iam.tf",
        '    resources = [aws_dynamodb_table.bench[0].arn]\n  }\n',
        '    resources = [aws_dynamodb_table.bench[0].arn]\n  }\n\n'
        '  statement {\n    actions   = ["secretsmanager:GetSecretValue"]\n'
        '    resources = [aws_secretsmanager_secret.immudb[0].arn]\n  }\n',
        "service-ownership",
    ),
    (
        "not-actions",
        "iam.tf",
        '    sid       = "ReadOwnImmudbSecret"\n',
        '    sid       = "ReadOwnImmudbSecret"\n    not_actions = ["iam:CreateUser"]\n',
        "not-element",
    ),
    (
        "anyone-assumes-worker-role",
        "iam.tf",
        'identifiers = ["lambda.amazonaws.com"]',
        'identifiers = ["*"]',
        "principal",
    ),
    (
        "swapped-worker-documents",
        "iam.tf",
        "    dynamodb   = one(data.aws_iam_policy_document.dynamodb_worker[*].json)\n",
        "    dynamodb   = one(data.aws_iam_policy_document.timestream_worker[*].json)\n",
        "policy-mapping",
    ),
    (
        "inline-jsonencode-policy",
        "workers.tf",
        "  policy = local.worker_policy_json[each.key]\n",
        '  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "*" }] })\n',
        "inline-policy",
    ),
    (
        "star-inside-jsonencode",
        "workers.tf",
        "  policy = local.worker_policy_json[each.key]\n",
        '  policy = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "*" }] })\n',
        "star-literal",
    ),
    (
        "managed-policy-attached",
        "workers.tf",
        'resource "aws_lambda_function" "worker" {\n',
        'resource "aws_iam_role_policy_attachment" "basic" {\n'
        "  for_each   = local.workers\n"
        "  role       = aws_iam_role.worker[each.key].name\n"
        '  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"\n'
        "}\n\n"
        'resource "aws_lambda_function" "worker" {\n',
        "managed-policy",
    ),
    (
        "public-function-url",
        "workers.tf",
        'authorization_type = "AWS_IAM"',
        'authorization_type = "NONE"',
        "function-url-auth",
    ),
    (
        "lambda-permission-for-everyone",
        "workers.tf",
        'resource "aws_lambda_function_url" "worker" {\n',
        'resource "aws_lambda_permission" "public" {\n'
        "  for_each      = aws_lambda_function.worker\n"
        '  action        = "lambda:InvokeFunctionUrl"\n'
        "  function_name = each.value.function_name\n"
        '  principal     = "*"\n'
        "}\n\n"
        'resource "aws_lambda_function_url" "worker" {\n',
        "lambda-permission",
    ),
    (
        "log-group-without-retention",
        "workers.tf",
        "  retention_in_days = var.log_retention_days\n",
        "",
        "log-retention",
    ),
    (
        "log-retention-never-expire",
        "variables.tf",
        "contains([1, 3, 5,",
        "contains([0, 1, 3, 5,",
        "log-retention",
    ),
    (
        "public-bucket",
        "storage.tf",
        "  restrict_public_buckets = true\n",
        "  restrict_public_buckets = false\n",
        "bucket-public-access",
    ),
    (
        "tls-deny-inverted",
        "iam.tf",
        '      values   = ["false"]\n',
        '      values   = ["true"]\n',
        "bucket-tls-only",
    ),
    (
        "worker-dynamodb-create-table-on-star",
        "iam.tf",
        '      "dynamodb:Scan",\n    ]\n    resources = [aws_dynamodb_table.bench[0].arn]\n  }\n',
        '      "dynamodb:Scan",\n    ]\n    resources = [aws_dynamodb_table.bench[0].arn]\n  }\n\n'
        '  statement {\n    actions = ["dynamodb:CreateTable"]\n    # required\n    resources = ["*"]\n  }\n',
        "resource-star",
    ),
    (
        "wildcard-hidden-in-expression",
        "iam.tf",
        "    resources = [aws_dynamodb_table.bench[0].arn]\n",
        '    resources = [replace(aws_dynamodb_table.bench[0].arn, "/table\\\\/.*/", "table/*")]\n',
        "opaque-statement",
    ),
]


def test_unchanged_copy_is_clean(tmp_path):
    copy = copy_with_change(tmp_path / "infra", "versions.tf", 'required_version = ">= 1.11.0"', 'required_version = ">= 1.11.0"')
    assert lp.check(lp.load_module(copy)) == []


@pytest.mark.parametrize("fname,old,new,rule", [c[1:] for c in CHANGES], ids=[c[0] for c in CHANGES])
def test_checker_reports_injected_change(tmp_path, fname, old, new, rule):
    copy = copy_with_change(tmp_path / "infra", fname, old, new)
    violations = lp.check(lp.load_module(copy))
    assert rule in {v.rule for v in violations}, "\n".join(map(str, violations)) or "no violations"
