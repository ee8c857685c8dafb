#!/usr/bin/env bash
# Provides prometheus_client (the Prometheus project's Python client, from PyPI) in a
# venv: the metrics test (tests/tests/observability/metrics.rs) parses `GET /metrics`
# with its text-format parser. Prints where it is.
# Usage: eval "$(bash .ci/prometheus.sh)"   -> exports KEYWARDEN_PROMETHEUS_VENV
set -euo pipefail
venv="${KEYWARDEN_PROMETHEUS_VENV:-/tmp/keywarden-prometheus-venv}"
apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null) >&2
  fi
}
exec 9>"$venv.lock"
flock 9
if ! "$venv/bin/python" -c 'import prometheus_client.parser' >/dev/null 2>&1; then
  if ! /usr/bin/env python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    apt_install python3 python3-venv
  fi
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check 'prometheus_client==0.21.1' >&2
fi
echo "export KEYWARDEN_PROMETHEUS_VENV=$venv"
