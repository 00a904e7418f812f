# immudb: the worker's credentials in Secrets Manager and, unless
# immudb_external_address is set, an immudb server on ECS Fargate in private
# subnets of a VPC made for it. The immudb worker joins the same private
# subnets and finds the server by a private DNS name (Cloud Map).
#
# Layout: one public subnet with a NAT gateway (the task pulls its public image
# and reaches CloudWatch Logs and Secrets Manager through it), two private
# subnets in two zones for the task and the worker, an S3 gateway endpoint for
# the worker's result writes.

# ----------------------------------------------------------------- secret ---

resource "aws_secretsmanager_secret" "immudb" {
  count = local.enabled.immudb ? 1 : 0

  name        = "${var.name_prefix}/immudb"
  description = "immudb user and password of the lgb immudb worker (JSON: username, password)"
  kms_key_id  = var.kms_key_arn
  # Deleted at once on destroy, so a new apply with the same prefix can
  # create it again.
  recovery_window_in_days = 0
}

# The server's admin password: drawn by Secrets Manager (GetRandomPassword) at
# apply time and written straight into the secret through a write-only argument,
# so it is in neither the plan nor the state. It is written once; raise
# secret_string_wo_version to draw and write a new one (then replace the immudb
# task, which reads it at start). With an external server, put the secret value
# yourself instead.
ephemeral "aws_secretsmanager_random_password" "immudb" {
  count = local.immudb_server ? 1 : 0

  password_length     = 32
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "immudb" {
  count = local.immudb_server ? 1 : 0

  secret_id = aws_secretsmanager_secret.immudb[0].id
  secret_string_wo = jsonencode({
    username = "immudb"
    password = ephemeral.aws_secretsmanager_random_password.immudb[0].random_password
  })
  secret_string_wo_version = 1
}

# -------------------------------------------------------------------- VPC ---

data "aws_availability_zones" "available" {
  count = local.immudb_server ? 1 : 0
  state = "available"
}

resource "aws_vpc" "immudb" {
  count = local.immudb_server ? 1 : 0

  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = "${var.name_prefix}-immudb" }
}

# Nothing may use the default security group.
resource "aws_default_security_group" "immudb" {
  count = local.immudb_server ? 1 : 0

  vpc_id = aws_vpc.immudb[0].id
}

resource "aws_internet_gateway" "immudb" {
  count = local.immudb_server ? 1 : 0

  vpc_id = aws_vpc.immudb[0].id
}

resource "aws_subnet" "public" {
  count = local.immudb_server ? 1 : 0

  vpc_id                  = aws_vpc.immudb[0].id
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, 0)
  availability_zone       = data.aws_availability_zones.available[0].names[0]
  map_public_ip_on_launch = false

  tags = { Name = "${var.name_prefix}-immudb-public" }
}

resource "aws_subnet" "private" {
  count = local.immudb_server ? 2 : 0

  vpc_id            = aws_vpc.immudb[0].id
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index + 1)
  availability_zone = data.aws_availability_zones.available[0].names[count.index]

  tags = { Name = "${var.name_prefix}-immudb-private-${count.index}" }
}

resource "aws_eip" "nat" {
  count = local.immudb_server ? 1 : 0

  domain     = "vpc"
  depends_on = [aws_internet_gateway.immudb]
}

resource "aws_nat_gateway" "immudb" {
  count = local.immudb_server ? 1 : 0

  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id
}

resource "aws_route_table" "public" {
  count = local.immudb_server ? 1 : 0

  vpc_id = aws_vpc.immudb[0].id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.immudb[0].id
  }
}

resource "aws_route_table_association" "public" {
  count = local.immudb_server ? 1 : 0

  subnet_id      = aws_subnet.public[0].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_route_table" "private" {
  count = local.immudb_server ? 1 : 0

  vpc_id = aws_vpc.immudb[0].id

  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.immudb[0].id
  }
}

resource "aws_route_table_association" "private" {
  count = local.immudb_server ? 2 : 0

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[0].id
}

# Result writes to S3 stay off the NAT gateway (and its per-GB charge).
resource "aws_vpc_endpoint" "s3" {
  count = local.immudb_server ? 1 : 0

  vpc_id            = aws_vpc.immudb[0].id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private[0].id]
}

# -------------------------------------------------------- security groups ---

resource "aws_security_group" "immudb_worker" {
  count = local.immudb_server ? 1 : 0

  name        = "${var.name_prefix}-immudb-worker"
  description = "lgb immudb worker: out to the immudb server and to HTTPS only"
  vpc_id      = aws_vpc.immudb[0].id
}

resource "aws_security_group" "immudb_server" {
  count = local.immudb_server ? 1 : 0

  name        = "${var.name_prefix}-immudb-server"
  description = "immudb server: gRPC in from the lgb immudb worker only"
  vpc_id      = aws_vpc.immudb[0].id
}

resource "aws_vpc_security_group_egress_rule" "worker_to_immudb" {
  count = local.immudb_server ? 1 : 0

  security_group_id            = aws_security_group.immudb_worker[0].id
  description                  = "immudb gRPC"
  ip_protocol                  = "tcp"
  from_port                    = local.immudb_port
  to_port                      = local.immudb_port
  referenced_security_group_id = aws_security_group.immudb_server[0].id
}

resource "aws_vpc_security_group_egress_rule" "worker_https" {
  count = local.immudb_server ? 1 : 0

  security_group_id = aws_security_group.immudb_worker[0].id
  description       = "HTTPS to Secrets Manager (through NAT) and S3 (gateway endpoint)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "immudb_from_worker" {
  count = local.immudb_server ? 1 : 0

  security_group_id            = aws_security_group.immudb_server[0].id
  description                  = "immudb gRPC from the lgb immudb worker"
  ip_protocol                  = "tcp"
  from_port                    = local.immudb_port
  to_port                      = local.immudb_port
  referenced_security_group_id = aws_security_group.immudb_worker[0].id
}

resource "aws_vpc_security_group_egress_rule" "immudb_https" {
  count = local.immudb_server ? 1 : 0

  security_group_id = aws_security_group.immudb_server[0].id
  description       = "HTTPS for the image pull, CloudWatch Logs and Secrets Manager (through NAT)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# ------------------------------------------------------------ ECS Fargate ---

resource "aws_cloudwatch_log_group" "immudb" {
  count = local.immudb_server ? 1 : 0

  name              = "/ecs/${var.name_prefix}-immudb"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_iam_role" "immudb_task_execution" {
  count = local.immudb_server ? 1 : 0

  name               = "${var.name_prefix}-immudb-task-execution"
  description        = "ECS pulls the immudb image, writes its logs and hands it its secret"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "immudb_task_execution" {
  count = local.immudb_server ? 1 : 0

  name   = "${var.name_prefix}-immudb-task-execution"
  role   = aws_iam_role.immudb_task_execution[0].id
  policy = data.aws_iam_policy_document.immudb_task_execution[0].json
}

resource "aws_ecs_cluster" "immudb" {
  count = local.immudb_server ? 1 : 0

  name = "${var.name_prefix}-immudb"

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

# No task role: the server calls no AWS API itself.
resource "aws_ecs_task_definition" "immudb" {
  count = local.immudb_server ? 1 : 0

  family                   = "${var.name_prefix}-immudb"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.immudb_cpu
  memory                   = var.immudb_memory_mb
  execution_role_arn       = aws_iam_role.immudb_task_execution[0].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.architecture == "arm64" ? "ARM64" : "X86_64"
  }

  container_definitions = jsonencode([
    {
      name      = "immudb"
      image     = var.immudb_image
      essential = true
      portMappings = [
        { containerPort = local.immudb_port, protocol = "tcp" },
      ]
      # gRPC only: no PostgreSQL wire server, web console or metrics port.
      environment = [
        { name = "IMMUDB_ADDRESS", value = "0.0.0.0" },
        { name = "IMMUDB_PORT", value = tostring(local.immudb_port) },
        { name = "IMMUDB_PGSQL_SERVER", value = "false" },
        { name = "IMMUDB_WEB_SERVER", value = "false" },
        { name = "IMMUDB_METRICS_SERVER", value = "false" },
        { name = "IMMUDB_DEVMODE", value = "false" },
      ]
      # The initial admin password, read by ECS from the JSON key "password".
      secrets = [
        { name = "IMMUDB_ADMIN_PASSWORD", valueFrom = "${aws_secretsmanager_secret.immudb[0].arn}:password::" },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.immudb[0].name
          awslogs-region        = var.region
          awslogs-stream-prefix = "immudb"
        }
      }
      # immudb writes its data under /var/lib/immudb in the image's own
      # filesystem (the image runs as uid 3322; Fargate bind mounts are root's).
      readonlyRootFilesystem = false
      privileged             = false
    },
  ])
}

resource "aws_service_discovery_private_dns_namespace" "immudb" {
  count = local.immudb_server ? 1 : 0

  name        = "${var.name_prefix}.lgb.internal"
  description = "lgb immudb server name"
  vpc         = aws_vpc.immudb[0].id
}

resource "aws_service_discovery_service" "immudb" {
  count = local.immudb_server ? 1 : 0

  name = "immudb"

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.immudb[0].id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }
}

resource "aws_ecs_service" "immudb" {
  count = local.immudb_server ? 1 : 0

  name             = "${var.name_prefix}-immudb"
  cluster          = aws_ecs_cluster.immudb[0].id
  task_definition  = aws_ecs_task_definition.immudb[0].arn
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  desired_count    = 1

  # One server with its data on task storage: stop the old task before the
  # new one starts, never run two.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.immudb_server[0].id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.immudb[0].arn
  }

  # The image pull needs the NAT route; the secret must have a value.
  depends_on = [
    aws_route_table_association.private,
    aws_iam_role_policy.immudb_task_execution,
    aws_secretsmanager_secret_version.immudb,
  ]
}
