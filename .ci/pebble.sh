#!/usr/bin/env bash
# Starts (or reuses) a throwaway pebble ACME server on 127.0.0.1 for the test suite and
# prints where it is.
# Usage: eval "$(bash .ci/pebble.sh)"   -> exports KEYWARDEN_TEST_PEBBLE_DIRECTORY (ACME
#   directory URL), KEYWARDEN_TEST_PEBBLE_CA_FILE (the CA of pebble's own HTTPS listeners)
#   and KEYWARDEN_TEST_PEBBLE_ROOTS_URL (management URL of the root pebble issues under;
#   pebble makes a new one at every start).
# Ports: KEYWARDEN_PEBBLE_PORT (ACME, default 14000), KEYWARDEN_PEBBLE_MGMT_PORT (default
# 15000), KEYWARDEN_PEBBLE_HTTP_PORT (where its VA would look for http-01 answers, 5002).
# Challenges always validate (PEBBLE_VA_ALWAYS_VALID=1). Pebble's default rejection of 5% of
# valid nonces stays ON, so ACME clients must handle badNonce; KEYWARDEN_PEBBLE_NONCEREJECT
# sets another percentage.
set -euo pipefail
port="${KEYWARDEN_PEBBLE_PORT:-14000}"
mgmt="${KEYWARDEN_PEBBLE_MGMT_PORT:-15000}"
http="${KEYWARDEN_PEBBLE_HTTP_PORT:-5002}"
if ! command -v pebble >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pebble openssl >/dev/null) >&2
  fi
fi
command -v pebble >/dev/null || { echo "echo 'pebble is not installed; ACME tests will be skipped' >&2"; exit 0; }
dir="${KEYWARDEN_PEBBLE_DIR:-/tmp/keywarden-pebble-$port}"
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
running() { [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null && listening "$port"; }
if ! running; then
  rm -rf "$dir"; mkdir -p "$dir"
  # pebble's own TLS listeners: a leaf for 127.0.0.1 and localhost under a throwaway CA
  # that clients trust through KEYWARDEN_TEST_PEBBLE_CA_FILE (a self-signed CA certificate
  # used directly as the server's would be refused by webpki-based clients).
  ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 "${ec[@]}" -days 3650 -subj "/CN=keywarden test pebble listener CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" 2>/dev/null
  openssl req -new "${ec[@]}" -subj "/CN=127.0.0.1" -keyout "$dir/key.pem" -out "$dir/cert.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >"$dir/ext"
  openssl x509 -req -in "$dir/cert.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial \
    -days 3650 -extfile "$dir/ext" -out "$dir/cert.pem" 2>/dev/null
  example=/usr/share/doc/pebble/examples/pebble-config.json
  [ -f "$example" ] || example="$example.gz"
  zcat -f "$example" | sed \
    -e "s|\"listenAddress\": *\"[^\"]*\"|\"listenAddress\": \"127.0.0.1:$port\"|" \
    -e "s|\"managementListenAddress\": *\"[^\"]*\"|\"managementListenAddress\": \"127.0.0.1:$mgmt\"|" \
    -e "s|\"certificate\": *\"[^\"]*\"|\"certificate\": \"$dir/cert.pem\"|" \
    -e "s|\"privateKey\": *\"[^\"]*\"|\"privateKey\": \"$dir/key.pem\"|" \
    -e "s|\"httpPort\": *[0-9]*|\"httpPort\": $http|" >"$dir/config.json"
  grep -q "127.0.0.1:$port" "$dir/config.json" || { echo "cannot write pebble's config from $example" >&2; exit 1; }
  nonce=()
  [ -n "${KEYWARDEN_PEBBLE_NONCEREJECT:-}" ] && nonce=(PEBBLE_WFE_NONCEREJECT="$KEYWARDEN_PEBBLE_NONCEREJECT")
  # In its own session (a Ctrl-C of the caller does not stop it); the shell writes its pid
  # and becomes pebble. Every descriptor of the background job is redirected: one left on
  # this script's stdout would keep a caller's "$(bash .ci/pebble.sh)" waiting forever.
  (cd "$dir" && exec env PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1 "${nonce[@]}" \
    setsid sh -c 'echo $$ >pid; exec pebble -config config.json') >"$dir/log" 2>&1 </dev/null &
  for _ in $(seq 100); do listening "$port" && listening "$mgmt" && break; sleep 0.1; done
  running || { echo "pebble did not start; its log:" >&2; cat "$dir/log" >&2; exit 1; }
fi
echo "export KEYWARDEN_TEST_PEBBLE_DIRECTORY=https://127.0.0.1:$port/dir"
echo "export KEYWARDEN_TEST_PEBBLE_CA_FILE=$dir/ca.pem"
echo "export KEYWARDEN_TEST_PEBBLE_ROOTS_URL=https://127.0.0.1:$mgmt/roots/0"
