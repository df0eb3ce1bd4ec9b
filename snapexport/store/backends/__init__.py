"""Backend implementations: ``local`` (a folder) and ``s3`` (S3-compatible object storage)."""
