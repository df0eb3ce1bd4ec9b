"""App config: the demo app registers under paperless's app label ``documents``."""

from __future__ import annotations

from django.apps import AppConfig


class DemoDocumentsConfig(AppConfig):
    name = "snapexport.demo.site"
    label = "documents"
    verbose_name = "Demo documents"
    default_auto_field = "django.db.models.AutoField"
