"""Drive the test project from a subprocess: ``python -m testproject.sitectl CMD FOLDER``.

``create`` migrates and fills it (the same data check_source uses), ``migrate`` makes an
empty database, ``dump`` prints dumpdata of the project's models (natural keys, as the
generic profile stores them), ``load FILE`` runs loaddata.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(command: str, folder: Path, *rest: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["TESTPROJECT_DIR"] = str(folder.resolve())
    os.environ["DJANGO_SETTINGS_MODULE"] = "testproject.settings"
    import django

    django.setup()
    from django.core.management import call_command

    if command in ("create", "migrate"):
        call_command("migrate", verbosity=0)
    if command == "create":
        from testproject.check_source import populate

        populate(folder.resolve())
    elif command == "dump":
        call_command(
            "dumpdata", "auth.user", "auth.group", "shelf", indent=2,
            use_natural_foreign_keys=True,
        )  # fmt: skip
    elif command == "load":
        call_command("loaddata", rest[0], verbosity=0)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), *sys.argv[3:])
