"""The paperless-ngx exporter's manifest sections, in its query order (no Django here).

Each entry names the manifest key the exporter uses, the model label of its records, the
manager the exporter reads through, and the order it asks for (``None``: the model's own
``Meta.ordering``). A site that lacks a model (no mail app, no allauth, no guardian, no
auditlog) simply has no such section.
"""

from __future__ import annotations

from dataclasses import dataclass

from snapexport.exportformat import labels


@dataclass(frozen=True, slots=True)
class PaperlessSection:
    key: str  # the exporter's manifest key
    label: str  # 'app_label.modelname'
    manager: str = "objects"
    order_by: tuple[str, ...] | None = None  # None: Meta.ordering
    # The lookup to a username: rows whose user is 'consumer' or 'AnonymousUser' are left
    # out, as the exporter leaves them out (users, their UI settings, object permissions,
    # social accounts and tokens, MFA authenticators).
    exclude_users: str | None = None


PAPERLESS_SECTIONS: tuple[PaperlessSection, ...] = (
    PaperlessSection("correspondents", labels.CORRESPONDENT),
    PaperlessSection("tags", "documents.tag"),
    PaperlessSection("document_types", "documents.documenttype"),
    PaperlessSection("storage_paths", "documents.storagepath"),
    PaperlessSection("mail_accounts", labels.MAIL_ACCOUNT),
    PaperlessSection("mail_rules", "paperless_mail.mailrule"),
    PaperlessSection("saved_views", "documents.savedview"),
    PaperlessSection("saved_view_filter_rules", "documents.savedviewfilterrule"),
    PaperlessSection("groups", "auth.group"),
    PaperlessSection("users", "auth.user", exclude_users="username"),
    PaperlessSection("ui_settings", "documents.uisettings", exclude_users="user__username"),
    PaperlessSection("content_types", "contenttypes.contenttype"),
    PaperlessSection("permissions", "auth.permission"),
    PaperlessSection(
        "user_object_permissions", "guardian.userobjectpermission", exclude_users="user__username"
    ),
    PaperlessSection("group_object_permissions", "guardian.groupobjectpermission"),
    PaperlessSection("workflow_triggers", "documents.workflowtrigger"),
    PaperlessSection("workflow_actions", "documents.workflowaction"),
    PaperlessSection("workflow_email_actions", "documents.workflowactionemail"),
    PaperlessSection("workflow_webhook_actions", "documents.workflowactionwebhook"),
    PaperlessSection("workflows", "documents.workflow"),
    PaperlessSection("custom_fields", "documents.customfield"),
    PaperlessSection(
        "custom_field_instances", labels.CUSTOM_FIELD_INSTANCE, manager="global_objects"
    ),
    PaperlessSection("app_configs", "paperless.applicationconfiguration"),
    PaperlessSection("notes", labels.NOTE, manager="global_objects"),
    PaperlessSection("documents", labels.DOCUMENT, manager="global_objects", order_by=("id",)),
    PaperlessSection("share_links", "documents.sharelink", manager="global_objects"),
    PaperlessSection("share_link_bundles", labels.BUNDLE, order_by=("id",)),
    PaperlessSection(
        "social_accounts", "socialaccount.socialaccount", exclude_users="user__username"
    ),
    PaperlessSection("social_apps", "socialaccount.socialapp"),
    PaperlessSection("social_tokens", labels.SOCIAL_TOKEN, exclude_users="account__user__username"),
    PaperlessSection("authenticators", "mfa.authenticator", exclude_users="user__username"),
)

# Users whose rows the exporter leaves out (through each section's ``exclude_users``).
EXCLUDED_USERS: tuple[str, ...] = ("consumer", "AnonymousUser")

# Only when the site's AUDIT_LOG_ENABLED is true (paperless's default).
AUDIT_LOG_SECTION = PaperlessSection("log_entries", labels.AUDIT_LOG_ENTRY)

SECTION_KEYS: dict[str, str] = {
    section.label: section.key for section in (*PAPERLESS_SECTIONS, AUDIT_LOG_SECTION)
}

# Every label in the exporter's query order, the audit log last.
QUERY_ORDER: tuple[str, ...] = tuple(SECTION_KEYS)
