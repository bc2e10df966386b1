#!/usr/bin/env bash
# Installs the Debian 12 packages the suite needs to build, run and test.
# A fast no-op when everything is already there. Run as root to install;
# otherwise it prints the command to run and exits 1.
set -euo pipefail

PACKAGES=(
    build-essential clang clang-format valgrind pkg-config
    protobuf-c-compiler libprotobuf-c-dev libzmq3-dev libpq-dev postgresql-15
    libcurl4-openssl-dev libcsv-dev libmicrohttpd-dev libjansson-dev libutf8proc-dev
    libsodium-dev libxlsxwriter-dev libicu-dev libclang-rt-14-dev
    supervisor python3-aiosmtpd python3-zmq docker-compose curl jq wrk
    chromium chromium-driver
)

# Prints the packages among the arguments that are not fully installed
# ("ii"); absent, removed or half-configured ones all need work. One
# dpkg-query call: it lists the known ones and complains about the rest.
s_missing() {
    local -A ok=()
    local name status
    while read -r name status; do
        [[ $status == ii* ]] && ok[$name]=1
    done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null || true)
    for name in "$@"; do
        [[ -n ${ok[$name]:-} ]] || printf '%s\n' "$name"
    done
}

mapfile -t missing < <(s_missing "${PACKAGES[@]}")

if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "install-deps: missing Debian packages: ${missing[*]}" >&2
if ((EUID != 0)); then
    echo "install-deps: run as root:" >&2
    echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

# Check again: apt-get may succeed yet leave a package unconfigured.
mapfile -t still < <(s_missing "${missing[@]}")
if ((${#still[@]})); then
    echo "install-deps: still not installed: ${still[*]}" >&2
    exit 1
fi
echo "install-deps: installed ${missing[*]}"
