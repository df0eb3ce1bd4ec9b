"""Settings of the test project; its folder comes from ``TESTPROJECT_DIR``."""

from __future__ import annotations

import os
from pathlib import Path

BASE = Path(os.environ.get("TESTPROJECT_DIR", "testproject-data")).resolve()

SECRET_KEY = "testproject-not-secret"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "testproject.shelf",
    "snapexport",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(BASE / "db.sqlite3")}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TIME_ZONE = "Europe/Berlin"
USE_TZ = True
MEDIA_ROOT = BASE / "media"
# A second storage outside MEDIA_ROOT, for fields that live elsewhere.
SCANS_ROOT = BASE / "scans"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
