#!/usr/bin/env bash
# Provides schemathesis (PyPI) in a venv for the OpenAPI contract test
# (tests/tests/contract.rs), and prints where it is.
# Usage: eval "$(bash .ci/schemathesis.sh)"   -> exports KEYWARDEN_SCHEMATHESIS_VENV
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${KEYWARDEN_SCHEMATHESIS_VENV:-/tmp/keywarden-schemathesis-venv}"
apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null) >&2
  fi
}
exec 9>"$venv.lock"
flock 9
if ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
  if ! /usr/bin/env python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    apt_install python3 python3-venv
  fi
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -c "$here/schemathesis-constraints.txt" \
    schemathesis >&2
fi
echo "export KEYWARDEN_SCHEMATHESIS_VENV=$venv"
