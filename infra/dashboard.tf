# One CloudWatch dashboard for a benchmark run: the workers (Lambda), the
# DynamoDB table, the Timestream table and the immudb server. lgb's own numbers
# (client-side latency histograms) are in its results; these are the services'.

locals {
  dashboard_name = "${var.name_prefix}-benchmark"

  lambda_functions = [for k, w in local.workers : w.function_name]

  # [namespace, metric, dimension, value, options] rows, one per function.
  lambda_rows = {
    for m in [
      ["Duration", "p50"], ["Duration", "p99"], ["Errors", "Sum"], ["Throttles", "Sum"],
      ["ConcurrentExecutions", "Maximum"], ["Invocations", "Sum"],
      ] : "${m[0]}-${m[1]}" => [
      for f in local.lambda_functions : ["AWS/Lambda", m[0], "FunctionName", f, { stat = m[1], label = "${f} ${m[1]}" }]
    ]
  }

  lambda_widgets = [
    {
      type = "metric", width = 12, height = 6
      properties = {
        title   = "Worker duration (p50, p99)"
        region  = var.region
        view    = "timeSeries"
        period  = 60
        metrics = concat(local.lambda_rows["Duration-p50"], local.lambda_rows["Duration-p99"])
        yAxis   = { left = { label = "ms", showUnits = false } }
      }
    },
    {
      type = "metric", width = 12, height = 6
      properties = {
        title   = "Worker errors and throttles"
        region  = var.region
        view    = "timeSeries"
        period  = 60
        metrics = concat(local.lambda_rows["Errors-Sum"], local.lambda_rows["Throttles-Sum"])
      }
    },
    {
      type = "metric", width = 12, height = 6
      properties = {
        title   = "Worker concurrency (max) and invocations"
        region  = var.region
        view    = "timeSeries"
        period  = 60
        metrics = concat(local.lambda_rows["ConcurrentExecutions-Maximum"], local.lambda_rows["Invocations-Sum"])
      }
    },
  ]

  # A for-filter, not a conditional: the widgets differ in shape, and both
  # arms of a conditional must have one type.
  dynamodb_widgets = [for w in [
    {
      type = "metric", width = 12, height = 6
      properties = {
        title  = "DynamoDB consumed capacity units (per second)"
        region = var.region
        view   = "timeSeries"
        period = 60
        metrics = [
          [{ expression = "rcu/PERIOD(rcu)", label = "read units/s", id = "rrate" }],
          [{ expression = "wcu/PERIOD(wcu)", label = "write units/s", id = "wrate" }],
          ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", local.dynamodb_table_name, { stat = "Sum", id = "rcu", visible = false }],
          ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", local.dynamodb_table_name, { stat = "Sum", id = "wcu", visible = false }],
        ]
      }
    },
    {
      type = "metric", width = 12, height = 6
      properties = {
        title  = "DynamoDB throttled events and server-side latency"
        region = var.region
        view   = "timeSeries"
        period = 60
        metrics = [
          ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", local.dynamodb_table_name, { stat = "Sum" }],
          ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", local.dynamodb_table_name, { stat = "Sum" }],
          ["AWS/DynamoDB", "SuccessfulRequestLatency", "TableName", local.dynamodb_table_name, "Operation", "GetItem", { stat = "p99", yAxis = "right" }],
          ["AWS/DynamoDB", "SuccessfulRequestLatency", "TableName", local.dynamodb_table_name, "Operation", "PutItem", { stat = "p99", yAxis = "right" }],
        ]
      }
    },
  ] : w if local.enabled.dynamodb]

  timestream_widgets = [for w in [
    {
      type = "metric", width = 12, height = 6
      properties = {
        title  = "Timestream server-side latency (p99)"
        region = var.region
        view   = "timeSeries"
        period = 60
        metrics = [
          ["AWS/Timestream", "SuccessfulRequestLatency", "Operation", "WriteRecords", "DatabaseName", local.timestream_database, "TableName", local.timestream_table, { stat = "p99" }],
          ["AWS/Timestream", "SuccessfulRequestLatency", "Operation", "Query", { stat = "p99" }],
        ]
      }
    },
    {
      type = "metric", width = 12, height = 6
      properties = {
        title  = "Timestream errors and rejected records"
        region = var.region
        view   = "timeSeries"
        period = 60
        metrics = [
          ["AWS/Timestream", "UserErrors", "Operation", "WriteRecords", "DatabaseName", local.timestream_database, "TableName", local.timestream_table, { stat = "Sum" }],
          ["AWS/Timestream", "SystemErrors", "Operation", "WriteRecords", "DatabaseName", local.timestream_database, "TableName", local.timestream_table, { stat = "Sum" }],
          ["AWS/Timestream", "MagneticStoreRejectedRecordCount", "DatabaseName", local.timestream_database, "TableName", local.timestream_table, { stat = "Sum" }],
        ]
      }
    },
  ] : w if local.enabled.timestream]

  immudb_widgets = [for w in [
    {
      type = "metric", width = 12, height = 6
      properties = {
        title  = "immudb server (ECS) CPU and memory"
        region = var.region
        view   = "timeSeries"
        period = 60
        metrics = [
          ["AWS/ECS", "CPUUtilization", "ClusterName", "${var.name_prefix}-immudb", "ServiceName", "${var.name_prefix}-immudb", { stat = "Maximum" }],
          ["AWS/ECS", "MemoryUtilization", "ClusterName", "${var.name_prefix}-immudb", "ServiceName", "${var.name_prefix}-immudb", { stat = "Maximum" }],
        ]
        yAxis = { left = { min = 0, max = 100, label = "%", showUnits = false } }
      }
    },
  ] : w if local.immudb_server]
}

resource "aws_cloudwatch_dashboard" "benchmark" {
  # moto has no PutDashboard in the protocol the provider speaks (RPCv2 CBOR).
  count = var.local_stand_in ? 0 : 1

  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({
    widgets = concat(local.lambda_widgets, local.dynamodb_widgets, local.timestream_widgets, local.immudb_widgets)
  })
}
