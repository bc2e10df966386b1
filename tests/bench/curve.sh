#!/usr/bin/env bash
# What CURVE on the bus costs (docs/bus.md, "Who may speak"): one throw-away
# suite, started twice on the same data in the same run, first with every bus
# socket under CURVE and the broker's key checks (the default), then with
# CRM_BUS_CURVE=false. Each time it loads the gateway with wrk: GET
# /v1/customers/{id} over the customers made at the start, and
# GET /v1/customers:search with one- to three-letter prefixes. It prints
# requests per second and latencies of both and the ratio on/off.
#
# Usage: tests/bench/curve.sh [BUILD]
# Knobs: BENCH_DURATION (seconds per phase, default 10), BENCH_CONNECTIONS
# (default 32), BENCH_THREADS (default 2), BENCH_CURVE_CUSTOMERS (customers
# made first, default 5000), BENCH_KEEP=1 (keep the data directory).
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"
build=${1:-build}
bench_dir="$root/tests/bench"
# shellcheck source=compose/stack.sh
source compose/stack.sh

duration=${BENCH_DURATION:-10}
conns=${BENCH_CONNECTIONS:-32}
threads=${BENCH_THREADS:-2}
n_customers=${BENCH_CURVE_CUSTOMERS:-5000}
for v in duration conns threads n_customers; do
    if ! [[ ${!v} =~ ^[1-9][0-9]{0,5}$ ]]; then
        echo "bench: $v: invalid value \"${!v}\": expected a positive number" >&2
        exit 2
    fi
done
command -v wrk >/dev/null || { echo "bench: wrk is not installed" >&2; exit 2; }

while read -r var; do
    [[ $var == CRM_* ]] && unset "$var"
done < <(compgen -e)
export CRM_LOG_LEVEL=warn
stack_throwaway crm-curvebench curve-admin 1
STACK_PG_FAST=${BENCH_PG_FAST:-0} # make run's durable commits unless asked
# shellcheck source=tests/bench/lib.sh
source "$bench_dir/lib.sh"
export BENCH_API_KEY=$CRM_BOOTSTRAP_API_KEY
export BENCH_LUA_DIR=$bench_dir

# Starts the suite (PostgreSQL, migrations, every service) and waits for it.
start() {
    stack_init "$build"
    { stack_pg_start && stack_migrate && stack_supervisor_start && stack_wait_ready 60; } ||
        fail "the suite did not start (CRM_BUS_CURVE=${CRM_BUS_CURVE:-true})"
}

stop() {
    stack_supervisor_stop || true
    stack_pg_stop || true
}

# Queries for the search phase: prefixes of the names create.lua writes.
cat >"$tmp/queries.txt" <<'EOF'
Ł
Łu
Wiś
J
Jü
Grö
Zo
Lef
Jos
Mar
Sø
Øst
Αλ
Παπ
Дм
Шев
Ay
Yıl
Ji
Dvo
Þó
Guð
EOF

cat >"$tmp/search.lua" <<'EOF'
-- GET /v1/customers:search?pageSize=20&q=<a random prefix from BENCH_QUERIES>
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local reqs = {}
local base_init = init
function init(args)
    base_init(args)
    for line in io.lines(os.getenv("BENCH_QUERIES")) do
        if line ~= "" then
            local q = line:gsub("([^%w%-%.])", function(c)
                return string.format("%%%02X", string.byte(c)) end)
            reqs[#reqs + 1] = wrk.format("GET", "/v1/customers:search?pageSize=20&q=" .. q)
        end
    end
end
function request()
    return reqs[math.random(#reqs)]
end
EOF

kv() { sed -n "s/.*[[:space:]]$2=\\([^[:space:]]*\\).*/\\1/p" <<<" $1" | head -n 1; }

# run_wrk NAME SCRIPT SECONDS: one wrk run; its BENCH line in R[NAME].
declare -A R
run_wrk() {
    local name=$1 script=$2 secs=$3 out="$tmp/wrk-$1.txt" rc=0 line
    BENCH_QUERIES="$tmp/queries.txt" timeout $((secs + 30)) wrk -t "$threads" -c "$conns" \
        -d "${secs}s" --timeout 5s --latency -s "$script" "$STACK_URL" -- "$run_tag" \
        >"$out" 2>&1 || rc=$?
    line=$(grep '^BENCH ' "$out" | tail -n 1 || true)
    if ((rc != 0)) || [[ -z $line ]]; then
        cat "$out"
        fail "wrk ($name) exited with status $rc"
    fi
    if [[ $(kv "$line" non2xx) != 0 || $(kv "$line" sock_errors) != 0 ||
        $(kv "$line" timeouts) != 0 ]]; then
        grep '^BENCH' "$out"
        fail "$name: answers that were not 2xx, or failed requests"
    fi
    R[$name]=$line
}

# measure MODE: warm-ups, then GET by id and search, into R[MODE-get/search].
measure() {
    local mode=$1
    run_wrk "$mode-warm-get" "$bench_dir/get.lua" 2
    run_wrk "$mode-warm-search" "$tmp/search.lua" 2
    run_wrk "$mode-get" "$bench_dir/get.lua" "$duration"
    run_wrk "$mode-search" "$tmp/search.lua" "$duration"
    echo "bench: CURVE $mode: get $(kv "${R[$mode-get]}" rps)/s," \
        "search $(kv "${R[$mode-search]}" rps)/s"
}

run_tag="c$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
echo "bench: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -n), nproc $(nproc);" \
    "$duration s per phase, $conns connections, $threads threads; data $tmp"

# 1. CURVE on (the default): make the customers, then measure.
export CRM_BUS_CURVE=true
start
grep -q 'curve=on' "$STACK_LOG_DIR/broker.log" || fail "the broker did not start with CURVE"
made=0
while ((made < n_customers)); do
    run_wrk create "$bench_dir/create.lua" 2
    made=$(sql "SELECT count(*) FROM customers.customers")
done
sql "SELECT id FROM customers.customers" >"$tmp/ids.txt"
export BENCH_IDS="$tmp/ids.txt"
sql "VACUUM ANALYZE" >/dev/null
echo "bench: $made customers"
measure on
stop

# 2. The same suite and data without CURVE.
export CRM_BUS_CURVE=false
start
grep -q 'curve=off' "$STACK_LOG_DIR/broker.log" || fail "the broker did not start without CURVE"
measure off
stop

echo
printf '%-28s %12s %12s %8s %10s %10s %10s %10s\n' "CURVE cost" "on req/s" "off req/s" \
    "on/off" "on p50" "off p50" "on p99" "off p99"
for phase in get search; do
    on=${R[on-$phase]} off=${R[off-$phase]}
    printf '%-28s %12s %12s %8s %10s %10s %10s %10s\n' \
        "$([[ $phase == get ]] && echo "GET /v1/customers/{id}" || echo "GET :search?q=prefix")" \
        "$(kv "$on" rps)" "$(kv "$off" rps)" \
        "$(awk -v a="$(kv "$on" rps)" -v b="$(kv "$off" rps)" 'BEGIN { printf "%.2f", b > 0 ? a / b : 0 }')" \
        "$(kv "$on" p50_ms)ms" "$(kv "$off" p50_ms)ms" "$(kv "$on" p99_ms)ms" "$(kv "$off" p99_ms)ms"
done
status=0
