# Works with OpenTofu >= 1.11 and Terraform >= 1.11: the immudb password is an
# ephemeral value written to a write-only attribute, so it never enters the plan or
# the state. scripts/infra-check validates, plans and applies it with OpenTofu and the
# hashicorp/aws provider built from source (scripts/wrappers/terraform-provider-aws).
terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0.0, < 7.0.0"
    }
  }
}
