"""Django app config: lets a site add ``"snapexport"`` to INSTALLED_APPS.

Deliberately empty: no models, no signals, no imports beyond Django's AppConfig, so that
adding the app costs a site nothing but the ``manage.py snapexport`` command.
"""

from __future__ import annotations

from django.apps import AppConfig


class SnapexportConfig(AppConfig):
    name = "snapexport"
    verbose_name = "snapexport"
