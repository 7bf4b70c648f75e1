#!/usr/bin/env bash
# Regenerate requirements.lock from pyproject.toml (runtime deps + the test extra), with hashes.
#
#   scripts/lock.sh                    # after editing pyproject.toml: keeps every pin it can, adds what is new
#   scripts/lock.sh --upgrade          # move everything to the newest versions pyproject.toml allows
#   scripts/lock.sh --upgrade-package pydantic   # move one package
#
# Then reinstall (see docs/operations.md, "Dependencies"), run the tests and
# `python -m app.openapi_export` (a new pydantic or FastAPI may render the schema differently),
# and commit requirements.lock together with pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
    python -m pip install --quiet 'uv>=0.5' < /dev/null
fi
# --universal: one lock for every platform and Python >= 3.11 (markers, e.g. uvloop off Windows);
# only PyPI is consulted (uv reads no pip.conf), so the lock never names a local index.
uv pip compile pyproject.toml \
    --extra test \
    --universal \
    --python-version 3.11 \
    --generate-hashes \
    --no-emit-index-url \
    --custom-compile-command 'scripts/lock.sh' \
    --output-file requirements.lock \
    "$@"
