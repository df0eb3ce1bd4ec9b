"""The only Django-aware code: reading a site's records and files for a snapshot.

Importing this package imports no Django; ``connect_site`` boots the site's Django and
returns the profile's ``Source`` (see ``base.py`` for the contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from snapexport.source.django_site import SiteSource

PROFILES = ("paperless", "django")


def connect_site(
    settings: str | None = None,
    pythonpath: Sequence[str | Path] = (),
    profile: str | None = None,
    **options: Any,
) -> SiteSource:
    """Boot the site's Django (once per process) and return its ``Source``.

    ``profile`` None detects it (``paperless`` when the registry has
    ``documents.Document``). ``options`` go to ``PaperlessSource`` (``batch_size``,
    ``lock_timeout``, ``db_timeout``) or ``DjangoSource`` (``include``, ``exclude``,
    ``natural_foreign``,
    ``natural_primary``, ``include_contenttypes``, ``extra_folders``, ``folder_excludes``,
    ``batch_size``, ``db_timeout``, ...).
    """
    from snapexport.errors import UsageError
    from snapexport.source.bootstrap import boot, detect_profile

    if profile is not None and profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
    boot(settings, pythonpath)
    chosen = profile or detect_profile()
    if chosen == "paperless":
        from snapexport.source.paperless import PaperlessSource

        return PaperlessSource(**options)
    from snapexport.source.django import DjangoSource

    return DjangoSource(**options)
