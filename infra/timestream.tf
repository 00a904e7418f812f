# The Timestream for LiveAnalytics database and table. Terraform owns them, so
# workers never need CreateDatabase/CreateTable: keep `create_if_missing` false.

resource "aws_timestreamwrite_database" "bench" {
  count = local.enabled.timestream ? 1 : 0

  database_name = local.timestream_database
  kms_key_id    = var.kms_key_arn
}

resource "aws_timestreamwrite_table" "bench" {
  count = local.enabled.timestream ? 1 : 0

  database_name = aws_timestreamwrite_database.bench[0].database_name
  table_name    = local.timestream_table

  retention_properties {
    memory_store_retention_period_in_hours  = var.timestream_memory_retention_hours
    magnetic_store_retention_period_in_days = var.timestream_magnetic_retention_days
  }

  magnetic_store_write_properties {
    enable_magnetic_store_writes = var.timestream_magnetic_store_writes
  }
}
