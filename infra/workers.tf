# One worker function per database: the lgb-lambda `bootstrap` on provided.al2023,
# with its own log group, its own role and a Function URL that needs SigV4 (AWS_IAM).

resource "aws_cloudwatch_log_group" "worker" {
  for_each = local.workers

  # Lambda's default group name, so the console's links find it.
  name              = "/aws/lambda/${each.value.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_iam_role" "worker" {
  for_each = local.workers

  name               = "${var.name_prefix}-${each.key}-worker"
  description        = "lgb ${each.key} worker: only its own ${each.key} resources, log group and results prefix"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role_policy" "worker" {
  for_each = local.workers

  name   = "${var.name_prefix}-${each.key}-worker"
  role   = aws_iam_role.worker[each.key].id
  policy = local.worker_policy_json[each.key]
}

resource "aws_lambda_function" "worker" {
  for_each = local.workers

  function_name = each.value.function_name
  description   = "lgb benchmark worker for ${each.key}"
  role          = aws_iam_role.worker[each.key].arn
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = [var.architecture]
  memory_size   = each.value.memory_mb
  timeout       = var.timeout_seconds

  # Its own zip: only this database's adapter (scripts/package-lambda).
  s3_bucket         = aws_s3_object.package[each.key].bucket
  s3_key            = aws_s3_object.package[each.key].key
  s3_object_version = aws_s3_object.package[each.key].version_id
  source_code_hash  = filebase64sha256(local.package_paths[each.key])

  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  # Plain text logs: the runner parses the platform's REPORT line from the log
  # tail of each Invoke, which the JSON log format would replace.
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.worker[each.key].name
  }

  # LGB_DEPLOYMENT pins the worker to what was deployed for it (the same
  # `database` section the lgb_targets output shows): a request for another
  # database type, address, endpoint, table or secret is refused before the
  # worker connects anywhere (docs/security.md).
  environment {
    variables = {
      RUST_LOG       = var.log_level
      LGB_DEPLOYMENT = jsonencode(local.database_settings[each.key])
    }
  }

  # Only the immudb worker talking to the immudb server made here sits in the
  # VPC; DynamoDB and Timestream are reached over their public endpoints.
  dynamic "vpc_config" {
    for_each = each.key == "immudb" && local.immudb_server ? [1] : []
    content {
      subnet_ids         = aws_subnet.private[*].id
      security_group_ids = [aws_security_group.immudb_worker[0].id]
    }
  }

  # The influxdb worker joins the VPC of the Timestream for InfluxDB instance
  # made here (infra/influxdb.tf).
  dynamic "vpc_config" {
    for_each = each.key == "influxdb" && local.influxdb_instance ? [1] : []
    content {
      subnet_ids         = aws_subnet.influxdb[*].id
      security_group_ids = [aws_security_group.influxdb_worker[0].id]
    }
  }

  # The role's policy must exist before the first invocation (and, for the
  # VPC function, before Lambda creates its network interfaces).
  depends_on = [aws_iam_role_policy.worker, aws_cloudwatch_log_group.worker]
}

resource "aws_lambda_function_url" "worker" {
  for_each = aws_lambda_function.worker

  function_name = each.value.function_name
  # Callers sign with SigV4 and need lambda:InvokeFunctionUrl and
  # lambda:InvokeFunction (URLs created since October 2025 check both; see the
  # runner_policy_json output); never NONE.
  authorization_type = "AWS_IAM"
  invoke_mode        = "BUFFERED"
}
