#!/usr/bin/env bash
# Measures a suite held by `BENCH_HOLD=1 tests/bench/search.sh` (docs/benchmarks.md): runs wrk
# with one query set at BENCH_CONNECTIONS and prints wrk's figures, then the CPU each thread of
# the suite's processes spent per request (user + system, from /proc, over the run). On a shared
# machine the rates and latencies of two runs differ by a quarter; CPU per request moves far
# less, so it is the figure to compare two builds by (restart the services between them).
#
# Usage: tests/bench/held.sh HOLD_LOG [SET] [SECONDS]
#   HOLD_LOG  what search.sh printed (its "bench: holding: ..." line is read)
#   SET       q1, q2, q3 or q22 (default q1); SECONDS default 10
# Knobs: BENCH_CONNECTIONS (default 32), BENCH_THREADS (default 2).
set -euo pipefail

log=${1:?usage: tests/bench/held.sh HOLD_LOG [SET] [SECONDS]}
set_name=${2:-q1}
seconds=${3:-10}
conns=${BENCH_CONNECTIONS:-32}
threads=${BENCH_THREADS:-2}
[[ $set_name =~ ^q(1|2|3|22)$ ]] || { echo "held: SET must be q1, q2, q3 or q22" >&2; exit 2; }
for v in seconds conns threads; do
    [[ ${!v} =~ ^[1-9][0-9]{0,4}$ ]] || { echo "held: $v: expected a positive number" >&2; exit 2; }
done
line=$(grep 'bench: holding:' "$log" | tail -n 1) || { echo "held: no holding line in $log" >&2; exit 2; }
url=$(sed -n 's/.*holding: \([^ ]*\) key.*/\1/p' <<<"$line")
key=$(sed -n 's/.* key \([^ ]*\) .*/\1/p' <<<"$line")
lua=$(sed -n 's/.*wrk script \([^ ]*\) .*/\1/p' <<<"$line")
dir=$(dirname -- "$lua")
[[ -n $url && -n $key && -f $lua && -f $dir/$set_name.txt ]] ||
    { echo "held: the suite of $log is not there any more" >&2; exit 2; }
sv_pid=$(cat "$dir/supervisord.pid")
pids=$(pgrep -P "$sv_pid" -d ' ' -f '/(gateway|broker|search)$') ||
    { echo "held: no gateway, broker or search under supervisord $sv_pid" >&2; exit 2; }

# "name-tid ticks" for every thread of the suite's gateway, broker and search.
snapshot() {
    local p t
    for p in $pids; do
        for t in /proc/"$p"/task/*; do
            [[ -r $t/stat ]] || continue
            printf '%s/%s-%s %s\n' "$(cat /proc/"$p"/comm)" "$(cat "$t"/comm)" "${t##*/}" \
                "$(awk '{ print $14 + $15 }' "$t"/stat)"
        done
    done | sort
}

before=$(snapshot)
out=$(BENCH_API_KEY=$key BENCH_QUERIES=$dir/$set_name.txt wrk -t "$threads" -c "$conns" \
    -d "${seconds}s" --timeout 5s --latency -s "$lua" "$url" 2>&1) || { echo "$out" >&2; exit 1; }
after=$(snapshot)
bench=$(grep '^BENCH ' <<<"$out")
echo "$set_name: $bench"
requests=$(sed -n 's/.* \([0-9][0-9]*\) requests in .*/\1/p' <<<"$out")
[[ -n $requests && $requests -gt 0 ]] || { echo "held: wrk counted no requests" >&2; exit 1; }
hz=$(getconf CLK_TCK)
join <(echo "$before") <(echo "$after") | awk -v n="$requests" -v hz="$hz" '
    { us = ($3 - $2) * 1e6 / hz / n; if (us >= 0.5) printf "  %-34s %6.1f us/request\n", $1, us
      total += us }
    END { printf "  %-34s %6.1f us/request\n", "all threads", total }'
