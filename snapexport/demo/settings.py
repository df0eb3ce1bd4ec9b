"""Settings of the bundled demo site; its folder comes from ``SNAPEXPORT_DEMO_DIR``.

The folder holds ``media/`` (paperless's layout below it: ``documents/originals``,
``documents/archive``, ``documents/thumbnails``, ``documents/share_link_bundles``) and the
database: ``db.sqlite3``, or the server database named by the URL in ``database.url``
(written by ``snapexport demo --database URL``; ``SNAPEXPORT_DEMO_DATABASE`` overrides it).
"""

from __future__ import annotations

import os
from pathlib import Path

from snapexport.demo.database import database_settings, use_pymysql_if_needed

DEMO_DIR = Path(os.environ.get("SNAPEXPORT_DEMO_DIR", "demo-site")).resolve()

SECRET_KEY = "snapexport-demo-site-not-a-secret"
DEBUG = False
ALLOWED_HOSTS: list[str] = []

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "snapexport.demo.site",
]
# As paperless-ngx does: PAPERLESS_APPS (comma-separated) adds apps, e.g. PAPERLESS_APPS=
# snapexport makes `manage.py snapexport ...` (here `python -m django snapexport ...`) work.
INSTALLED_APPS += [
    app.strip()
    for app in os.environ.get("PAPERLESS_APPS", "").split(",")
    if app.strip() and app.strip() not in INSTALLED_APPS
]

DATABASE_URL_FILE = DEMO_DIR / "database.url"
DATABASE_URL = os.environ.get("SNAPEXPORT_DEMO_DATABASE") or (
    DATABASE_URL_FILE.read_text().strip() if DATABASE_URL_FILE.is_file() else ""
)
DATABASES = {
    "default": database_settings(DATABASE_URL)
    if DATABASE_URL
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DEMO_DIR / "db.sqlite3")}
}
use_pymysql_if_needed(DATABASES)
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

TIME_ZONE = "UTC"
USE_TZ = True
USE_I18N = False

MEDIA_ROOT = DEMO_DIR / "media"
MEDIA_LOCK = MEDIA_ROOT / "media.lock"
ORIGINALS_DIR = MEDIA_ROOT / "documents" / "originals"
ARCHIVE_DIR = MEDIA_ROOT / "documents" / "archive"
THUMBNAIL_DIR = MEDIA_ROOT / "documents" / "thumbnails"
SHARE_LINK_BUNDLE_DIR = MEDIA_ROOT / "documents" / "share_link_bundles"

# Paperless's names for the two settings the export depends on.
FILENAME_FORMAT: str | None = os.environ.get("SNAPEXPORT_DEMO_FILENAME_FORMAT") or None
AUDIT_LOG_ENABLED = False

# The demo hashes no real passwords; a fast hasher keeps generation quick.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
