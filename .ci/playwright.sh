#!/usr/bin/env bash
# Provides Playwright for Python (PyPI) in a venv and Debian's chromium for the dashboard's
# browser tests (tests/tests/dashboard.rs, tests/benches/dashboard.rs), and prints where
# they are. Playwright drives the system chromium (`executable_path`), so no browser is
# downloaded from Playwright's CDN.
# Usage: eval "$(bash .ci/playwright.sh)"
#   -> exports KEYWARDEN_PLAYWRIGHT_VENV and KEYWARDEN_CHROMIUM
set -euo pipefail
venv="${KEYWARDEN_PLAYWRIGHT_VENV:-/tmp/keywarden-playwright-venv}"
apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null) >&2
  fi
}
exec 9>"$venv.lock"
flock 9
chromium="${KEYWARDEN_CHROMIUM:-$(command -v chromium || true)}"
if [ -z "$chromium" ]; then
  apt_install chromium
  chromium="$(command -v chromium || true)"
fi
if [ -z "$chromium" ]; then
  echo "playwright.sh: no chromium (apt-get install chromium as root)" >&2
  exit 1
fi
if ! "$venv/bin/python" -c 'import playwright.sync_api' >/dev/null 2>&1; then
  if ! /usr/bin/env python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    apt_install python3 python3-venv
  fi
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check playwright >&2
fi
echo "export KEYWARDEN_PLAYWRIGHT_VENV=$venv"
echo "export KEYWARDEN_CHROMIUM=$chromium"
