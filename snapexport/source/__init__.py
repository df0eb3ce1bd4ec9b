"""The only Django-aware code: reading a site's records and files for a snapshot."""
