#!/usr/bin/env bash
# Install PostgreSQL's server binaries (Debian's postgresql-15, or the release's default
# postgresql where 15 is not packaged) unless they are there. The store tests start a
# throwaway server of their own from them (tests/postgres_server.py: initdb into a temporary
# folder, a free 127.0.0.1 port); no cluster or service of the package is used or started.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/root.sh"
have_postgres() {
  [ -n "${FACELENS_PG_BIN:-}" ] && [ -x "$FACELENS_PG_BIN/initdb" ] && return 0
  for bin in /usr/lib/postgresql/*/bin; do
    [ -x "$bin/initdb" ] && [ -x "$bin/postgres" ] && return 0
  done
  return 1
}
if ! have_postgres; then
  need_root postgresql-15
  $sudo apt-get update -qq
  package=postgresql-15
  apt-cache show "$package" >/dev/null 2>&1 || package=postgresql
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "$package" >/dev/null
  # The package makes (and may start) a "main" cluster of its own; the tests never use it,
  # and nothing is left running: the cluster this install just made is stopped and dropped.
  if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters --no-header 2>/dev/null | while read -r version name _; do
      $sudo pg_dropcluster --stop "$version" "$name" || true
    done
  fi
  have_postgres || {
    echo "PostgreSQL was installed, but no initdb is under /usr/lib/postgresql" >&2
    exit 1
  }
fi
for bin in /usr/lib/postgresql/*/bin; do
  [ -x "$bin/postgres" ] && "$bin/postgres" --version && break
done
