#!/usr/bin/env bash
# Installs the command-line tools the test suite runs, when missing (root only):
# python3 (test HTTP servers, moto), openssl and keytool (Java) for the stores the
# certificate-store tests make and read back, and what building Keyfactor's reference
# C agent needs (gcc, make, OpenSSL and libcurl headers: tests/src/cagent.rs).
set -euo pipefail
missing=()
command -v python3 >/dev/null || missing+=(python3)
command -v openssl >/dev/null || missing+=(openssl)
command -v keytool >/dev/null || missing+=(default-jdk-headless)
command -v gcc >/dev/null || missing+=(gcc)
command -v make >/dev/null || missing+=(make)
[ -x /usr/sbin/sshd ] || command -v sshd >/dev/null || missing+=(openssh-server)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v age-keygen >/dev/null || missing+=(age)
command -v zstd >/dev/null || missing+=(zstd)
# C libraries: the Debian package installed, or pkg-config knowing the library
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
installed libssl-dev || pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
installed libcurl4-openssl-dev || pkg-config --exists libcurl 2>/dev/null || missing+=(libcurl4-openssl-dev)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) >&2
else
  echo "missing tools: ${missing[*]} (install them; the tests that need them will fail)" >&2
fi
