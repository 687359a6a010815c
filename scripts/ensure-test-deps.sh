#!/usr/bin/env bash
# Installs the Debian packages the tests drive for real (TESTING.md), only when missing.
# Runs before any network namespace is entered, since apt needs the network.
set -euo pipefail

declare -A need=(
  [chromium]=chromium
  [turnserver]=coturn
  [slapd]=slapd
  [ldapsearch]=ldap-utils
  [redis-server]=redis-server
)
# Binaries outside root's PATH on some images.
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

# PostgreSQL's server binaries are not on PATH: checked where Debian puts them.
pg_initdb=/usr/lib/postgresql/15/bin/initdb

missing=()
for bin in "${!need[@]}"; do
  have "$bin" || missing+=("${need[$bin]}")
done
[ -x "$pg_initdb" ] || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "test deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "test deps: missing ${missing[*]} and not root; install them with apt-get" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# slapd asks no questions when noninteractive; it is only used as a throwaway server by tests.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for bin in "${!need[@]}"; do
  have "$bin" || { echo "test deps: $bin still missing after install" >&2; exit 1; }
done
[ -x "$pg_initdb" ] || { echo "test deps: $pg_initdb still missing after install" >&2; exit 1; }
