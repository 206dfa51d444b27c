#!/usr/bin/env bash
# Builds the Python extension into the project's venv (no-op until python/ exists).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f pyproject.toml ] || exit 0
.venv/bin/python -m pip install -q --no-build-isolation --disable-pip-version-check \
    -Cbuild-dir=build/py . >/dev/null
