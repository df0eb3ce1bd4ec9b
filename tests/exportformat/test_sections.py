"""The exporter's section table, pinned against paperless-ngx 3.0.5's document_exporter.

Golden facts read from the real 3.0.5 exporter (and checked by running it, docs/paperless-
check.md): which querysets leave out the rows of the users ``consumer`` and
``AnonymousUser``, and through which lookup. No Django needed.
"""

from __future__ import annotations

from snapexport.exportformat.sections import (
    AUDIT_LOG_SECTION,
    EXCLUDED_USERS,
    PAPERLESS_SECTIONS,
    SECTION_KEYS,
)

# manifest key -> the exporter's `.exclude(<lookup>__in=["consumer", "AnonymousUser"])`
EXPORTER_3_0_5_EXCLUSIONS = {
    "users": "username",
    "ui_settings": "user__username",
    "user_object_permissions": "user__username",
    "social_accounts": "user__username",
    "social_tokens": "account__user__username",
    "authenticators": "user__username",
}


def test_excluded_users_are_the_exporters() -> None:
    assert EXCLUDED_USERS == ("consumer", "AnonymousUser")


def test_every_exclusion_of_the_exporter_and_no_other() -> None:
    got = {s.key: s.exclude_users for s in PAPERLESS_SECTIONS if s.exclude_users}
    assert got == EXPORTER_3_0_5_EXCLUSIONS
    assert AUDIT_LOG_SECTION.exclude_users is None


def test_keys_and_order() -> None:
    keys = [s.key for s in PAPERLESS_SECTIONS] + [AUDIT_LOG_SECTION.key]
    assert keys == [
        "correspondents", "tags", "document_types", "storage_paths", "mail_accounts",
        "mail_rules", "saved_views", "saved_view_filter_rules", "groups", "users",
        "ui_settings", "content_types", "permissions", "user_object_permissions",
        "group_object_permissions", "workflow_triggers", "workflow_actions",
        "workflow_email_actions", "workflow_webhook_actions", "workflows", "custom_fields",
        "custom_field_instances", "app_configs", "notes", "documents", "share_links",
        "share_link_bundles", "social_accounts", "social_apps", "social_tokens",
        "authenticators", "log_entries",
    ]  # fmt: skip
    assert len(SECTION_KEYS) == len(keys)
