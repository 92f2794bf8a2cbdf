#!/usr/bin/env bash
# Install Debian's chromium for the browser tests (tests/test_web.py), unless it is there.
# Playwright's own browser download cannot work here; the tests launch this one by its path.
set -euo pipefail
if [ -x /usr/lib/chromium/chromium ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "installing chromium needs root: run 'apt-get install chromium' as root" >&2
    exit 1
  }
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  chromium fonts-dejavu-core >/dev/null
/usr/lib/chromium/chromium --version
