# influxdb: Amazon Timestream for InfluxDB. With influxdb_create_instance
# (default false: an instance is billed by the hour for as long as it exists;
# give lgb its hourly price with `--prices`, see docs/influxdb.md), a Timestream for
# InfluxDB instance (InfluxDB 2.x) in private subnets of a VPC made for it, and
# the influxdb worker in the same subnets with a security group that reaches
# only the instance (and, over HTTPS, the VPC endpoints of Secrets Manager and
# S3). Without it, the worker benchmarks influxdb_external_endpoint over the
# network like the other public endpoints.
#
# The worker's token lives in Secrets Manager (secret "<prefix>/influxdb",
# JSON {"token": "..."}). Terraform cannot mint an InfluxDB token (that needs
# InfluxDB's own API), so after apply put one in (docs/influxdb.md shows the
# two commands); until then the worker's connect fails naming the secret.
#
# No NAT gateway: the instance needs none and the worker reaches AWS only
# through the two endpoints.

locals {
  influxdb_instance = local.enabled.influxdb && var.influxdb_create_instance
  influxdb_port     = 8086
  # What the worker is pinned to (outputs.tf's lgb_targets, LGB_DEPLOYMENT).
  influxdb_endpoint = local.influxdb_instance ? "https://${one(aws_timestreaminfluxdb_db_instance.bench[*].endpoint)}:${local.influxdb_port}" : var.influxdb_external_endpoint
}

# ----------------------------------------------------------------- secret ---

resource "aws_secretsmanager_secret" "influxdb" {
  count = local.enabled.influxdb ? 1 : 0

  name        = "${var.name_prefix}/influxdb"
  description = "InfluxDB token of the lgb influxdb worker (JSON: token); put by the operator after apply"
  kms_key_id  = var.kms_key_arn
  # Deleted at once on destroy, so a new apply with the same prefix can
  # create it again.
  recovery_window_in_days = 0
}

# -------------------------------------------------------------------- VPC ---

data "aws_availability_zones" "influxdb" {
  count = local.influxdb_instance ? 1 : 0
  state = "available"
}

resource "aws_vpc" "influxdb" {
  count = local.influxdb_instance ? 1 : 0

  cidr_block           = var.influxdb_vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = "${var.name_prefix}-influxdb" }
}

# Nothing may use the default security group.
resource "aws_default_security_group" "influxdb" {
  count = local.influxdb_instance ? 1 : 0

  vpc_id = aws_vpc.influxdb[0].id
}

resource "aws_subnet" "influxdb" {
  count = local.influxdb_instance ? 2 : 0

  vpc_id            = aws_vpc.influxdb[0].id
  cidr_block        = cidrsubnet(var.influxdb_vpc_cidr, 4, count.index)
  availability_zone = data.aws_availability_zones.influxdb[0].names[count.index]

  tags = { Name = "${var.name_prefix}-influxdb-private-${count.index}" }
}

resource "aws_route_table" "influxdb" {
  count = local.influxdb_instance ? 1 : 0

  vpc_id = aws_vpc.influxdb[0].id
}

resource "aws_route_table_association" "influxdb" {
  count = local.influxdb_instance ? 2 : 0

  subnet_id      = aws_subnet.influxdb[count.index].id
  route_table_id = aws_route_table.influxdb[0].id
}

# Result writes to S3 from the worker.
resource "aws_vpc_endpoint" "influxdb_s3" {
  count = local.influxdb_instance ? 1 : 0

  vpc_id            = aws_vpc.influxdb[0].id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.influxdb[0].id]
}

# The worker reads its token here (private DNS: the SDK's usual host name).
resource "aws_vpc_endpoint" "influxdb_secretsmanager" {
  count = local.influxdb_instance ? 1 : 0

  vpc_id              = aws_vpc.influxdb[0].id
  service_name        = "com.amazonaws.${var.region}.secretsmanager"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.influxdb[*].id
  security_group_ids  = [aws_security_group.influxdb_endpoints[0].id]
  private_dns_enabled = true
}

# -------------------------------------------------------- security groups ---

resource "aws_security_group" "influxdb_worker" {
  count = local.influxdb_instance ? 1 : 0

  name        = "${var.name_prefix}-influxdb-worker"
  description = "lgb influxdb worker: out to the InfluxDB instance and the VPC endpoints only"
  vpc_id      = aws_vpc.influxdb[0].id
}

resource "aws_security_group" "influxdb_instance" {
  count = local.influxdb_instance ? 1 : 0

  name        = "${var.name_prefix}-influxdb-instance"
  description = "Timestream for InfluxDB: HTTPS API in from the lgb influxdb worker only"
  vpc_id      = aws_vpc.influxdb[0].id
}

resource "aws_security_group" "influxdb_endpoints" {
  count = local.influxdb_instance ? 1 : 0

  name        = "${var.name_prefix}-influxdb-endpoints"
  description = "Secrets Manager endpoint: HTTPS in from the lgb influxdb worker only"
  vpc_id      = aws_vpc.influxdb[0].id
}

resource "aws_vpc_security_group_egress_rule" "influxdb_worker_to_instance" {
  count = local.influxdb_instance ? 1 : 0

  security_group_id            = aws_security_group.influxdb_worker[0].id
  description                  = "InfluxDB HTTPS API"
  ip_protocol                  = "tcp"
  from_port                    = local.influxdb_port
  to_port                      = local.influxdb_port
  referenced_security_group_id = aws_security_group.influxdb_instance[0].id
}

resource "aws_vpc_security_group_egress_rule" "influxdb_worker_to_secretsmanager" {
  count = local.influxdb_instance ? 1 : 0

  security_group_id            = aws_security_group.influxdb_worker[0].id
  description                  = "HTTPS to the Secrets Manager endpoint"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.influxdb_endpoints[0].id
}

resource "aws_vpc_security_group_egress_rule" "influxdb_worker_to_s3" {
  count = local.influxdb_instance ? 1 : 0

  security_group_id = aws_security_group.influxdb_worker[0].id
  description       = "HTTPS to S3 through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.influxdb_s3[0].prefix_list_id
}

resource "aws_vpc_security_group_ingress_rule" "influxdb_from_worker" {
  count = local.influxdb_instance ? 1 : 0

  security_group_id            = aws_security_group.influxdb_instance[0].id
  description                  = "InfluxDB HTTPS API from the lgb influxdb worker"
  ip_protocol                  = "tcp"
  from_port                    = local.influxdb_port
  to_port                      = local.influxdb_port
  referenced_security_group_id = aws_security_group.influxdb_worker[0].id
}

resource "aws_vpc_security_group_ingress_rule" "influxdb_endpoints_from_worker" {
  count = local.influxdb_instance ? 1 : 0

  security_group_id            = aws_security_group.influxdb_endpoints[0].id
  description                  = "HTTPS from the lgb influxdb worker"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.influxdb_worker[0].id
}

# --------------------------------------------------------------- instance ---

# The instance's initial admin password. The provider has no write-only
# argument for it (hashicorp/aws 6.47.1: `password` only, required, replaced on
# change), so an ephemeral value cannot reach it and it lands in the state, in
# this resource's `password` (marked sensitive) and nowhere else: keep the state
# private (infra/README.md). It is drawn once, at the apply that creates the
# instance: uuid() (OpenTofu/Terraform's, 128 bits from the OS's secure random
# source, as 32 hex digits; the instance takes 8-64 of [a-zA-Z0-9]) is unknown
# while planning, so no plan holds it, and ignore_changes keeps the first draw
# (a data source, Secrets Manager's GetRandomPassword, would draw again at every
# plan and keep each draw in the state). No hashicorp/random: infra/ needs no
# other provider. AWS keeps it, with the org and bucket, in the instance's own
# secret (influx_auth_parameters_secret_arn), where the operator reads it to
# make the worker's token. The worker never sees it.
resource "aws_timestreaminfluxdb_db_instance" "bench" {
  count = local.influxdb_instance ? 1 : 0

  name                   = "${var.name_prefix}-influxdb"
  db_instance_type       = var.influxdb_instance_type
  db_storage_type        = var.influxdb_storage_type
  allocated_storage      = var.influxdb_allocated_storage_gib
  deployment_type        = "SINGLE_AZ"
  publicly_accessible    = false
  port                   = local.influxdb_port
  username               = "admin"
  password               = replace(uuid(), "-", "")
  organization           = var.influxdb_org
  bucket                 = var.influxdb_bucket
  vpc_subnet_ids         = [aws_subnet.influxdb[0].id]
  vpc_security_group_ids = [aws_security_group.influxdb_instance[0].id]

  lifecycle {
    # Drawn once: uuid() is new at every apply, the instance keeps the one it
    # was created with (-replace draws a new one with the new instance).
    ignore_changes = [password]
  }
}
