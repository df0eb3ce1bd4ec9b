"""``manage.py snapexport ...``: the snapexport command line, run inside the site.

Everything after ``snapexport`` goes unchanged to the click CLI (``snapexport.cli:main``);
the site's settings module is already set, so ``snapshot`` finds the site without
``--settings``.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

# Django's own global options: ManagementUtility has already applied them (the settings
# module is set, the path extended) but still leaves them in argv.
_DJANGO_OPTIONS = ("--settings", "--pythonpath")


def strip_django_options(args: list[str]) -> list[str]:
    """``args`` without ``--settings X``, ``--pythonpath=X`` and the like."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in _DJANGO_OPTIONS:
            skip = True
            continue
        if arg.startswith(tuple(f"{option}=" for option in _DJANGO_OPTIONS)):
            continue
        out.append(arg)
    return out


class Command(BaseCommand):
    help = "Run snapexport inside this site (arguments as for the snapexport command)."

    def run_from_argv(self, argv: list[str]) -> None:
        # argv: [manage.py, 'snapexport', ...]; Django's own option parsing is bypassed
        # so that every snapexport option and --help reach click untouched.
        from snapexport.cli import main

        try:
            main.main(
                args=strip_django_options(argv[2:]),
                prog_name=f"{argv[0]} snapexport",
                standalone_mode=True,
            )
        except SystemExit as done:
            if done.code not in (0, None):
                sys.exit(done.code)

    def handle(self, *args: Any, **options: Any) -> None:
        # Reached through call_command(): forward positional arguments the same way.
        from snapexport.cli import main

        try:
            main.main(args=list(args), prog_name="snapexport", standalone_mode=True)
        except SystemExit as done:
            if done.code not in (0, None):
                raise

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("args", nargs="*")
