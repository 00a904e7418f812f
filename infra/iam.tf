# Every IAM policy of the deployment is an aws_iam_policy_document here, so
# tests/infra can read them all. Rules (checked by tests/infra):
#   - no wildcard actions in an Allow; no NotAction/NotResource;
#   - a worker reaches only its own database resources and its own log group;
#   - each document grants exactly the actions the code calls: the lists
#     beside each client in lgb-core/src/iam.rs, as tests/infra/iam-actions.json
#     (tests/infra/test_code_actions.py compares them);
#   - Resource "*" only where AWS supports no resource-level permission, and
#     each such statement says so in a comment.

# ------------------------------------------------------------------ trust ---

# No aws:SourceAccount/SourceArn condition: a role can only be passed to
# Lambda (iam:PassRole) from this account, which already rules out a confused
# deputy, and Lambda does not document those keys for execution roles.
data "aws_iam_policy_document" "lambda_assume" {
  statement {
    sid     = "LambdaAssumesWorkerRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    sid     = "EcsTasksAssumeExecutionRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# ------------------------------------------------------ every worker's base ---

data "aws_iam_policy_document" "worker_base" {
  for_each = local.workers

  # The log group exists (Terraform made it), so no logs:CreateLogGroup. The
  # ":*" suffix names the group's log streams, whose names Lambda chooses.
  statement {
    sid       = "WriteOwnLogGroup"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.worker[each.key].arn}:*"]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseDeploymentKeyThroughServices"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]

      # Only when Secrets Manager, DynamoDB or Timestream use the key on the
      # worker's behalf, never directly.
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values = [
          "secretsmanager.${var.region}.amazonaws.com",
          "dynamodb.${var.region}.amazonaws.com",
          "timestream.${var.region}.amazonaws.com",
        ]
      }
    }
  }
}

# ---------------------------------------------------------- dynamodb worker ---

data "aws_iam_policy_document" "dynamodb_worker" {
  count = local.enabled.dynamodb ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.worker_base["dynamodb"].json]

  # The adapter's calls: item reads and writes and batches. No CreateTable or
  # DescribeTable (only with create_table_if_missing), DeleteItem or
  # UpdateTable: Terraform owns the table.
  statement {
    sid    = "ItemsOfOwnTable"
    effect = "Allow"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      # A scan operation on a table without a sort key is a paginated Scan.
      "dynamodb:Scan",
    ]
    resources = [aws_dynamodb_table.bench[0].arn]
  }

  # Query and PartiQL SELECT (ExecuteStatement) may read an index too.
  statement {
    sid    = "QueriesOfOwnTableAndIndexes"
    effect = "Allow"
    actions = [
      "dynamodb:PartiQLSelect",
      "dynamodb:Query",
    ]
    resources = [
      aws_dynamodb_table.bench[0].arn,
      "${aws_dynamodb_table.bench[0].arn}/index/*",
    ]
  }
}

# -------------------------------------------------------- timestream worker ---

data "aws_iam_policy_document" "timestream_worker" {
  count = local.enabled.timestream ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.worker_base["timestream"].json]

  statement {
    sid       = "WriteOwnTable"
    effect    = "Allow"
    actions   = ["timestream:WriteRecords"]
    resources = [aws_timestreamwrite_table.bench[0].arn]
  }

  statement {
    sid       = "QueryOwnTable"
    effect    = "Allow"
    actions   = ["timestream:Select"]
    resources = [aws_timestreamwrite_table.bench[0].arn]
  }

  statement {
    sid     = "DiscoverEndpoints"
    effect  = "Allow"
    actions = ["timestream:DescribeEndpoints"]
    # Resource "*" is required: the SDKs call DescribeEndpoints (endpoint
    # discovery) before any write or query, and the action supports no
    # resource-level permissions.
    resources = ["*"]
  }
}

# ------------------------------------------------------------ immudb worker ---

data "aws_iam_policy_document" "immudb_worker" {
  count = local.enabled.immudb ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.worker_base["immudb"].json]

  statement {
    sid       = "ReadOwnImmudbSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.immudb[0].arn]
  }

  # What Lambda needs to attach the function to the VPC (Lambda uses the
  # execution role to manage its network interfaces).
  dynamic "statement" {
    for_each = local.immudb_server ? [1] : []
    content {
      sid    = "DescribeNetworkInterfaces"
      effect = "Allow"
      # Resource "*" is required: EC2 Describe* actions support no
      # resource-level permissions.
      actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.immudb_server ? [1] : []
    content {
      sid    = "ManageNetworkInterfacesInOwnSubnets"
      effect = "Allow"
      actions = [
        "ec2:AssignPrivateIpAddresses",
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:UnassignPrivateIpAddresses",
      ]
      # Lambda names the interfaces when it creates them, so their ARNs can
      # only be given as network-interface/* (this account and region).
      resources = [
        "arn:${local.partition}:ec2:${var.region}:${local.account_id}:network-interface/*",
        aws_subnet.private[0].arn,
        aws_subnet.private[1].arn,
        aws_security_group.immudb_worker[0].arn,
      ]
    }
  }
}

# ---------------------------------------------------------- influxdb worker ---

data "aws_iam_policy_document" "influxdb_worker" {
  count = local.enabled.influxdb ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.worker_base["influxdb"].json]

  # The token (infra/influxdb.tf); the InfluxDB API itself takes the token, not
  # IAM.
  statement {
    sid       = "ReadOwnInfluxdbSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.influxdb[0].arn]
  }

  # What Lambda needs to attach the function to the instance's VPC.
  dynamic "statement" {
    for_each = local.influxdb_instance ? [1] : []
    content {
      sid    = "DescribeNetworkInterfaces"
      effect = "Allow"
      # Resource "*" is required: EC2 Describe* actions support no
      # resource-level permissions.
      actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.influxdb_instance ? [1] : []
    content {
      sid    = "ManageNetworkInterfacesInOwnSubnets"
      effect = "Allow"
      actions = [
        "ec2:AssignPrivateIpAddresses",
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:UnassignPrivateIpAddresses",
      ]
      # Lambda names the interfaces when it creates them, so their ARNs can
      # only be given as network-interface/* (this account and region).
      resources = [
        "arn:${local.partition}:ec2:${var.region}:${local.account_id}:network-interface/*",
        aws_subnet.influxdb[0].arn,
        aws_subnet.influxdb[1].arn,
        aws_security_group.influxdb_worker[0].arn,
      ]
    }
  }
}

locals {
  # Each worker's role gets exactly its own document.
  worker_policy_json = {
    dynamodb   = one(data.aws_iam_policy_document.dynamodb_worker[*].json)
    timestream = one(data.aws_iam_policy_document.timestream_worker[*].json)
    immudb     = one(data.aws_iam_policy_document.immudb_worker[*].json)
    influxdb   = one(data.aws_iam_policy_document.influxdb_worker[*].json)
  }
}

# ----------------------------------------------------- immudb server (ECS) ---

data "aws_iam_policy_document" "immudb_task_execution" {
  count = local.immudb_server ? 1 : 0

  # ECS pulls a public image, so no ECR permissions.
  statement {
    sid       = "WriteImmudbLogGroup"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.immudb[0].arn}:*"]
  }

  # The admin password is handed to the container from the secret.
  statement {
    sid       = "ReadImmudbSecret"
    effect    = "Allow"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.immudb[0].arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "DecryptSecretWithDeploymentKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${var.region}.amazonaws.com"]
      }
    }
  }
}

# ----------------------------------------------------------------- bucket ---

data "aws_iam_policy_document" "artifacts_bucket" {
  # Deny, not allow: "*" principal and s3:* here widen nothing; they make the
  # TLS rule hold for every caller and every request.
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.artifacts.arn,
      "${aws_s3_bucket.artifacts.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# ----------------------------------------------------------------- runner ---

# For the person or CI role that runs `lgb run --target lambda|url` and
# `lgb upload`: attach this document (output runner_policy_json) to it.
data "aws_iam_policy_document" "runner" {
  # `--target lambda` calls Invoke (lambda:InvokeFunction). `--target url` sends a
  # SigV4-signed POST to the Function URL, which Lambda authorizes for both actions:
  # Function URLs created since October 2025 need lambda:InvokeFunctionUrl and
  # lambda:InvokeFunction for an AWS_IAM caller.
  statement {
    sid    = "InvokeWorkers"
    effect = "Allow"
    actions = [
      "lambda:InvokeFunction",
      "lambda:InvokeFunctionUrl",
    ]
    resources = [for f in aws_lambda_function.worker : f.arn]
  }

  # A permission holds for the ARN it names only: `lgb sweep` invokes the versions
  # and aliases it publishes (and runner.options.qualifier names one) through their
  # qualified ARNs, `<function arn>:<version or alias>`.
  statement {
    sid       = "InvokeWorkerVersions"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunction"]
    resources = [for f in aws_lambda_function.worker : "${f.arn}:*"]
  }

  # `runner.cold_start: "force"` and `lgb sweep` set an environment nonce or the
  # memory size, wait until the update is Successful, and restore it afterwards.
  statement {
    sid    = "ReconfigureWorkers"
    effect = "Allow"
    actions = [
      "lambda:GetFunctionConfiguration",
      "lambda:UpdateFunctionConfiguration",
    ]
    resources = [for f in aws_lambda_function.worker : f.arn]
  }

  # Before anything is paid, `lgb validate --targets`, `lgb run` and `lgb sweep` read
  # the account's concurrency.
  statement {
    # Resource "*" is required: GetAccountSettings has no resource types.
    sid       = "ReadAccountConcurrency"
    effect    = "Allow"
    actions   = ["lambda:GetAccountSettings"]
    resources = ["*"]
  }

  # The preflight reads each worker's reserved concurrency; `lgb sweep` publishes a
  # version per memory size with an alias pointing at it, measures through the
  # aliases (never changing $LATEST while measuring) and deletes both afterwards.
  statement {
    sid    = "SweepVersionsAndAliases"
    effect = "Allow"
    actions = [
      "lambda:CreateAlias",
      "lambda:DeleteAlias",
      "lambda:GetAlias",
      "lambda:GetFunctionConcurrency",
      "lambda:PublishVersion",
      "lambda:UpdateAlias",
    ]
    resources = [for f in aws_lambda_function.worker : f.arn]
  }

  # Deleting a sweep's version is DeleteFunction with a qualifier: granted on the
  # workers' qualified ARNs (versions and aliases) only, never on a function itself.
  statement {
    sid       = "DeleteSweepVersions"
    effect    = "Allow"
    actions   = ["lambda:DeleteFunction"]
    resources = [for f in aws_lambda_function.worker : "${f.arn}:*"]
  }

  # With a customer managed key on the workers' environment, reading it (forced cold
  # starts keep the rest of the environment) and writing it back need the key, through
  # Lambda only.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "WorkerEnvironmentKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:Encrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["lambda.${var.region}.amazonaws.com"]
      }
    }
  }

  # `lgb upload` writes a results directory under the prefix, and a resumed upload
  # reads what is there (HeadObject needs s3:GetObject) and the manifest back.
  statement {
    sid       = "UploadResults"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/${var.results_prefix}*"]
  }

  # An SSE-KMS upload has S3 ask KMS for a data key on the caller's behalf.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "EncryptResultsWithDeploymentKey"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${var.region}.amazonaws.com"]
      }
    }
  }
}
