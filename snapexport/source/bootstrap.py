"""Booting a site's Django inside this process, and telling which profile it is.

Django can be set up once per process: ``boot`` refuses to switch a process that already
runs another settings module. Nothing here imports a site's optional apps; models are
looked up in the app registry, and a missing one is a missing section, not an error.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from snapexport.errors import SourceError

PAPERLESS = "paperless"
DJANGO = "django"


def boot(settings: str | None = None, pythonpath: Sequence[str | Path] = ()) -> str:
    """Set up Django for the site's settings module; return the module name.

    ``settings`` defaults to ``DJANGO_SETTINGS_MODULE``, else ``paperless.settings`` when
    the working folder holds ``paperless/settings.py`` (paperless-ngx's ``src/``, the
    official container's working folder). ``pythonpath`` folders are put first on
    ``sys.path`` (like ``manage.py --pythonpath``), and the working folder is on it as it
    is for ``manage.py`` run from there (last, so it never shadows an installed package).
    """
    for folder in reversed(pythonpath):
        path = str(Path(folder).resolve())
        if path not in sys.path:
            sys.path.insert(0, path)
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)
    module_name = settings or os.environ.get("DJANGO_SETTINGS_MODULE") or found_settings(cwd)
    if not module_name:
        raise SourceError(
            "no Django settings: pass --settings, set DJANGO_SETTINGS_MODULE,"
            " or run from the folder that holds manage.py"
        )

    from django.conf import settings as django_settings

    if django_settings.configured:
        running = os.environ.get("DJANGO_SETTINGS_MODULE")
        if running != module_name:
            raise SourceError(
                f"this process already runs Django with settings {running!r}, not {module_name!r}"
            )
        _setup()
        return module_name

    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise SourceError(
            f"settings module {module_name!r} is not importable: {_one_line(err)}"
        ) from err
    except Exception as err:
        raise SourceError(
            f"settings module {module_name!r} failed to import: {_one_line(err)}"
        ) from err
    if not hasattr(module, "INSTALLED_APPS") or not hasattr(module, "DATABASES"):
        raise SourceError(
            f"{module_name!r} is not a Django site: it defines no INSTALLED_APPS or DATABASES"
        )
    os.environ["DJANGO_SETTINGS_MODULE"] = module_name
    _setup()
    return module_name


def found_settings(folder: str | Path) -> str | None:
    """The settings module ``manage.py`` in ``folder`` would use, as far as it can be told
    without running it: ``paperless.settings`` when ``folder/paperless/settings.py`` exists."""
    if (Path(folder) / "paperless" / "settings.py").is_file():
        return "paperless.settings"
    return None


def _setup() -> None:
    import django
    from django.apps import apps
    from django.core.exceptions import ImproperlyConfigured

    if apps.ready:
        return
    try:
        django.setup()
    except ImproperlyConfigured as err:
        raise SourceError(f"not a usable Django site: {_one_line(err)}") from err
    except ImportError as err:
        raise SourceError(f"the site's apps could not be imported: {_one_line(err)}") from err


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def get_model(label: str) -> Any | None:
    """The model for ``'app_label.modelname'``, or None when the site lacks it."""
    from django.apps import apps

    app_label, _, model_name = label.partition(".")
    try:
        return apps.get_model(app_label, model_name)
    except LookupError:
        return None


def detect_profile() -> str:
    """``paperless`` when the registry has ``documents.Document``, else ``django``."""
    return PAPERLESS if get_model("documents.document") is not None else DJANGO
