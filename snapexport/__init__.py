"""snapexport: incremental, deduplicated backups of paperless-ngx and Django sites."""

__version__ = "0.1.0"
