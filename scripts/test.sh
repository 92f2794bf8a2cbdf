#!/usr/bin/env bash
# Set up (with Debian's chromium for the browser tests, and PostgreSQL's binaries for the
# store tests on PostgreSQL), then lint, type-check and run the whole test suite. "No tests
# collected" fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/install-browser.sh
bash scripts/install-postgres.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy facelens bench tests
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$status"
