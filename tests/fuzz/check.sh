#!/usr/bin/env bash
# `make fuzz-check`: the fuzz targets as a test that comes out the same on every
# run of the same build. For each target: replay every file of tests/fuzz/corpus/<target> (one
# test), then fuzz a fixed number of inputs from -seed=1, starting from a fresh
# copy of that corpus (a second test). The last line is "N passed, N failed".
#
# libFuzzer with a seed and a run count is deterministic only if everything it
# learns from is: so a count of runs, never a time limit, and no -jobs (speed and
# load change nothing); -reload=0 (rereading the corpus directory goes by the
# clock); a fresh copy of the repository's corpus (a kept one grows); and the
# same addresses every time, since libFuzzer learns from the values the code
# compares, pointers included: address randomisation off (setarch -R), and an
# environment and command line of the same size wherever it runs (env -i, and
# the binary, corpus and dictionary under fixed names in a scratch directory).
#
# Usage: tests/fuzz/check.sh FUZZ_BUILD TARGET:RUNS...
#   (FUZZ_FLAGS adds libFuzzer options; the binaries are FUZZ_BUILD/bin/TARGET;
#   logs go to FUZZ_BUILD/logs/check-TARGET.log, inputs that failed to
#   FUZZ_BUILD/crashes/TARGET-*)
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"
build=$1
shift
read -r -a flags <<<"${FUZZ_FLAGS:-}"
asan=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}
ubsan=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/crashes" "$build/logs"
bindir=$(cd -- "$build/bin" && pwd -P)

norand=(setarch "$(uname -m)" -R)
if ! "${norand[@]}" true 2>/dev/null; then
    norand=()
    echo "fuzz-check: setarch -R refused: address randomisation stays on, so the seeded runs" \
        "may try other inputs each time"
fi

work=
trap '[[ -n $work ]] && rm -rf -- "$work"' EXIT
passed=0 failed=0

# s_result NAME LOG OK [WHERE]: counts one test; on failure shows the end of
# its log and says where the input is.
s_result() {
    if (($3)); then
        passed=$((passed + 1))
        echo "fuzz-check: $1 OK"
    else
        failed=$((failed + 1))
        tail -n 40 -- "$2"
        echo "fuzz-check: $1 FAILED (log $2; $4)"
    fi
}

for spec in "$@"; do
    t=${spec%:*} runs=${spec#*:}
    bin=$bindir/$t
    log=$build/logs/check-$t.log
    t0=$SECONDS

    files=(tests/fuzz/corpus/"$t"/*)
    ok=1
    ASAN_OPTIONS=$asan UBSAN_OPTIONS=$ubsan "$bin" -timeout=10 \
        -artifact_prefix="$build/crashes/$t-" "${flags[@]}" "${files[@]}" >"$log" 2>&1 || ok=0
    s_result "$t replay of ${#files[@]} inputs" "$log" "$ok" \
        "the input is the last \"Running:\" line of the log"

    work=$(mktemp -d /tmp/fuzz-check.XXXXXXXX)
    mkdir "$work/corpus" "$work/found"
    cp -R tests/fuzz/corpus/"$t"/. "$work/corpus/"
    ln -s "$bin" "$work/target"
    dict=()
    if [[ -f tests/fuzz/$t.dict ]]; then
        cp tests/fuzz/"$t".dict "$work/dict"
        dict=(-dict=dict)
    fi
    ok=1
    (cd "$work" && "${norand[@]}" env -i ASAN_OPTIONS="$asan" UBSAN_OPTIONS="$ubsan" ./target \
        -seed=1 -runs="$runs" -reload=0 -timeout=10 -artifact_prefix=found/ "${dict[@]}" \
        "${flags[@]}" corpus) >>"$log" 2>&1 || ok=0
    for f in "$work"/found/*; do
        [[ -e $f ]] && mv -- "$f" "$build/crashes/$t-$(basename -- "$f")"
    done
    # "#5000 DONE cov: 110 ft: 230 corp: 56/669b lim: 27 exec/s: ..." -> "5000 runs, cov: ..."
    what=$(grep -a 'DONE' "$log" | tail -n 1 |
        sed 's/^#\([0-9]*\)[[:space:]]*DONE */\1 runs, /; s/ *exec\/s.*//' || true)
    s_result "$t seed 1 (${what:-stopped}, $((SECONDS - t0)) s)" "$log" "$ok" \
        "input in $build/crashes/$t-*"
    rm -rf -- "$work"
    work=
done
echo "fuzz-check: $passed passed, $failed failed"
((failed == 0))
