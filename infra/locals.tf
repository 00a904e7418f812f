locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  tags = merge(var.tags, {
    "lgb:deployment" = var.name_prefix
    "lgb:managed-by" = "terraform"
  })

  enabled = {
    dynamodb   = contains(var.databases, "dynamodb")
    timestream = contains(var.databases, "timestream")
    immudb     = contains(var.databases, "immudb")
    influxdb   = contains(var.databases, "influxdb")
  }

  # The immudb server (and its VPC) exists only when immudb is benchmarked and no
  # server of the user's is given.
  immudb_server = local.enabled.immudb && var.immudb_external_address == null

  # One worker function per database, keyed by the adapter's type name.
  workers = {
    for db in sort(tolist(var.databases)) : db => {
      function_name = "${var.name_prefix}-${db}"
      memory_mb     = lookup(var.memory_mb, db, var.default_memory_mb)
    }
  }

  bucket_name         = "${var.name_prefix}-${local.account_id}-${var.region}"
  dynamodb_table_name = coalesce(var.dynamodb_table_name, "${var.name_prefix}-bench")
  timestream_database = "${var.name_prefix}-bench"
  timestream_table    = "bench"
  immudb_dns_name     = "immudb.${var.name_prefix}.lgb.internal"
  immudb_port         = 3322

  # Each worker's zip: scripts/package-lambda writes one per database, with only that
  # database's adapter (package_path, when set, is one zip for every worker).
  package_paths = {
    for db in keys(local.workers) : db => coalesce(
      var.package_path,
      "${coalesce(var.package_dir, "${path.module}/../dist")}/lgb-lambda-${db}-${var.architecture}.zip",
    )
  }
}
