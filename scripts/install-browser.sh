#!/usr/bin/env bash
# Install what the browser tests (tests/web) need, unless it is there: Debian's chromium
# (Playwright's own browser download cannot work here; the tests launch this one by its
# path) and axe-core from the npm registry (pinned in package-lock.json), for the
# accessibility check run inside the tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/root.sh
if [ ! -x /usr/lib/chromium/chromium ] || ! command -v npm >/dev/null 2>&1; then
  need_root "chromium npm"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core npm >/dev/null
  /usr/lib/chromium/chromium --version
fi
if [ ! -f node_modules/axe-core/axe.min.js ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
