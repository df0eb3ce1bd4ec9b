"""The paperless-ngx export format, in one place: what ``document_exporter`` writes.

``labels`` and ``sections`` (which models, in which order), ``manifest`` (the framing of
manifest.json, its ``__exported_*`` keys, split manifests; one writer and one streaming
reader), ``naming`` (public and filename-format names, media paths), ``flags`` (the
exporter flags an export on disk was written with), ``crypto`` (``--passphrase`` field
encryption), ``containers`` (an export's files, folder or zip). Nothing here imports
Django, the store or the catalog: materialize writes this format, the export source and
verify read it.
"""
