#!/usr/bin/env bash
# make tidy: clang-tidy with the repository's .clang-tidy over every C file
# `make all units` builds (libshared, the services and crmctl, the unit tests),
# two files at a time. Needs the generated headers in BUILD/gen (make tidy
# makes them). Prints each finding, then "tidy: N files, N with findings";
# exits 1 when any file has one.
#   tests/analyze/tidy.sh BUILD [FILE...]    (default: every file)
set -euo pipefail
build=${1:?usage: tidy.sh BUILD [FILE...]}
shift
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"
jobs=${TIDY_JOBS:-2}

# The compile flags of the Makefile; every service directory is on the
# include path (no two services share a header name), which the unit tests
# of a service need.
flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Ilibshared "-I$build/gen"
       -I/usr/include/postgresql)
for d in services/*/; do
    flags+=("-I${d%/}")
done

if (($# == 0)); then
    set -- libshared/*.c services/*/*.c tests/unit/*.c tests/unit/*/*.c
fi
out=$(mktemp -d /tmp/crm-tidy.XXXXXX)
trap 'rm -rf -- "$out"' EXIT
export out
printf '%s\n' "$@" | xargs -P "$jobs" -I{} sh -c \
    'f=$1; shift; log="$out/$(printf %s "$f" | tr / _).log";
     clang-tidy-14 --quiet "$f" -- "$@" >"$log" 2>&1 || echo "$f" >>"$log.failed"' \
    sh {} "${flags[@]}"
failed=0
for f in "$@"; do
    log="$out/$(printf %s "$f" | tr / _).log"
    if [[ -e $log.failed ]]; then
        failed=$((failed + 1))
        grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Error while processing' "$log" || true
    fi
done
echo "tidy: $# files, $failed with findings"
((failed == 0))
