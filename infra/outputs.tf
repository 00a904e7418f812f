# `terraform output -json > outputs.json` (or `tofu output -json`) is what
# `lgb run CONFIG --target lambda|url --targets outputs.json` reads: the
# `lgb_targets` output, whose shape is documented in README.md ("Outputs").
# Keep it backwards compatible; bump schema_version when a field changes meaning.

locals {
  # The benchmark config's `database` section for each worker: adapter options
  # under the names lgb's config uses, which the runner puts into the config
  # (they describe the deployment, so they replace the config's values).
  database_settings = {
    dynamodb = {
      type   = "dynamodb"
      table  = one(aws_dynamodb_table.bench[*].name)
      region = var.region
      partition_key = {
        name = var.dynamodb_partition_key.name
        type = var.dynamodb_partition_key.type
      }
      sort_key = var.dynamodb_sort_key
    }
    timestream = {
      type     = "timestream"
      database = one(aws_timestreamwrite_database.bench[*].database_name)
      table    = one(aws_timestreamwrite_table.bench[*].table_name)
      region   = var.region
    }
    immudb = {
      type               = "immudb"
      address            = local.immudb_server ? "${local.immudb_dns_name}:${local.immudb_port}" : var.immudb_external_address
      database           = var.immudb_database
      password_secret_id = one(aws_secretsmanager_secret.immudb[*].arn)
    }
    # The v2 API of the Timestream for InfluxDB instance (or of the external
    # endpoint); InfluxQL reads name the bucket as database.
    influxdb = {
      type            = "influxdb"
      endpoint        = local.influxdb_endpoint
      api             = "v2"
      org             = var.influxdb_org
      bucket          = var.influxdb_bucket
      token_secret_id = one(aws_secretsmanager_secret.influxdb[*].arn)
    }
  }

  # null only in a local_stand_in apply, which has no dashboard.
  dashboard_url = one([for name in aws_cloudwatch_dashboard.benchmark[*].dashboard_name : "https://${var.region}.console.aws.amazon.com/cloudwatch/home?region=${var.region}#dashboards:name=${name}"])
}

output "lgb_targets" {
  description = "Everything lgb needs to run against this deployment (schema in README.md)."
  value = {
    schema_version = 1
    region         = var.region
    name_prefix    = var.name_prefix
    results = {
      bucket = aws_s3_bucket.artifacts.id
      prefix = var.results_prefix
      uri    = "s3://${aws_s3_bucket.artifacts.id}/${var.results_prefix}"
    }
    dashboard = {
      name = one(aws_cloudwatch_dashboard.benchmark[*].dashboard_name)
      url  = local.dashboard_url
    }
    workers = {
      for db, w in local.workers : db => {
        function_name = aws_lambda_function.worker[db].function_name
        function_arn  = aws_lambda_function.worker[db].arn
        function_url  = aws_lambda_function_url.worker[db].function_url
        url_auth      = aws_lambda_function_url.worker[db].authorization_type
        memory_mb     = aws_lambda_function.worker[db].memory_size
        timeout_s     = aws_lambda_function.worker[db].timeout
        architecture  = var.architecture
        log_group     = aws_cloudwatch_log_group.worker[db].name
        database      = local.database_settings[db]
      }
    }
  }
}

output "function_names" {
  description = "Worker function name by database."
  value       = { for db, f in aws_lambda_function.worker : db => f.function_name }
}

output "function_urls" {
  description = "Worker Function URL (AWS_IAM auth: requests must be SigV4-signed) by database."
  value       = { for db, u in aws_lambda_function_url.worker : db => u.function_url }
}

output "results_uri" {
  description = "Where workers may write results."
  value       = "s3://${aws_s3_bucket.artifacts.id}/${var.results_prefix}"
}

output "dashboard_url" {
  description = "The CloudWatch dashboard of the benchmark."
  value       = local.dashboard_url
}

output "runner_policy_json" {
  description = "IAM policy to attach to whoever runs `lgb run --target lambda|url` against this deployment."
  value       = data.aws_iam_policy_document.runner.json
}
