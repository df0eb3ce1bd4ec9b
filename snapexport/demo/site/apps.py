"""App config: the demo app registers under paperless's app label ``documents``.

It also declares, for snapexport's paperless profile (``source/paperless.py``), the two
things in which the demo differs from paperless-ngx: where its ``generate_filename`` lives
and which version string its exports carry.
"""

from __future__ import annotations

from django.apps import AppConfig


class DemoDocumentsConfig(AppConfig):
    name = "snapexport.demo.site"
    label = "documents"
    verbose_name = "Demo documents"
    default_auto_field = "django.db.models.AutoField"
    snapexport_generate_filename = "snapexport.demo.site.naming.generate_filename"
    snapexport_site_version = "3.0.5-demo"
