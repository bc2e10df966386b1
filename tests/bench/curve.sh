#!/usr/bin/env bash
# What CURVE on the bus costs (docs/bus.md, "Who may speak"): one throw-away
# suite, started afresh for each round on the same data in the same run, with
# every bus socket under CURVE and the broker's key checks (the default), and
# with CRM_BUS_CURVE=false, in alternating rounds. Each time it loads the gateway
# with wrk: GET /v1/customers/{id} over the customers made at the start, and
# GET /v1/customers:search with one- to three-letter prefixes. It prints
# requests per second and the CPU every process of the suite spent per
# request, on and off, and their ratios.
#
# Usage: tests/bench/curve.sh [BUILD]
# Knobs: BENCH_DURATION (seconds per phase, default 10), BENCH_CONNECTIONS
# (default 32), BENCH_THREADS (default 2), BENCH_CURVE_CUSTOMERS (customers
# made first, default 5000), BENCH_CURVE_ROUNDS (rounds of on then off,
# default 2), BENCH_KEEP=1 (keep the data directory).
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
rounds=${BENCH_CURVE_ROUNDS:-2}
for v in duration conns threads n_customers rounds; do
    if ! [[ ${!v} =~ ^[1-9][0-9]{0,5}$ ]]; then
        echo "bench: $v: invalid value \"${!v}\": expected a positive number" >&2
        exit 2
    fi
done
command -v wrk >/dev/null || { echo "bench: wrk is not installed" >&2; exit 2; }

while read -r var; do
    [[ $var == CRM_* ]] && unset "$var"
done < <(compgen -e)
# The broker's start line says whether CURVE is on; it logs nothing per request.
export CRM_BROKER_LOG_LEVEL=info
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

# The suite's processes (name pid) and PostgreSQL's postmaster, for
# cpu_snapshot.py: CPU per request is steadier than requests per second on
# a machine other work shares.
cpu_snapshot() {
    local args=() name pid
    while read -r name pid; do args+=("$name=$pid"); done < <(stack_ctl status 2>/dev/null |
        awk '$2 == "RUNNING" && $1 != "postgres" { n = $1; sub(/^.*:/, "", n); p = $4;
            sub(/,$/, "", p); print n, p }')
    /usr/bin/python3 "$bench_dir/cpu_snapshot.py" "$(s_pg_pid)" "${args[@]}" >"$1"
}

# CPU of every process of the suite (PostgreSQL included) between two
# snapshots, in ms per request.
cpu_per_request() {
    awk -v n="$3" -v hz="$(getconf CLK_TCK)" '
        FNR == NR { a[$1] = $2; next }
        $1 != "clock" && $1 != "machine" && $1 != "steal" && ($1 in a) { t += $2 - a[$1] }
        END { printf "%.3f", (n > 0 ? t * 1000 / hz / n : 0) }' "$1" "$2"
}

# run_wrk NAME SCRIPT SECONDS [ANY]: one wrk run; its BENCH line in R[NAME]
# and the suite's CPU per request in C[NAME]. Every answer must be 2xx,
# unless ANY is given (the customers made first: create.lua's data has a VAT
# number the validation refuses).
declare -A R C
run_wrk() {
    local name=$1 script=$2 secs=$3 any=${4:-} out="$tmp/wrk-$1.txt" rc=0 line
    cpu_snapshot "$tmp/cpu-$name.0"
    BENCH_QUERIES="$tmp/queries.txt" timeout $((secs + 30)) wrk -t "$threads" -c "$conns" \
        -d "${secs}s" --timeout 5s --latency -s "$script" "$STACK_URL" -- "$run_tag" \
        >"$out" 2>&1 || rc=$?
    cpu_snapshot "$tmp/cpu-$name.1"
    line=$(grep '^BENCH ' "$out" | tail -n 1 || true)
    if ((rc != 0)) || [[ -z $line ]]; then
        cat "$out"
        fail "wrk ($name) exited with status $rc"
    fi
    if [[ (-z $any && $(kv "$line" non2xx) != 0) || $(kv "$line" sock_errors) != 0 ||
        $(kv "$line" timeouts) != 0 ]]; then
        grep '^BENCH' "$out"
        fail "$name: answers that were not 2xx, or failed requests"
    fi
    R[$name]=$line
    C[$name]=$(cpu_per_request "$tmp/cpu-$name.0" "$tmp/cpu-$name.1" "$(kv "$line" requests)")
}

# round MODE N: starts the suite with CURVE on or off, warms up, measures GET
# by id and search, stops it. R and C keys: MODE-N-get, MODE-N-search.
round() {
    local mode=$1 n=$2
    export CRM_BUS_CURVE=$([[ $mode == on ]] && echo true || echo false)
    # The private cluster again, not the address the last start exported.
    unset CRM_DATABASE_URL
    start
    grep 'broker listening' "$STACK_LOG_DIR/broker.log" | tail -n 1 | grep -q "curve=$mode" ||
        fail "the broker did not start with CURVE $mode"
    run_wrk "$mode-$n-warm-get" "$bench_dir/get.lua" 2
    run_wrk "$mode-$n-warm-search" "$tmp/search.lua" 2
    run_wrk "$mode-$n-get" "$bench_dir/get.lua" "$duration"
    run_wrk "$mode-$n-search" "$tmp/search.lua" "$duration"
    echo "bench: round $n, CURVE $mode: get $(kv "${R[$mode-$n-get]}" rps)/s" \
        "(${C[$mode-$n-get]} ms CPU each), search $(kv "${R[$mode-$n-search]}" rps)/s" \
        "(${C[$mode-$n-search]} ms CPU each)"
    stop
}

run_tag="c$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
echo "bench: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -n), nproc $(nproc);" \
    "$duration s per phase, $conns connections, $threads threads, $rounds rounds; data $tmp"

# The customers, made once with CURVE on (the default).
export CRM_BUS_CURVE=true
start
made=0
while ((made < n_customers)); do
    run_wrk create "$bench_dir/create.lua" 2 any
    made=$(sql "SELECT count(*) FROM customers.customers")
done
sql "SELECT id FROM customers.customers" >"$tmp/ids.txt"
export BENCH_IDS="$tmp/ids.txt"
sql "VACUUM ANALYZE" >/dev/null
echo "bench: $made customers"
stop

# Rounds on, off, on, off, ...: the same suite and data, started afresh each
# time, so that a drift of the machine's load falls on both alike.
for ((n = 1; n <= rounds; n++)); do
    round on "$n"
    round off "$n"
done

# Sums over the rounds: requests per second (mean), CPU per request (mean).
mean() {
    local what=$1 mode=$2 phase=$3 n sum=0
    for ((n = 1; n <= rounds; n++)); do
        if [[ $what == rps ]]; then
            sum=$(awk -v s="$sum" -v v="$(kv "${R[$mode-$n-$phase]}" rps)" 'BEGIN { print s + v }')
        else
            sum=$(awk -v s="$sum" -v v="${C[$mode-$n-$phase]}" 'BEGIN { print s + v }')
        fi
    done
    awk -v s="$sum" -v r="$rounds" 'BEGIN { printf "%.3f", s / r }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo
printf '%-26s %10s %10s %7s %12s %12s %7s\n' "CURVE cost (mean of $rounds)" "on req/s" \
    "off req/s" "on/off" "on CPU ms" "off CPU ms" "on/off"
for phase in get search; do
    ron=$(mean rps on "$phase") roff=$(mean rps off "$phase")
    con=$(mean cpu on "$phase") coff=$(mean cpu off "$phase")
    printf '%-26s %10.0f %10.0f %7s %12s %12s %7s\n' \
        "$([[ $phase == get ]] && echo "GET /v1/customers/{id}" || echo "GET :search?q=prefix")" \
        "$ron" "$roff" "$(ratio "$ron" "$roff")" "$con" "$coff" "$(ratio "$con" "$coff")"
done
echo "(CPU ms: every process of the suite and PostgreSQL, per request; p50 and p99 of each run"
echo " are in $tmp/wrk-*.txt with BENCH_KEEP=1)"
status=0
