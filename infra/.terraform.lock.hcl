# This file is maintained automatically by "tofu init".
# Manual edits may be lost in future updates.

provider "registry.opentofu.org/hashicorp/aws" {
  version     = "6.47.1"
  constraints = ">= 6.0.0, < 7.0.0"
  hashes = [
    "h1:jsmDK5NXnv5khJ+NxMzi1vX1gmCVYcR4SnHebGSdgME=",
  ]
}
