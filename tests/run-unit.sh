#!/usr/bin/env bash
# Runs every unit test binary of a build (BUILD/tests/test_* and
# BUILD/tests/<service>/test_*) from the repository root. A line ending in
# ": OK" is one passed test; a binary that exits non-zero (an assertion, a
# sanitizer report, a crash, a timeout) is one failed test, shown with the end
# of its output. The last line is "unit: N passed, N failed".
# Usage: tests/run-unit.sh [BUILD]   (UNIT_LABEL renames "unit", UNIT_TIMEOUT
# bounds each binary in seconds, default 300)
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
build=${1:-build}
label=${UNIT_LABEL:-unit}
limit=${UNIT_TIMEOUT:-300}
# Sanitizer builds: report everything, stop at the first error, show stacks.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

shopt -s nullglob
bins=()
for f in "$build"/tests/test_* "$build"/tests/*/test_*; do
    # Objects and dependency files live in BUILD/tests/unit/; skip them.
    [[ $f == "$build"/tests/unit/* ]] && continue
    [[ -f $f && -x $f && $(basename -- "$f") != *.* ]] && bins+=("$f")
done
if ((${#bins[@]} == 0)); then
    echo "$label: no test binaries under $build/tests (build them with: make BUILD=$build units)"
    echo "$label: 0 passed, 1 failed"
    exit 1
fi

out=$(mktemp)
trap 'rm -f -- "$out"' EXIT
passed=0 failed=0
for t in "${bins[@]}"; do
    rc=0
    timeout -k 10 "$limit" "$t" >"$out" 2>&1 </dev/null || rc=$?
    n=$(grep -c ': OK$' "$out" || true)
    passed=$((passed + n))
    if ((rc == 0)); then
        echo "ok   $t ($n)"
    else
        failed=$((failed + 1))
        if ((rc == 124)); then
            echo "FAIL $t: timed out after $limit s ($n passed before)"
        else
            echo "FAIL $t: exit status $rc ($n passed before)"
        fi
        tail -n 25 -- "$out" | sed 's/^/    /'
    fi
done
echo "$label: $passed passed, $failed failed"
((failed == 0))
