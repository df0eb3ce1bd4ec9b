#!/usr/bin/env bash
# Create (or update) a virtual environment with snapexport and its test tools installed.
# Usage: bash tools/dev-setup.sh [VENV_DIR]   (default: .venv)
set -euo pipefail
venv="${1:-.venv}"
cd "$(dirname "$0")/.."
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e ".[test]"
