"""bound_heap: fixes glibc's malloc thresholds on Linux; harmless elsewhere."""

from __future__ import annotations

import subprocess
import sys

import pytest

from snapexport.heap import bound_heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_applies_on_glibc_and_is_called_by_every_command() -> None:
    assert bound_heap() is True  # mallopt accepted the parameter
    # The CLI's group callback calls it: a command run with a patched bound_heap says so.
    code = (
        "import sys, snapexport.heap as h\n"
        "h.bound_heap = lambda: print('bound') or True\n"
        "from snapexport.cli import main\n"
        "sys.argv = ['snapexport', 'snapshots', '--help']\n"
        "main()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("bound"), out.stdout
