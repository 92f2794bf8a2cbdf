#!/usr/bin/env bash
# Set up, then ingest the sample photos into ./facelens-data and search with another photo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/facelens demo "$@"
