#!/usr/bin/env bash
# Set up, ingest the sample photos into ./facelens-data, search with another photo, then make
# the first accounts (keys printed once) and serve the web interface on http://127.0.0.1:8000/
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/facelens demo --serve "$@"
