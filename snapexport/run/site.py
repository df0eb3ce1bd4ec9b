"""The site a config file names, as a snapshot ``Source``."""

from __future__ import annotations

from typing import Any

from snapexport.configfile import Config


def site_source(config: Config) -> Any:
    """Boot the ``[site]`` of ``config`` (settings, pythonpath, profile, includes)."""
    from snapexport.source import connect_site

    site = config.section("site")
    profile = site.get("profile", "auto")
    chosen = None if profile == "auto" else profile
    options: dict[str, Any] = {}
    include, exclude = tuple(site.get("include", ())), tuple(site.get("exclude", ()))
    folders = tuple(site.get("extra_folders", ()))
    natural = bool(site.get("natural_keys", False))
    if chosen == "django" or include or exclude or folders or natural:
        options.update(include=include, exclude=exclude, extra_folders=folders)
        if natural:
            options.update(natural_foreign=True, natural_primary=True)
    paths = [config.resolve(site["pythonpath"])] if "pythonpath" in site else []
    return connect_site(site.get("settings"), paths, chosen, **options)
