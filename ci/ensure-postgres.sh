#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, postgres) are installed, and, when running as
# root, that the unprivileged `postgres` user exists to run them. Installs Debian's server
# package when they are missing. Starts nothing: stroom starts its own throwaway clusters.
set -euo pipefail

have_binaries() {
  command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && return 0
  return 1
}

if ! have_binaries; then
  echo "ci: no PostgreSQL server binaries found; installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  echo "ci: creating the unprivileged 'postgres' user that runs throwaway clusters"
  useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi
