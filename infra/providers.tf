provider "aws" {
  region = var.region

  # Every resource carries these tags, so the whole deployment can be found (and
  # its cost read in Cost Explorer) by the `lgb:deployment` tag.
  default_tags {
    tags = local.tags
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}
