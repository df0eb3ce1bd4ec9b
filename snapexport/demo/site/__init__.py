"""The demo's ``documents`` app: the export-relevant part of paperless-ngx's schema."""
