#!/usr/bin/env bash
# Provides LocalStack's KMS (`localstack-core` from PyPI, with boto3) in a venv, for the
# AWS KMS tests of imported key material, and prints where it is.
# Usage: eval "$(bash .ci/localstack.sh)"   -> exports KEYWARDEN_LOCALSTACK_VENV
# The tests start `python -m localstack.runtime.main` from that venv themselves, on a free
# 127.0.0.1 port, with SERVICES=kms (no Docker involved).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${KEYWARDEN_LOCALSTACK_VENV:-/tmp/keywarden-localstack-venv}"
exec 9>"$venv.lock"
flock 9
probe='import boto3, localstack.aws.components, localstack.services.kms.provider'
if ! "$venv/bin/python" -c "$probe" >/dev/null 2>&1; then
  if ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null) >&2
    fi
  fi
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -c "$here/localstack-constraints.txt" \
    'localstack-core[runtime]' boto3 cbor2 pyopenssl cryptography service_identity psutil joserfc >&2
  "$venv/bin/python" -c "$probe" >&2
fi
echo "export KEYWARDEN_LOCALSTACK_VENV=$venv"
