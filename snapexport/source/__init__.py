"""The only Django-aware code: reading a site's records and files for a snapshot.

Importing this package imports no Django; ``connect_site`` boots the site's Django and
returns the profile's ``Source`` (see ``base.py`` for the contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from snapexport.source.base import Source
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
    from snapexport.errors import RequestError
    from snapexport.source.bootstrap import boot, detect_profile

    if profile is not None and profile not in PROFILES:
        raise RequestError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
    boot(settings, pythonpath)
    chosen = profile or detect_profile()
    if chosen == "paperless":
        from snapexport.source.paperless import PaperlessSource

        return PaperlessSource(**options)
    from snapexport.source.django import DjangoSource

    return DjangoSource(**options)


@dataclass(frozen=True, slots=True)
class SourceRequest:
    """Which source ``snapexport snapshot`` reads: a live site, or an export on disk."""

    settings: str | None = None
    pythonpath: str | None = None
    profile: str = "auto"  # 'auto' | 'paperless' | 'django'
    include: tuple[str, ...] = ()  # django profile: app or app.Model
    exclude: tuple[str, ...] = ()
    natural_keys: bool = False
    extra_folders: tuple[str, ...] = ()
    batch_size: int = 500
    db_timeout: float = 600.0  # seconds a table may stay locked (--db-timeout)
    from_export: Path | None = None  # an export (folder or zip) instead of a live site
    passphrase: str | None = None  # with from_export: the export's passphrase


def open_source(request: SourceRequest) -> Source:
    """The ``Source`` a request names (booting the site's Django for a live site).

    Any django-profile option (include, exclude, extra folders, natural keys) implies that
    profile's options even when the profile is detected.
    """
    if request.from_export is not None:
        from snapexport.source.export import ExportSource

        return ExportSource(request.from_export, passphrase=request.passphrase)
    chosen = None if request.profile == "auto" else request.profile
    options: dict[str, Any] = {"batch_size": request.batch_size, "db_timeout": request.db_timeout}
    r = request
    if chosen == "django" or r.include or r.exclude or r.extra_folders or r.natural_keys:
        options.update(include=r.include, exclude=r.exclude, extra_folders=r.extra_folders)
        if r.natural_keys:
            options.update(natural_foreign=True, natural_primary=True)
    return connect_site(r.settings, [r.pythonpath] if r.pythonpath else [], chosen, **options)
