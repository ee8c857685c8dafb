#!/usr/bin/env bash
# Provides moto's AWS server (`moto[server]` from PyPI, with boto3) in a venv for the
# AWS KMS tests and benchmark, and prints where it is.
# Usage: eval "$(bash .ci/moto.sh)"   -> exports KEYWARDEN_MOTO_VENV
# The tests start their own moto_server from that venv on a free 127.0.0.1 port. When
# libfaketime is installed (Debian's `libfaketime`, added here when run as root) they run
# moto under it, so a test can move moto's clock (e.g. keys created 40 days ago).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${KEYWARDEN_MOTO_VENV:-/tmp/keywarden-moto-venv}"
apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null) >&2
  fi
}
if [ "$(id -u)" = 0 ] && ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; then
  apt_install libfaketime || echo "libfaketime not installed; moto clock tests will be skipped" >&2
fi
exec 9>"$venv.lock"
flock 9
if ! "$venv/bin/python" -c 'import moto, boto3, flask' >/dev/null 2>&1; then
  if ! /usr/bin/env python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    apt_install python3 python3-venv
  fi
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -c "$here/moto-constraints.txt" \
    'moto[server]' boto3 >&2
fi
echo "export KEYWARDEN_MOTO_VENV=$venv"

