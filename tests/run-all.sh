#!/usr/bin/env bash
# `make test`: everything, in order, each part counted:
#   build        make all units                       (a failure counts one)
#   unit         tests/run-unit.sh build
#   asan         make asan: the unit tests under ASan + UBSan (build/asan)
#   format       make format-check                    (one test: format)
#   clang        make clang-check: everything built with clang -Werror too
#                (one test: clang)
#   analyze      make analyze: the clang static analyzer (scan-build) over a
#                fresh build of everything, cppcheck and clang-tidy; any
#                report fails it (one test: analyze)
#   integration  tests/integration/run.sh build        (the whole suite on free ports)
#   integration-asan  the services built in build/asan with the same sanitizer
#                flags, and the integration tests again against them: a
#                sanitizer report in any service log fails it (a failed
#                build counts one). The browser and make-run tests are left
#                out there (CRM_TEST_EXCLUDE; CRM_TEST_EXCLUDE=none runs all)
#   fuzz         make fuzz-check: each libFuzzer target replays its corpus, then
#                a fixed number of inputs from a fixed seed (the same every
#                run; open-ended fuzzing is make fuzz, see tests/fuzz/README.md)
# The last line is "N passed, N failed" with the totals; the exit status is
# non-zero when anything failed or a part could not run.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
# The inner makes are ours: no jobserver or variables from an outer make.
unset MAKEFLAGS MFLAGS MAKELEVEL
jobs=$(nproc 2>/dev/null || echo 2)
make=(make --no-print-directory -j"$jobs")

logs=$(mktemp -d /tmp/crm-test-logs.XXXXXX)
trap 'rm -rf -- "$logs"' EXIT
total_passed=0 total_failed=0
summary=()
started=$SECONDS

# s_count NAME PASSED FAILED: adds one part's result to the totals.
s_count() {
    total_passed=$((total_passed + $2))
    total_failed=$((total_failed + $3))
    summary+=("$(printf '%-17s %4d passed, %d failed' "$1:" "$2" "$3")")
}

# s_part NAME COMMAND...: runs a part that prints "N passed, N failed" last;
# a non-zero exit without a failure counted means it could not run: one failed.
s_part() {
    local name=$1 out rc=0 line p=0 f=0 t0=$SECONDS
    shift
    out="$logs/$name.out"
    echo
    echo "=== $name: $*"
    "$@" 2>&1 | tee "$out" || rc=$?
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1 || true)
    if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
    fi
    if ((rc != 0 && f == 0)); then
        echo "$name: exited with status $rc without counting a failure: counted as one"
        f=1
    fi
    echo "=== $name: $p passed, $f failed ($((SECONDS - t0)) s)"
    s_count "$name" "$p" "$f"
}

echo "=== build: ${make[*]} all units"
if "${make[@]}" all units >"$logs/build.out" 2>&1; then
    built=1
    echo "=== build: ok"
else
    built=0
    tail -n 60 "$logs/build.out"
    echo "=== build: FAILED (the unit and integration tests cannot run)"
    s_count build 0 1
fi

if ((built)); then
    s_part unit tests/run-unit.sh build
fi

# make asan builds build/asan with the sanitizer flags and runs the unit tests
# there (tests/run-unit.sh), so a compile error or a sanitizer report fails it.
s_part asan env UNIT_LABEL=asan "${make[@]}" asan

echo
echo "=== format: make format-check"
if make --no-print-directory format-check >"$logs/format.out" 2>&1; then
    echo "=== format: ok"
    s_count format 1 0
else
    grep -E '^[^ ].*(error|warning):' "$logs/format.out" | cut -d: -f1 | sort -u | sed 's/^/    not formatted: /' || true
    tail -n 20 "$logs/format.out"
    echo "=== format: FAILED (fix with: make format)"
    s_count format 0 1
fi

echo
echo "=== clang: make clang-check"
if "${make[@]}" clang-check >"$logs/clang.out" 2>&1; then
    echo "=== clang: ok"
    s_count clang 1 0
else
    grep -E '(error|warning):' "$logs/clang.out" | head -n 20 || tail -n 20 "$logs/clang.out"
    echo "=== clang: FAILED"
    s_count clang 0 1
fi

echo
echo "=== analyze: make analyze"
t0=$SECONDS
if "${make[@]}" analyze >"$logs/analyze.out" 2>&1; then
    echo "=== analyze: ok ($((SECONDS - t0)) s)"
    s_count analyze 1 0
else
    grep -E '(warning|error):|^[^ ]+:[0-9]+: [a-z]+ \(|bugs? found|with findings' "$logs/analyze.out" |
        head -n 40 || tail -n 20 "$logs/analyze.out"
    echo "=== analyze: FAILED ($((SECONDS - t0)) s; reports in build/analyze/scan, docs/operations.md \"Tests\")"
    s_count analyze 0 1
fi

if ((built)); then
    s_part integration tests/integration/run.sh build
fi

# The services under ASan + UBSan: the flags of the Makefile's asan target, so
# the objects make asan built in build/asan are reused; then the integration
# tests against those binaries, which stop at the first error and report
# leaks when they exit (tests/integration/run.sh scans their logs).
echo
echo "=== build-asan: ${make[*]} asan-all"
t0=$SECONDS
if "${make[@]}" asan-all >"$logs/build-asan.out" 2>&1; then
    echo "=== build-asan: ok ($((SECONDS - t0)) s)"
    # Left out there to keep make test short: the browser tests and the
    # make-run tests, which start stacks of their own; what they ask of the
    # services, the HTTP tests ask too.
    s_part integration-asan env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        CRM_TEST_EXCLUDE="${CRM_TEST_EXCLUDE:-test_ui:: test_make_run::test_make_run_}" \
        tests/integration/run.sh build/asan
else
    tail -n 60 "$logs/build-asan.out"
    echo "=== build-asan: FAILED (the integration tests cannot run against build/asan)"
    s_count integration-asan 0 1
fi

# The fuzz targets, reproducibly: corpus replay and a seeded run of a fixed
# length, so a pass or failure here does not depend on luck or the machine's
# speed (searching for new bugs: make fuzz FUZZ_SECONDS=600).
s_part fuzz "${make[@]}" fuzz-check

echo
echo "=== summary ($((SECONDS - started)) s)"
printf '%s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
((total_failed == 0))
