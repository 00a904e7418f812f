# ----------------------------------------------------------------- general ---

variable "region" {
  description = "AWS region to deploy into; the runner invokes the workers there."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like an AWS region name, for example eu-west-1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (functions, roles, table, bucket, dashboard). Use a different one per deployment in the same account and region."
  type        = string
  default     = "lgb"

  validation {
    # Short enough that "<prefix>-<account>-<region>" is a valid bucket name and
    # "<prefix>-timestream-worker" a valid role name.
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-20 characters of a-z, 0-9 and '-', starting with a letter and not ending with '-'."
  }
}

variable "databases" {
  description = "Databases to deploy a worker (and the database) for: any of dynamodb, timestream, immudb, influxdb."
  type        = set(string)
  default     = ["dynamodb"]

  validation {
    condition     = length(var.databases) > 0 && alltrue([for d in var.databases : contains(["dynamodb", "timestream", "immudb", "influxdb"], d)])
    error_message = "databases must name at least one of: dynamodb, timestream, immudb, influxdb."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "Optional customer managed KMS key (ARN) for the bucket, log groups, the DynamoDB table, the Timestream database, the immudb secret and the functions' environment. null uses AWS owned/managed keys. The key policy must let the logs service use it."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be the ARN of a KMS key (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias."
  }
}

# ------------------------------------------------------------------ workers ---

variable "package_dir" {
  description = "Folder of the worker zips, one per database (lgb-lambda-<database>-<architecture>.zip, a `bootstrap` for provided.al2023 with only that database's adapter, as scripts/package-lambda writes them); null means dist/ at the repository root."
  type        = string
  default     = null
}

variable "package_path" {
  description = "Path of one worker zip for every worker instead of package_dir's zip per database (for example a build with every adapter); null means package_dir's."
  type        = string
  default     = null

  validation {
    condition     = var.package_path == null || endswith(coalesce(var.package_path, ".zip"), ".zip")
    error_message = "package_path must be the path of a .zip file."
  }
}

variable "architecture" {
  description = "Instruction set of the workers (and of the immudb task): x86_64 or arm64. Must match the zip."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_mb" {
  description = "Memory of each worker function in MB, by database. Lambda gives CPU in proportion to memory (one full vCPU at 1769 MB)."
  type        = map(number)
  default = {
    dynamodb   = 1024
    timestream = 1024
    immudb     = 1024
    influxdb   = 1024
  }

  validation {
    condition     = alltrue([for k, v in var.memory_mb : contains(["dynamodb", "timestream", "immudb", "influxdb"], k) && v >= 128 && v <= 10240 && floor(v) == v])
    error_message = "memory_mb keys must be dynamodb, timestream, immudb or influxdb, and values whole numbers from 128 to 10240."
  }
}

variable "default_memory_mb" {
  description = "Memory of a worker whose database is not in memory_mb."
  type        = number
  default     = 1024

  validation {
    condition     = var.default_memory_mb >= 128 && var.default_memory_mb <= 10240
    error_message = "default_memory_mb must be from 128 to 10240."
  }
}

variable "timeout_seconds" {
  description = "Function timeout. A worker stops its test before this deadline and returns partial results; keep it above the longest test."
  type        = number
  default     = 300

  validation {
    condition     = var.timeout_seconds >= 10 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be from 10 to 900."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions per worker function; -1 leaves them unreserved. Reserving caps the fan-out (and the bill) but needs spare account concurrency."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrency == -1 || var.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be -1 (unreserved) or at least 1."
  }
}

variable "log_level" {
  description = "RUST_LOG filter of the workers (tracing), for example info or lgb_core=debug."
  type        = string
  default     = "info"
}

variable "log_retention_days" {
  description = "Retention of every log group (workers, immudb)."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

# -------------------------------------------------------------- S3 bucket ---

variable "results_prefix" {
  description = "Key prefix in the bucket under which workers may write results. Workers can write nowhere else."
  type        = string
  default     = "results/"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*/$", var.results_prefix))
    error_message = "results_prefix must be one path segment ending in '/' (letters, digits, '.', '_', '-'), for example results/."
  }
}

variable "results_expiration_days" {
  description = "Days after which objects under results_prefix expire (0 keeps them)."
  type        = number
  default     = 90

  validation {
    condition     = var.results_expiration_days >= 0
    error_message = "results_expiration_days must be 0 or more."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten (noncurrent) object versions are deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Let `destroy` delete the bucket with every object version in it (results included). Apply it as true before destroying."
  type        = bool
  default     = false
}

# --------------------------------------------------------------- DynamoDB ---

variable "dynamodb_table_name" {
  description = "Name of the benchmark table; null gives <name_prefix>-bench."
  type        = string
  default     = null
}

variable "dynamodb_billing_mode" {
  description = "PAY_PER_REQUEST (on-demand) or PROVISIONED."
  type        = string
  default     = "PAY_PER_REQUEST"

  validation {
    condition     = contains(["PAY_PER_REQUEST", "PROVISIONED"], var.dynamodb_billing_mode)
    error_message = "dynamodb_billing_mode must be PAY_PER_REQUEST or PROVISIONED."
  }
}

variable "dynamodb_read_capacity" {
  description = "Read capacity units when dynamodb_billing_mode is PROVISIONED."
  type        = number
  default     = 5
}

variable "dynamodb_write_capacity" {
  description = "Write capacity units when dynamodb_billing_mode is PROVISIONED."
  type        = number
  default     = 5
}

variable "dynamodb_warm_throughput" {
  description = "Pre-warmed read/write units per second of the benchmark table (DynamoDB warm throughput), so that a fresh on-demand table does not throttle the first minutes of a wide run; null leaves it at DynamoDB's initial 12,000 reads and 4,000 writes per second. Raising it is billed once."
  type = object({
    read_units_per_second  = number
    write_units_per_second = number
  })
  default = null

  validation {
    condition = var.dynamodb_warm_throughput == null ? true : (
      var.dynamodb_warm_throughput.read_units_per_second >= 12000 &&
      var.dynamodb_warm_throughput.write_units_per_second >= 4000
    )
    error_message = "dynamodb_warm_throughput must be at least 12000 reads and 4000 writes per second (what a new table already has)."
  }
}

variable "dynamodb_partition_key" {
  description = "Partition key of the table; must match the benchmark config's database.partition_key."
  type = object({
    name = string
    type = string
  })
  default = {
    name = "pk"
    type = "S"
  }

  validation {
    condition     = contains(["S", "N", "B"], var.dynamodb_partition_key.type)
    error_message = "dynamodb_partition_key.type must be S, N or B."
  }
}

variable "dynamodb_sort_key" {
  description = "Optional sort key of the table; must match the benchmark config's database.sort_key."
  type = object({
    name = string
    type = string
  })
  default = null

  validation {
    condition     = var.dynamodb_sort_key == null || contains(["S", "N", "B"], try(var.dynamodb_sort_key.type, ""))
    error_message = "dynamodb_sort_key.type must be S, N or B."
  }
}

variable "dynamodb_point_in_time_recovery" {
  description = "Continuous backups of the table (billed per GB-month)."
  type        = bool
  default     = false
}

variable "dynamodb_deletion_protection" {
  description = "Refuse to delete the table (destroy fails until it is turned off)."
  type        = bool
  default     = false
}

# ------------------------------------------------------------- Timestream ---

variable "timestream_memory_retention_hours" {
  description = "Hours records stay in Timestream's memory store (fast writes and queries)."
  type        = number
  default     = 24

  validation {
    condition     = var.timestream_memory_retention_hours >= 1 && var.timestream_memory_retention_hours <= 8766
    error_message = "timestream_memory_retention_hours must be from 1 to 8766."
  }
}

variable "timestream_magnetic_retention_days" {
  description = "Days records stay in Timestream's magnetic store before they are deleted."
  type        = number
  default     = 7

  validation {
    condition     = var.timestream_magnetic_retention_days >= 1 && var.timestream_magnetic_retention_days <= 73000
    error_message = "timestream_magnetic_retention_days must be from 1 to 73000."
  }
}

variable "timestream_magnetic_store_writes" {
  description = "Accept records older than the memory retention (written to the magnetic store)."
  type        = bool
  default     = false
}

# ----------------------------------------------------------------- immudb ---

variable "immudb_external_address" {
  description = "host:port of an immudb server you run yourself. null deploys one on ECS Fargate in private subnets of a new VPC, with the immudb worker in the same VPC."
  type        = string
  default     = null
}

variable "immudb_image" {
  description = "Container image of the immudb server (a public image: the task has no registry credentials)."
  type        = string
  default     = "codenotary/immudb:1.10.0"
}

variable "immudb_database" {
  description = "immudb database the worker opens."
  type        = string
  default     = "defaultdb"
}

variable "immudb_cpu" {
  description = "Fargate CPU units of the immudb task (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "immudb_memory_mb" {
  description = "Fargate memory of the immudb task in MB (must suit immudb_cpu)."
  type        = number
  default     = 2048
}

variable "vpc_cidr" {
  description = "CIDR of the VPC made for the immudb server and worker."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) <= 20, false)
    error_message = "vpc_cidr must be an IPv4 CIDR block of /20 or larger."
  }
}

# --------------------------------------------------------------- influxdb ---

variable "influxdb_create_instance" {
  description = "Create an Amazon Timestream for InfluxDB instance (InfluxDB 2.x, billed per instance-hour and GB-month of storage) in a VPC made for it, with the influxdb worker in the same VPC. false (default) benchmarks influxdb_external_endpoint."
  type        = bool
  default     = false
}

variable "influxdb_external_endpoint" {
  description = "Base URL (https://host:port) of an InfluxDB you run yourself, used when influxdb_create_instance is false."
  type        = string
  default     = null

  validation {
    condition     = var.influxdb_external_endpoint == null || can(regex("^https?://[^/?#@]+$", coalesce(var.influxdb_external_endpoint, "http://x")))
    error_message = "influxdb_external_endpoint must be http(s)://host[:port], without a path or credentials."
  }
}

variable "influxdb_instance_type" {
  description = "Timestream for InfluxDB instance class (db.influx.medium: 1 vCPU, 8 GiB)."
  type        = string
  default     = "db.influx.medium"
}

variable "influxdb_storage_type" {
  description = "Storage of the instance: InfluxIOIncludedT1 (3,000 IOPS), T2 (12,000) or T3 (16,000)."
  type        = string
  default     = "InfluxIOIncludedT1"
}

variable "influxdb_allocated_storage_gib" {
  description = "Storage of the instance in GiB (20 to 16384)."
  type        = number
  default     = 20

  validation {
    condition     = var.influxdb_allocated_storage_gib >= 20 && var.influxdb_allocated_storage_gib <= 16384
    error_message = "influxdb_allocated_storage_gib must be from 20 to 16384."
  }
}

variable "influxdb_org" {
  description = "InfluxDB organization of the instance and of the worker's v2 API."
  type        = string
  default     = "lgb"
}

variable "influxdb_bucket" {
  description = "InfluxDB bucket the worker writes (its InfluxQL queries name it as database)."
  type        = string
  default     = "bench"
}

variable "influxdb_vpc_cidr" {
  description = "CIDR of the VPC made for the InfluxDB instance and worker."
  type        = string
  default     = "10.43.0.0/16"

  validation {
    condition     = can(cidrhost(var.influxdb_vpc_cidr, 0)) && try(tonumber(split("/", var.influxdb_vpc_cidr)[1]) <= 20, false)
    error_message = "influxdb_vpc_cidr must be an IPv4 CIDR block of /20 or larger."
  }
}

# ------------------------------------------------------ local stand-ins ---

variable "local_stand_in" {
  description = "Test only, never for AWS: true leaves out what moto server (the local AWS stand-in of scripts/infra-check) cannot create: the CloudWatch dashboard and the bucket's TLS-only policy (README.md, \"Applied against moto\"). Everything else is applied as for AWS."
  type        = bool
  default     = false
}
