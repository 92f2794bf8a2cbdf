#!/usr/bin/env bash
# Set up for the benchmarks under bench/: the project (scripts/setup.sh), the "bench" extra,
# and the face_recognition package as a baseline. It is installed without its dependencies:
# it asks for dlib's source distribution (a long C++ build), and dlib-bin already provides
# the same module, built.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
  face_recognition==1.3.0
.venv/bin/python -c 'import face_recognition, psutil, scipy, sklearn'
echo "benchmark tools installed in .venv"
