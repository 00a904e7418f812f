# Works with OpenTofu >= 1.6 and Terraform >= 1.6 (nothing newer than 1.6 syntax
# is used; scripts/infra-check formats and checks with OpenTofu).
terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70.0, < 7.0.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6.0, < 4.0.0"
    }
  }
}
