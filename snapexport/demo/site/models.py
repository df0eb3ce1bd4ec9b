"""Models mirroring the export-relevant parts of paperless-ngx 3.x.

Model names, field names, field order and ``Meta.ordering`` follow the records of a real
paperless-ngx 3.0.5 export, so the demo's records have the same shapes. Tags nest through
``tn_parent`` (paperless's tree-node field name); the other ``tn_*`` cache fields are left
out. Written from the export's record shapes, not from paperless's code.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class SoftDeleteManager(models.Manager["Any"]):
    """The default manager of soft-deletable models: hides trashed rows."""

    def get_queryset(self) -> models.QuerySet[Any]:
        return super().get_queryset().filter(deleted_at__isnull=True)


class SoftDeleteModel(models.Model):
    """Trash support: ``objects`` hides trashed rows, ``global_objects`` sees all."""

    deleted_at = models.DateTimeField(blank=True, null=True)
    restored_at = models.DateTimeField(blank=True, null=True)
    transaction_id = models.UUIDField(blank=True, null=True)

    objects = SoftDeleteManager()
    global_objects = models.Manager()

    class Meta:
        abstract = True


class TreeNode(models.Model):
    # Defined before ModelWithOwner: paperless's tag records list tn_* fields first.
    """Tag nesting under paperless's tree-node field name (the ``tn_*`` caches are left out)."""

    tn_parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="tn_children"
    )

    class Meta:
        abstract = True


class ModelWithOwner(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, blank=True, null=True, on_delete=models.SET_NULL
    )

    class Meta:
        abstract = True


class MatchingModel(ModelWithOwner):
    name = models.CharField(max_length=128)
    match = models.CharField(max_length=256, blank=True)
    matching_algorithm = models.PositiveIntegerField(default=1)
    is_insensitive = models.BooleanField(default=True)

    class Meta:
        abstract = True
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Correspondent(MatchingModel):
    class Meta(MatchingModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["name", "owner"], name="documents_correspondent_unique")
        ]


class Tag(TreeNode, MatchingModel):
    color = models.CharField(max_length=7, default="#a6cee3")
    is_inbox_tag = models.BooleanField(default=False)

    class Meta(MatchingModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["name", "owner"], name="documents_tag_unique")
        ]


class DocumentType(MatchingModel):
    class Meta(MatchingModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["name", "owner"], name="documents_documenttype_unique")
        ]


class StoragePath(MatchingModel):
    path = models.TextField()

    class Meta(MatchingModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["name", "owner"], name="documents_storagepath_unique")
        ]


class Document(SoftDeleteModel, ModelWithOwner):
    correspondent = models.ForeignKey(
        Correspondent, blank=True, null=True, related_name="documents", on_delete=models.SET_NULL
    )
    storage_path = models.ForeignKey(
        StoragePath, blank=True, null=True, related_name="documents", on_delete=models.SET_NULL
    )
    title = models.CharField(max_length=128, blank=True, db_index=True)
    document_type = models.ForeignKey(
        DocumentType, blank=True, null=True, related_name="documents", on_delete=models.SET_NULL
    )
    content = models.TextField(blank=True)
    # Not part of the export (paperless computes it): serialize=False keeps it out.
    content_length = models.PositiveIntegerField(default=0, editable=False, serialize=False)
    mime_type = models.CharField(max_length=256, editable=False)
    checksum = models.CharField(max_length=64, editable=False)
    archive_checksum = models.CharField(max_length=64, editable=False, blank=True, null=True)
    page_count = models.PositiveIntegerField(blank=True, null=True)
    created = models.DateField(db_index=True)
    modified = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    added = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    filename = models.FilePathField(
        max_length=1024, editable=False, default=None, unique=True, null=True
    )
    archive_filename = models.FilePathField(
        max_length=1024, editable=False, default=None, unique=True, null=True
    )
    original_filename = models.CharField(max_length=1024, editable=False, default=None, null=True)
    archive_serial_number = models.PositiveIntegerField(blank=True, null=True, unique=True)
    root_document = models.ForeignKey(
        "self", blank=True, null=True, related_name="versions", on_delete=models.CASCADE
    )
    version_index = models.PositiveIntegerField(blank=True, null=True)
    version_label = models.CharField(max_length=64, blank=True, null=True)
    tags = models.ManyToManyField(Tag, related_name="documents", blank=True)

    class Meta:
        ordering = ("-created",)

    def __str__(self) -> str:
        parts = [self.created.isoformat()]
        if self.correspondent_id:
            parts.append(str(self.correspondent))
        if self.title:
            parts.append(self.title)
        return " ".join(parts)


class SavedView(ModelWithOwner):
    name = models.CharField(max_length=128)
    sort_field = models.CharField(max_length=128, null=True, blank=True)
    sort_reverse = models.BooleanField(default=False)
    page_size = models.PositiveIntegerField(null=True, blank=True)
    display_mode = models.CharField(max_length=128, null=True, blank=True)
    display_fields = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("name",)


class SavedViewFilterRule(models.Model):
    saved_view = models.ForeignKey(SavedView, on_delete=models.CASCADE, related_name="filter_rules")
    rule_type = models.PositiveIntegerField()
    value = models.CharField(max_length=255, blank=True, null=True)


class UiSettings(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ui_settings"
    )
    settings = models.JSONField(null=True)


class CustomField(models.Model):
    class FieldDataType(models.TextChoices):
        STRING = "string"
        URL = "url"
        DATE = "date"
        BOOL = "boolean"
        INT = "integer"
        FLOAT = "float"
        MONETARY = "monetary"
        DOCUMENTLINK = "documentlink"
        SELECT = "select"
        LONG_TEXT = "longtext"

    created = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    name = models.CharField(max_length=128)
    data_type = models.CharField(max_length=50, choices=FieldDataType.choices, editable=False)
    extra_data = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("created",)
        constraints = [
            models.UniqueConstraint(fields=["name"], name="documents_customfield_unique")
        ]


class CustomFieldInstance(SoftDeleteModel):
    created = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="custom_fields", editable=False
    )
    field = models.ForeignKey(
        CustomField, on_delete=models.CASCADE, related_name="fields", editable=False
    )
    value_text = models.CharField(max_length=128, null=True)
    value_bool = models.BooleanField(null=True)
    value_url = models.URLField(null=True)
    value_date = models.DateField(null=True)
    value_int = models.IntegerField(null=True)
    value_float = models.FloatField(null=True)
    value_monetary = models.CharField(null=True, max_length=128)
    value_monetary_amount = models.DecimalField(
        null=True, max_digits=65, decimal_places=2, editable=False
    )
    value_document_ids = models.JSONField(null=True)
    value_select = models.CharField(null=True, max_length=16)
    value_long_text = models.TextField(null=True)

    class Meta:
        ordering = ("created",)
        constraints = [
            models.UniqueConstraint(
                fields=["document", "field"], name="documents_customfieldinstance_unique"
            )
        ]


class Note(SoftDeleteModel):
    note = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    document = models.ForeignKey(
        Document, blank=True, null=True, related_name="notes", on_delete=models.CASCADE
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        blank=True,
        null=True,
        related_name="notes",
        on_delete=models.SET_NULL,
    )

    class Meta:
        ordering = ("created",)


class ShareLink(SoftDeleteModel):
    created = models.DateTimeField(default=timezone.now, db_index=True, blank=True, editable=False)
    expiration = models.DateTimeField(blank=True, null=True, db_index=True)
    slug = models.SlugField(db_index=True, unique=True, blank=True, editable=False)
    document = models.ForeignKey(
        Document, blank=True, related_name="share_links", on_delete=models.CASCADE
    )
    file_version = models.CharField(max_length=50, default="archive")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        blank=True,
        null=True,
        related_name="share_links",
        on_delete=models.SET_NULL,
    )

    class Meta:
        ordering = ("created",)


class ShareLinkBundle(models.Model):
    created = models.DateTimeField(default=timezone.now, db_index=True, blank=True, editable=False)
    expiration = models.DateTimeField(blank=True, null=True, db_index=True)
    slug = models.SlugField(db_index=True, unique=True, blank=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        blank=True,
        null=True,
        related_name="share_link_bundles",
        on_delete=models.SET_NULL,
    )
    file_version = models.CharField(max_length=50, default="archive")
    status = models.CharField(max_length=50, default="pending")
    size_bytes = models.PositiveIntegerField(blank=True, null=True)
    last_error = models.TextField(blank=True, null=True)
    file_path = models.CharField(max_length=512, blank=True)
    built_at = models.DateTimeField(null=True, blank=True)
    documents = models.ManyToManyField(Document, related_name="share_link_bundles")

    class Meta:
        ordering = ("-created",)
