#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on 127.0.0.1 for the test suite and prints its URL.
# Usage: eval "$(bash .ci/postgres.sh)"   -> exports KEYWARDEN_TEST_DATABASE_URL
set -euo pipefail
port="${KEYWARDEN_PG_PORT:-55439}"
bin=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bin="$d"; done
if [ -z "$bin" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2
    for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bin="$d"; done
  fi
fi
[ -n "$bin" ] || { echo "echo 'PostgreSQL is not installed; PostgreSQL tests will be skipped' >&2"; exit 0; }
data="${KEYWARDEN_PG_DIR:-/tmp/keywarden-pg-$port}"
run() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
if ! run "$bin/pg_ctl -D $data status" >/dev/null 2>&1; then
  rm -rf "$data"; mkdir -p "$data"
  [ "$(id -u)" = 0 ] && chown postgres "$data"
  run "$bin/initdb -D $data -U postgres --auth=trust" >/dev/null
  run "$bin/pg_ctl -D $data -l $data/log -o '-c listen_addresses=127.0.0.1 -p $port -k $data -c max_connections=300 -c fsync=off' -w start" >/dev/null
fi
run "$bin/psql -h 127.0.0.1 -p $port -U postgres -tc \"SELECT 1 FROM pg_database WHERE datname='keywarden_test'\"" | grep -q 1 \
  || run "$bin/createdb -h 127.0.0.1 -p $port -U postgres keywarden_test"
echo "export KEYWARDEN_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/keywarden_test"
