"""The model labels the paperless export format gives a meaning to, named once.

Records in a manifest carry ``"model": "<app_label>.<modelname>"``. Most sections are
copied as they are; the labels below are the ones whose records the format treats
specially (documents own files and are named, bundles own a file, correspondents name
documents, notes and custom-field instances travel in split manifests, mail accounts and
social tokens hold encrypted fields).
"""

from __future__ import annotations

DOCUMENT = "documents.document"
BUNDLE = "documents.sharelinkbundle"
CORRESPONDENT = "documents.correspondent"
NOTE = "documents.note"
CUSTOM_FIELD_INSTANCE = "documents.customfieldinstance"
MAIL_ACCOUNT = "paperless_mail.mailaccount"
SOCIAL_TOKEN = "socialaccount.socialtoken"
AUDIT_LOG_ENTRY = "auditlog.logentry"

# Records that travel with their document in a split manifest (``-sm``).
SPLIT_CHILDREN: tuple[str, ...] = (NOTE, CUSTOM_FIELD_INSTANCE)
# Sections the exporter holds back and writes after all others, in this order.
WRITTEN_LAST: tuple[str, ...] = (DOCUMENT, BUNDLE)
