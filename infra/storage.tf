# The bucket holds the worker package (packages/) and what workers write
# (results_prefix). Private, TLS-only, encrypted, versioned, with expiry rules.

resource "aws_s3_bucket" "artifacts" {
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  # ACLs off: access is decided by IAM and the bucket policy alone.
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # One data key per bucket instead of one KMS call per object.
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  # Versioning must be on before rules about noncurrent versions apply.
  depends_on = [aws_s3_bucket_versioning.artifacts]

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "expire-results"
    status = "Enabled"

    filter {
      prefix = var.results_prefix
    }

    dynamic "expiration" {
      for_each = var.results_expiration_days > 0 ? [var.results_expiration_days] : []
      content {
        days = expiration.value
      }
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  rule {
    id     = "expire-old-packages"
    status = "Enabled"

    filter {
      prefix = "packages/"
    }

    # The current package is what the functions run; only replaced ones go.
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }
}

resource "aws_s3_bucket_policy" "artifacts" {
  # moto cannot evaluate aws:SecureTransport: it denies every object request
  # under this policy, TLS or not.
  count = var.local_stand_in ? 0 : 1

  bucket = aws_s3_bucket.artifacts.id
  policy = data.aws_iam_policy_document.artifacts_bucket.json

  # S3 rejects a policy while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.artifacts]
}

# Each worker's package (local.package_paths). Functions point at this exact object
# version, so a new zip means a new version and a function update.
resource "aws_s3_object" "package" {
  for_each = local.package_paths

  bucket      = aws_s3_bucket.artifacts.id
  key         = "packages/lgb-lambda-${each.key}-${var.architecture}.zip"
  source      = each.value
  source_hash = filemd5(each.value)
  kms_key_id  = var.kms_key_arn

  # The object must be written encrypted under the bucket's default rule.
  depends_on = [aws_s3_bucket_server_side_encryption_configuration.artifacts, aws_s3_bucket_versioning.artifacts]
}
