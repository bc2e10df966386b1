#!/usr/bin/env bash
# Benchmark of the company look-up (part of `make bench`): starts its own
# throw-away suite (like tests/bench/run.sh) with the local fake of VIES
# (tests/integration/fake_vies.py) on loopback, then measures
#   1. cached look-ups: POST /v1/company:lookup of BENCH_COMPANY_NUMBERS numbers
#      VIES was asked about once before, so the cache answers (wrk,
#      BENCH_CONNECTIONS), against pgbench running the same cache query on a
#      scratch copy of company.vat_checks;
#   2. what a look-up adds to VIES's own latency: one connection asking the
#      fake directly for new numbers, then one asking the gateway for new
#      numbers (each a call to the fake, a settings read and a cache write);
# and prints the ratios. Usage: tests/bench/company.sh [BUILD]
# Knobs: BENCH_DURATION (seconds per phase, default 10), BENCH_CONNECTIONS
# (default 32), BENCH_COMPANY_NUMBERS (default 200), BENCH_PG_FAST=1 (fsync off;
# default: make run's durable commits), BENCH_KEEP=1 (keep the data directory).
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"
build=${1:-build}
bench_dir="$root/tests/bench"
# shellcheck source=compose/stack.sh
source compose/stack.sh

duration=${BENCH_DURATION:-10}
conns=${BENCH_CONNECTIONS:-32}
numbers=${BENCH_COMPANY_NUMBERS:-200}
for v in duration conns numbers; do
    if ! [[ ${!v} =~ ^[1-9][0-9]{0,4}$ ]]; then
        echo "bench: $v: invalid value \"${!v}\"" >&2
        exit 2
    fi
done
command -v wrk >/dev/null || { echo "bench: wrk is not installed" >&2; exit 2; }
pgbench="$STACK_PG_BIN/pgbench"
[[ -x $pgbench ]] || { echo "bench: $pgbench is missing" >&2; exit 2; }

while read -r var; do
    [[ $var == CRM_* ]] && unset "$var"
done < <(compgen -e)
stack_throwaway crm-cbench cbench-admin 1
STACK_PG_FAST=${BENCH_PG_FAST:-0} # make run's durable commits unless asked
durability=$([[ $STACK_PG_FAST == 1 ]] && echo "fsync off" || echo "durable commits")
# shellcheck source=tests/bench/lib.sh
source "$root/tests/bench/lib.sh"
fake_pid=
stop_fake() {
    if [[ -n $fake_pid ]]; then
        kill "$fake_pid" 2>/dev/null || true
        wait "$fake_pid" 2>/dev/null || true
    fi
}
bench_on_cleanup=stop_fake

# The fake VIES, on a free loopback port; the company service asks it.
fake_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 -u "$root/tests/integration/fake_vies.py" "$fake_port" >"$tmp/fake-vies.log" 2>&1 &
fake_pid=$!
fake="http://127.0.0.1:$fake_port"
export CRM_VIES_URL="$fake/taxation_customs/vies/rest-api"
for ((i = 0; i < 100; i++)); do
    curl -fsS --noproxy '*' -o /dev/null "$fake/_fake/calls" 2>/dev/null && break
    kill -0 "$fake_pid" 2>/dev/null || { cat "$tmp/fake-vies.log"; fail "the fake VIES exited"; }
    sleep 0.05
done

stack_init "$build"
{ stack_pg_start && stack_migrate && stack_supervisor_start && stack_wait_ready 60; } ||
    fail "the suite did not start"
export BENCH_API_KEY=$CRM_BOOTSTRAP_API_KEY
echo "bench: company look-up, $duration s per phase, PostgreSQL with $durability; data $tmp"

declare -A RPS P50 P99
# Runs wrk: $1 name, $2 mode (company.lua), $3 connections, $4 target URL.
wrk_phase() {
    local name=$1 mode=$2 c=$3 url=$4 out="$tmp/wrk-$1.txt" line
    BENCH_LUA_DIR=$bench_dir timeout $((duration + 30)) wrk -t "$(((c > 1) + 1))" -c "$c" \
        -d "${duration}s" --timeout 10s --latency -s "$bench_dir/company.lua" "$url" -- run "$mode" \
        >"$out" 2>&1 || { cat "$out"; fail "wrk $name"; }
    line=$(grep '^BENCH ' "$out" | tail -n 1)
    [[ -n $line ]] || { cat "$out"; fail "wrk $name printed no figures"; }
    if ! grep -q 'non2xx=0 sock_errors=0 timeouts=0' <<<"$line"; then
        cat "$out"
        fail "$name: answers that were not 2xx, or failed requests"
    fi
    RPS[$name]=$(sed -n 's/.* rps=\([^ ]*\).*/\1/p' <<<"$line")
    P50[$name]=$(sed -n 's/.* p50_ms=\([^ ]*\).*/\1/p' <<<"$line")
    P99[$name]=$(sed -n 's/.* p99_ms=\([^ ]*\).*/\1/p' <<<"$line")
    echo "    $name: ${RPS[$name]} req/s, p50 ${P50[$name]} ms, p99 ${P99[$name]} ms"
}

echo "== 1. cached look-ups: $numbers numbers asked once, then POST /v1/company:lookup (wrk -c $conns)"
/usr/bin/python3 - "$numbers" >"$tmp/numbers.txt" <<'PY'
import random, sys
random.seed(16)
seen = set()
while len(seen) < int(sys.argv[1]):
    digits = "%08d" % random.randrange(10 ** 7, 10 ** 8)
    product = 10
    for d in digits:
        total = (int(d) + product) % 10 or 10
        product = (2 * total) % 11
    seen.add("DE" + digits + str((11 - product) % 10))
print("\n".join(sorted(seen)))
PY
/usr/bin/python3 - "$fake" "$tmp/numbers.txt" <<'PY' || fail "could not set up the fake's numbers"
import json, sys, urllib.request
fake, path = sys.argv[1], sys.argv[2]
numbers = {n: {"valid": True, "name": "Bench GmbH %s" % n[-3:],
               "address": "Hauptstraße %s\n10115 Berlin" % n[-2:]} for n in open(path).read().split()}
req = urllib.request.Request(fake + "/_fake/numbers", json.dumps(numbers).encode(), method="POST",
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
PY
while read -r n; do
    curl -fsS --noproxy '*' -o /dev/null -H "Authorization: Bearer $BENCH_API_KEY" \
        -H 'Content-Type: application/json' -d "{\"vatNumber\":\"$n\"}" \
        "$STACK_URL/v1/company:lookup" || fail "the first look-up of $n"
done <"$tmp/numbers.txt"
cached=$(sql "SELECT count(*) FROM company.vat_checks")
((cached >= numbers)) || fail "only $cached of $numbers numbers are in the cache"
calls0=$(curl -fsS --noproxy '*' "$fake/_fake/calls" | /usr/bin/python3 -c 'import json, sys; print(sum(json.load(sys.stdin).values()))')
export BENCH_IDS="$tmp/numbers.txt"
wrk_phase cached cached "$conns" "$STACK_URL"
calls1=$(curl -fsS --noproxy '*' "$fake/_fake/calls" | /usr/bin/python3 -c 'import json, sys; print(sum(json.load(sys.stdin).values()))')
((calls1 == calls0)) || fail "the cached phase asked VIES $((calls1 - calls0)) times"

echo "== PostgreSQL alone: pgbench -c $conns on the same cache query over a copy of the $cached rows"
sql "DROP SCHEMA IF EXISTS bench_company CASCADE" >/dev/null
sql "CREATE SCHEMA bench_company; CREATE TABLE bench_company.vat_checks (LIKE company.vat_checks INCLUDING ALL)"
sql "INSERT INTO bench_company.vat_checks (vat_number, valid, answer, raw, checked_at)
     SELECT 'K' || row_number() OVER (ORDER BY vat_number), valid, answer, raw, checked_at
       FROM company.vat_checks"
sql "VACUUM ANALYZE bench_company.vat_checks"
out="$tmp/pgbench.txt"
timeout $((duration + 60)) "$pgbench" -n -M extended -c "$conns" -j 2 -T "$duration" \
    -f "$bench_dir/pg_company.sql" -D n="$cached" -l --log-prefix="$tmp/pglog" \
    -h "$STACK_PG_SOCKDIR" -p "$CRM_PG_PORT" -U postgres crm >"$out" 2>&1 || { cat "$out"; fail "pgbench"; }
pg_tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | head -n 1)
read -r pg_p50 pg_p99 < <(cat "$tmp/pglog".* | awk '{ print $3 }' | sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "0 0"; exit }
    i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
    i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
    printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000 }')
rm -f -- "$tmp/pglog".*
sql "DROP SCHEMA bench_company CASCADE"
echo "    pgbench: $pg_tps tps, p50 $pg_p50 ms, p99 $pg_p99 ms"

echo "== 2. what a look-up adds to VIES's latency: new numbers, one connection"
wrk_phase fake fake 1 "$fake"
wrk_phase fresh fresh 1 "$STACK_URL"

echo
echo "== Results ($(date -u '+%Y-%m-%d'), nproc $(nproc), $duration s per phase; $durability)"
echo
awk -v a="${RPS[cached]}" -v b="$pg_tps" -v ap50="${P50[cached]}" -v ap99="${P99[cached]}" \
    -v bp50="$pg_p50" -v bp99="$pg_p99" -v c="$conns" 'BEGIN {
    printf "cached look-ups: %.0f req/s through the gateway (p50 %.2f ms, p99 %.2f ms, %d connections)\n", a, ap50, ap99, c
    printf "                 = %.3f × pgbench on the same cache query, %.0f tps (p50 %.2f ms, p99 %.2f ms)\n", (b > 0 ? a / b : 0), b, bp50, bp99 }'
awk -v f50="${P50[fake]}" -v f99="${P99[fake]}" -v g50="${P50[fresh]}" -v g99="${P99[fresh]}" \
    -v fr="${RPS[fake]}" -v gr="${RPS[fresh]}" 'BEGIN {
    printf "a look-up that asks VIES: p50 %.2f ms, p99 %.2f ms (%.0f req/s on one connection)\n", g50, g99, gr
    printf "the fake VIES alone:      p50 %.2f ms, p99 %.2f ms (%.0f req/s on one connection)\n", f50, f99, fr
    printf "added by the suite: %.2f ms at p50 (%.2f × the fake'"'"'s own), %.2f ms at p99\n", g50 - f50, (f50 > 0 ? g50 / f50 : 0), g99 - f99 }'
echo "(the added time holds the gateway, the broker, customers.GetSettings for the requester,"
echo " the cache read and write, and libcurl's connection to the fake; the real VIES takes"
echo " 100 ms to seconds, so it is the share that matters)"
status=0
