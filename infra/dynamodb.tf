# The DynamoDB benchmark table. Terraform owns it, so workers never need
# dynamodb:CreateTable: keep `create_table_if_missing` false in the benchmark config.

resource "aws_dynamodb_table" "bench" {
  count = local.enabled.dynamodb ? 1 : 0

  name           = local.dynamodb_table_name
  billing_mode   = var.dynamodb_billing_mode
  read_capacity  = var.dynamodb_billing_mode == "PROVISIONED" ? var.dynamodb_read_capacity : null
  write_capacity = var.dynamodb_billing_mode == "PROVISIONED" ? var.dynamodb_write_capacity : null
  hash_key       = var.dynamodb_partition_key.name
  range_key      = try(var.dynamodb_sort_key.name, null)

  deletion_protection_enabled = var.dynamodb_deletion_protection

  attribute {
    name = var.dynamodb_partition_key.name
    type = var.dynamodb_partition_key.type
  }

  dynamic "attribute" {
    for_each = var.dynamodb_sort_key == null ? [] : [var.dynamodb_sort_key]
    content {
      name = attribute.value.name
      type = attribute.value.type
    }
  }

  # Pre-warmed throughput (docs/lambda.md, "Quotas"): a new on-demand table serves
  # 4,000 writes and 12,000 reads per second at first and splits partitions as load
  # grows; a wide zipfian run can throttle before it has.
  dynamic "warm_throughput" {
    for_each = var.dynamodb_warm_throughput == null ? [] : [var.dynamodb_warm_throughput]
    content {
      read_units_per_second  = warm_throughput.value.read_units_per_second
      write_units_per_second = warm_throughput.value.write_units_per_second
    }
  }

  point_in_time_recovery {
    enabled = var.dynamodb_point_in_time_recovery
  }

  # Without a key of the user's, the AWS owned key: no KMS requests (and no
  # KMS latency or cost) on the measured path.
  server_side_encryption {
    enabled     = var.kms_key_arn != null
    kms_key_arn = var.kms_key_arn
  }
}
