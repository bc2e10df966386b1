#!/usr/bin/env bash
# Installs the Debian 12 packages the suite needs to build, run and test, then
# the npm packages the tests use (tests/lint: the OpenAPI and web UI linters, at the
# versions of its package-lock.json). A fast no-op when everything is already
# there. Run as root to install Debian packages; otherwise it prints the
# command to run and exits 1.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)

PACKAGES=(
    build-essential clang clang-format valgrind pkg-config
    protobuf-c-compiler libprotobuf-c-dev libzmq3-dev libpq-dev postgresql-15
    libcurl4-openssl-dev libcsv-dev libmicrohttpd-dev libjansson-dev libutf8proc-dev
    libsodium-dev libxlsxwriter-dev libexpat1-dev zlib1g-dev libicu-dev libclang-rt-14-dev
    supervisor python3-aiosmtpd python3-zmq python3-protobuf python3-jsonschema docker-compose
    spamassassin # tests: scores every kind of mail notify sends (test_mail_quality.py)
    curl jq wrk
    chromium chromium-driver libreoffice-calc-nogui python3-openpyxl
)
# npm for tests/lint: Debian's, unless a Node.js that carries its own npm
# (NodeSource's nodejs) is installed already. The pinned Redocly CLI asks for
# Node.js 20.19; its lint runs on Debian 12's 18.20 too (tried 2026-12).
if ! command -v npm >/dev/null; then
    PACKAGES+=(nodejs npm)
fi

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

# Installs what s_missing finds missing of PACKAGES, or says how and exits 1.
s_apt() {
    local missing still
    mapfile -t missing < <(s_missing "${PACKAGES[@]}")
    ((${#missing[@]})) || return 0

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
}

# npm ci in tests/lint when its node_modules is missing or older than the
# lock file (npm writes node_modules/.package-lock.json last). Only the
# tests need it, so a failure (no registry) is a warning: make run goes on,
# and the lint test fails saying what is missing.
s_npm() {
    local dir=$root/tests/lint
    local stamp=$dir/node_modules/.package-lock.json
    if [[ -f $stamp && ! $dir/package-lock.json -nt $stamp ]]; then
        return 0
    fi
    if (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
        echo "install-deps: installed the npm packages of tests/lint"
    else
        echo "install-deps: warning: npm ci in tests/lint failed; the OpenAPI and web UI lint tests will fail" >&2
    fi
}

s_apt
s_npm
