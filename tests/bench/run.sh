#!/usr/bin/env bash
# Benchmark (`make bench`): starts the suite with `make run`'s defaults (a
# throw-away data directory and free loopback ports, but durable commits, one
# copy of each service, its default threads, log level info), loads it
# through the gateway with wrk, then loads a Node.js peer (tests/bench/peer:
# Fastify 5 and node-postgres 8, a pool of 16, one process) serving the same
# requests from a table with the same columns and indexes, measures
# PostgreSQL's own rate for the same kind of work with pgbench on a scratch
# copy of the customers table in the same cluster, and prints a table with
# the ratios. docs/benchmarks.md explains the figures.
#
# Usage: tests/bench/run.sh [BUILD]
# Knobs: BENCH_DURATION (seconds per phase, default 10), BENCH_CONNECTIONS
# (wrk connections and pgbench clients, default 32), BENCH_THREADS (default 2),
# BENCH_SCALE_CUSTOMERS (copies of customers, default 1 as make run),
# BENCH_PG_FAST=1 (fsync, synchronous_commit and full_page_writes off, as in
# the tests), BENCH_PEER=0 (no Node.js peer), BENCH_KEEP=1 (keep the data
# directory with the raw wrk, pgbench and CPU figures even when everything
# passed).
# Exit status: 0 when every phase ran and every answer was 2xx, 1 otherwise.
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
scale=${BENCH_SCALE_CUSTOMERS:-1}
for v in duration conns threads scale; do
    if ! [[ ${!v} =~ ^[1-9][0-9]{0,3}$ ]]; then
        echo "bench: $v: invalid value \"${!v}\": expected a positive number" >&2
        exit 2
    fi
done
if ! command -v wrk >/dev/null; then
    echo "bench: wrk is not installed (make deps, or apt-get install wrk)" >&2
    exit 2
fi
pgbench="$STACK_PG_BIN/pgbench"
if [[ ! -x $pgbench ]]; then
    echo "bench: $pgbench is missing (postgresql-15; make deps)" >&2
    exit 2
fi

# make run's configuration: no CRM_* setting of the caller's, the log level
# too at its default (info).
while read -r var; do
    [[ $var == CRM_* ]] && unset "$var"
done < <(compgen -e)

stack_throwaway crm-bench bench-admin "$scale"
# make run's durable commits, unless asked otherwise.
STACK_PG_FAST=${BENCH_PG_FAST:-0}
durability=$([[ $STACK_PG_FAST == 1 ]] && echo "fsync off" || echo "durable commits")
tmp=$CRM_DATA_DIR
export PGCLIENTENCODING=UTF8

status=1
cleaned=0
cleanup() {
    ((cleaned)) && return 0
    cleaned=1
    trap '' INT TERM
    stack_supervisor_stop || true
    stack_pg_stop || true
    if ((status == 0)) && [[ ${BENCH_KEEP:-0} != 1 ]]; then
        rm -rf -- "$tmp"
    else
        echo "bench: kept the data directory for inspection: $tmp"
    fi
}
# A function rather than a trap string: a TERM that arrived in the middle of a
# phase once made bash fail to parse the string ("unexpected EOF while looking
# for matching `)'"), so the status was lost.
on_signal() {
    echo "bench: interrupted"
    status=130
    exit 130
}
trap cleanup EXIT
trap on_signal INT TERM

fail() {
    echo "bench: FAILED: $*" >&2
    stack_report 20 >&2 || true
    exit 1
}

sql() { "$STACK_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$CRM_DATABASE_URL" -c "$1"; }

# Prints "name pid" for every running service of the stack (customers-0, ...);
# PostgreSQL, which supervisord runs too, is counted whole by cpu_snapshot.
procs() {
    stack_ctl status 2>/dev/null | awk '$2 == "RUNNING" && $1 != "postgres" { n = $1;
        sub(/^.*:/, "", n); p = $4; sub(/,$/, "", p); print n, p }'
}

# Prints the resident memory of a process in KiB.
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# CPU snapshot into file $1: "name ticks" lines (cpu_snapshot.py) for the
# machine, PostgreSQL and every program of the stack.
cpu_snapshot() {
    local args=() name pid
    while read -r name pid; do args+=("$name=$pid"); done < <(procs)
    # supervisord carries the services' log lines.
    pid=$(s_supervisor_pid) && args+=("supervisord=$pid")
    [[ -n ${peer_pid:-} ]] && args+=("peer=$peer_pid")
    /usr/bin/python3 "$bench_dir/cpu_snapshot.py" "$pg_pm" "${args[@]}" >"$1"
}

# shellcheck source=tests/bench/ticks.sh
source "$bench_dir/ticks.sh"

# Prints the CPU used between two snapshots as k=v words: per operation in
# ms (gw, broker, cust = every copy, pg, rest = the suite's other programs:
# notes, search, notify, ... and supervisord, following what the requests
# changed; client = wrk or pgbench) and, in cores, what the rest of the
# machine used meanwhile (other: jobs outside the benchmark) and steal.
# $1, $2: snapshot files; $3: operations done; $4: the client's clock ticks.
cpu_delta() {
    awk -v n="$3" -v client="$4" -v hz="$hz" '
        FNR == NR { a[$1] = $2; next }
        ($1 in a) { d[$1] = $2 - a[$1] }
        END {
            secs = d["clock"] > 0 ? d["clock"] : 1
            cust = 0
            rest = 0
            for (k in d) {
                if (k ~ /^customers-/) cust += d[k]
                else if (k !~ /^(clock|machine|steal|postgres|gateway|broker|peer)$/) rest += d[k]
            }
            ours = d["gateway"] + d["broker"] + cust + rest + d["postgres"] + d["peer"] + client
            ms = 1000 / hz / (n > 0 ? n : 1)
            printf "gw=%.3f broker=%.3f cust=%.3f rest=%.3f pg=%.3f client=%.3f peer=%.3f other=%.2f steal=%.2f\n",
                   d["gateway"] * ms, d["broker"] * ms, cust * ms, rest * ms, d["postgres"] * ms,
                   client * ms, d["peer"] * ms, (d["machine"] - ours) / hz / secs,
                   d["steal"] / hz / secs
        }' "$1" "$2"
}

# Value of key=... in a line of "k=v" words.
kv() { sed -n "s/.*[[:space:]]$2=\\([^[:space:]]*\\).*/\\1/p" <<<" $1" | head -n 1; }

declare -A W_RPS W_P50 W_P99 W_BAD W_ERR W_CPU P_TPS P_P50 P_P99 P_FAIL P_CPU
bad_total=0

# Runs wrk: $1 phase name, $2 script, $3 tag, $4 seconds, $5 connections,
# $6 threads; stores the parsed figures under $1 (show_wrk prints them).
run_wrk() {
    local phase=$1 script=$2 tag=$3 secs=$4 c=$5 t=$6 out line rc=0 c0 c1
    out="$tmp/wrk-$phase.txt"
    cpu_snapshot "$tmp/cpu-$phase.0"
    children_ticks
    c0=$CHILD_TICKS
    BENCH_LUA_DIR=$bench_dir timeout $((secs + 30)) wrk -t "$t" -c "$c" -d "${secs}s" \
        --timeout 5s --latency -s "$bench_dir/$script" "${TARGET_URL:-$STACK_URL}" -- "$tag" \
        >"$out" 2>&1 || rc=$?
    children_ticks
    c1=$CHILD_TICKS
    cpu_snapshot "$tmp/cpu-$phase.1"
    line=$(grep '^BENCH ' "$out" | tail -n 1 || true)
    if ((rc != 0)) || [[ -z $line ]]; then
        cat "$out"
        fail "wrk ($phase) exited with status $rc"
    fi
    W_RPS[$phase]=$(kv "$line" rps)
    W_P50[$phase]=$(kv "$line" p50_ms)
    W_P99[$phase]=$(kv "$line" p99_ms)
    W_BAD[$phase]=$(kv "$line" non2xx)
    W_ERR[$phase]=$(($(kv "$line" sock_errors) + $(kv "$line" timeouts)))
    W_CPU[$phase]=$(cpu_delta "$tmp/cpu-$phase.0" "$tmp/cpu-$phase.1" "$(kv "$line" requests)" \
        $((c1 - c0)))
}

# Prints the wrk report of a phase, indented, and complains loudly about failures.
show_wrk() {
    local phase=$1 cpu=${W_CPU[$1]}
    sed -e '/^BENCH/d' -e 's/^/    /' "$tmp/wrk-$phase.txt"
    echo "    CPU per request (ms): gateway $(kv "$cpu" gw), broker $(kv "$cpu" broker)," \
        "customers $(kv "$cpu" cust), the suite's other programs $(kv "$cpu" rest)," \
        "PostgreSQL $(kv "$cpu" pg), wrk $(kv "$cpu" client);" \
        "meanwhile other processes used $(kv "$cpu" other) cores, steal $(kv "$cpu" steal)"
    local bad=${W_BAD[$phase]} err=${W_ERR[$phase]}
    if ((bad != 0 || err != 0)); then
        echo "!!! $phase: $bad answers were not 2xx and $err requests failed or timed out;" \
            "first failures:"
        grep '^BENCH_ERROR' "$tmp/wrk-$phase.txt" | sed 's/^/!!!   /' || true
        bad_total=$((bad_total + bad + err))
    fi
}

# A short warm-up that must succeed entirely (checks the request is accepted).
warm_up() {
    local phase=$1 script=$2 tag=${3:-warm}
    run_wrk "warm-$phase" "$script" "$tag" 2 2 1
    if [[ ${W_BAD[warm-$phase]} != 0 || ${W_ERR[warm-$phase]} != 0 ]]; then
        cat "$tmp/wrk-warm-$phase.txt"
        fail "the $phase warm-up had failures: the request is not accepted"
    fi
}

# Runs pgbench: $1 name, $2 script, further arguments go to pgbench.
run_pgbench() {
    local name=$1 script=$2 out rc=0 p50 p99 c0 c1 n cpu
    shift 2
    out="$tmp/pgbench-$name.txt"
    cpu_snapshot "$tmp/cpu-pg-$name.0"
    children_ticks
    c0=$CHILD_TICKS
    timeout $((duration + 60)) "$pgbench" -n -M extended -c "$conns" -j "$threads" -T "$duration" \
        -f "$bench_dir/$script" -l --log-prefix="$tmp/pglog-$name" \
        -h "$STACK_PG_SOCKDIR" -p "$CRM_PG_PORT" -U postgres "$@" crm >"$out" 2>&1 || rc=$?
    children_ticks
    c1=$CHILD_TICKS
    cpu_snapshot "$tmp/cpu-pg-$name.1"
    sed 's/^/    /' "$out" | grep -Ev '^    (pgbench \(|transaction type|scaling factor|query mode|number of clients|number of threads|maximum number of tries|duration:)' || true
    if ((rc != 0)); then
        fail "pgbench ($name) exited with status $rc"
    fi
    P_TPS[$name]=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | head -n 1)
    P_FAIL[$name]=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out" | head -n 1)
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out" | head -n 1)
    # Per-transaction log: client, transaction number, latency in µs, ...
    read -r p50 p99 < <(cat "$tmp/pglog-$name".* | awk '{ print $3 }' |
        sort -n | awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "0 0"; exit }
            i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
            i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
            printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000 }')
    P_P50[$name]=$p50
    P_P99[$name]=$p99
    rm -f -- "$tmp/pglog-$name".*
    cpu=$(cpu_delta "$tmp/cpu-pg-$name.0" "$tmp/cpu-pg-$name.1" "${n:-0}" $((c1 - c0)))
    P_CPU[$name]=$cpu
    echo "    CPU per transaction (ms): PostgreSQL $(kv "$cpu" pg), pgbench $(kv "$cpu" client);" \
        "meanwhile other processes used $(kv "$cpu" other) cores, steal $(kv "$cpu" steal)"
}

ncpu=$(nproc)
hz=$(getconf CLK_TCK)
started=$SECONDS
echo "bench: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -n), nproc $ncpu," \
    "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "bench: numbers come from a shared 2-core machine that also runs wrk and PostgreSQL;" \
    "the suite/PostgreSQL ratios are the meaningful figure"
echo "bench: PostgreSQL runs with $durability (BENCH_PG_FAST=1: fsync off)"
echo "bench: load average before the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: $duration s per phase, $conns connections, $threads threads," \
    "$scale copies of customers; data $tmp"

stack_init "$build"
if ! { stack_pg_start && stack_migrate && stack_supervisor_start && stack_wait_ready 60; }; then
    fail "the suite did not start (see above)"
fi
pg_pm=$(s_pg_pid) || fail "no PostgreSQL postmaster"
# Ready can come before supervisord counts a program as started (startsecs).
for ((i = 0; i < 50; i++)); do
    stack_ctl status 2>/dev/null | awk '$2 != "RUNNING" { bad = 1 } END { exit bad }' && break
    sleep 0.2
done
echo "bench: suite ready at $STACK_URL ($(procs | awk '{ printf "%s%s", sep, $1; sep=", " }'))"

export BENCH_API_KEY=$CRM_BOOTSTRAP_API_KEY
run_tag="r$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"

declare -A RSS0 RSS1
while read -r name pid; do RSS0[$name]=$(rss_kib "$pid"); done < <(procs)

# The idle suite: heartbeats and the outbox relay's polling.
cpu_snapshot "$tmp/cpu-idle.0"
sleep 5
cpu_snapshot "$tmp/cpu-idle.1"
idle_cpu=$(cpu_delta "$tmp/cpu-idle.0" "$tmp/cpu-idle.1" 5 0)
echo "bench: idle for 5 s, CPU in ms per second: gateway $(kv "$idle_cpu" gw)," \
    "broker $(kv "$idle_cpu" broker), customers $(kv "$idle_cpu" cust)," \
    "PostgreSQL $(kv "$idle_cpu" pg)"

# ------------------------------------------------------------- the gateway
echo
echo "== 1. create: POST /v1/customers"
warm_up create create.lua
run_wrk create create.lua "$run_tag" "$duration" "$conns" "$threads"
show_wrk create

# The customers the create phase made, for get and patch.
sql "SELECT id FROM customers.customers WHERE email LIKE 'bench.$run_tag.%'" >"$tmp/ids.txt"
n_ids=$(wc -l <"$tmp/ids.txt")
((n_ids > 0)) || fail "the create phase made no customers"
export BENCH_IDS="$tmp/ids.txt"
# Fresh planner statistics, and no autovacuum work left over from the
# inserts to land on the read phases (the same is done for pgbench's table).
sql "VACUUM ANALYZE"

echo
echo "== 2. get: GET /v1/customers/{id} over the $n_ids customers of phase 1"
warm_up get get.lua
run_wrk get get.lua "$run_tag" "$duration" "$conns" "$threads"
show_wrk get

echo
echo "== 3. list: GET /v1/customers?pageSize=50&orderBy=lastName"
warm_up list list.lua
run_wrk list list.lua "$run_tag" "$duration" "$conns" "$threads"
show_wrk list

echo
echo "== 4. patch: PATCH /v1/customers/{id} (description) over the customers of phase 1"
warm_up patch patch.lua
run_wrk patch patch.lua "$run_tag" "$duration" "$conns" "$threads"
show_wrk patch

while read -r name pid; do RSS1[$name]=$(rss_kib "$pid"); done < <(procs)
n_customers=$(sql "SELECT count(*) FROM customers.customers")

# ------------------------------------------------------------- the Node.js peer
# The same four requests against tests/bench/peer/server.js, on a copy of the
# suite's customers (same ids, so get and patch use the same ids) in a table
# with the same columns and indexes, in the same cluster, with the same
# durability. Its own creates add rows as the suite's did.
peer_pid=
declare -A Q_RPS Q_P99 Q_CPU
if [[ ${BENCH_PEER:-1} == 1 ]]; then
    echo
    echo "== The Node.js peer: Fastify 5 + node-postgres 8, pool 16, one process"
    if [[ ! -d $bench_dir/peer/node_modules ]]; then
        (cd "$bench_dir/peer" && npm ci --no-audit --no-fund --loglevel=error) ||
            fail "npm ci in tests/bench/peer failed (the npm registry must be reachable)"
    fi
    sql "DROP SCHEMA IF EXISTS bench_peer CASCADE" >/dev/null
    sql "CREATE SCHEMA bench_peer; CREATE TABLE bench_peer.customers (LIKE customers.customers INCLUDING ALL)"
    sql "INSERT INTO bench_peer.customers SELECT * FROM customers.customers"
    sql "VACUUM ANALYZE bench_peer.customers"
    peer_tenant=$(sql "SELECT tenant_id FROM customers.customers WHERE email LIKE 'bench.$run_tag.%' LIMIT 1")
    peer_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    PEER_PORT=$peer_port PEER_KEY=$BENCH_API_KEY PEER_TENANT=$peer_tenant PEER_POOL=16 \
        PGHOST=$STACK_PG_SOCKDIR PGPORT=$CRM_PG_PORT PGDATABASE=crm PGUSER=postgres \
        node "$bench_dir/peer/server.js" >"$tmp/peer.log" 2>&1 &
    peer_pid=$!
    for ((i = 0; i < 100; i++)); do
        curl -fsS --noproxy '*' -o /dev/null -H "Authorization: Bearer $BENCH_API_KEY" \
            "http://127.0.0.1:$peer_port/v1/customers?pageSize=1" 2>/dev/null && break
        kill -0 "$peer_pid" 2>/dev/null || { cat "$tmp/peer.log"; fail "the peer exited"; }
        sleep 0.1
    done
    peer_rss0=$(rss_kib "$peer_pid")
    TARGET_URL="http://127.0.0.1:$peer_port"
    for op in create get list patch; do
        echo "-- peer $op"
        warm_up "peer-$op" "$op.lua" "pwarm$run_tag"
        run_wrk "peer-$op" "$op.lua" "p$run_tag" "$duration" "$conns" "$threads"
        show_wrk "peer-$op"
        Q_RPS[$op]=${W_RPS[peer-$op]} Q_P99[$op]=${W_P99[peer-$op]}
        Q_CPU[$op]=${W_CPU[peer-$op]}
    done
    unset TARGET_URL
    peer_rss1=$(rss_kib "$peer_pid")
    kill "$peer_pid" 2>/dev/null || true
    wait "$peer_pid" 2>/dev/null || true
    peer_pid=
    sql "DROP SCHEMA bench_peer CASCADE" >/dev/null
fi

# ------------------------------------------------------------- PostgreSQL
# A scratch copy of customers.customers (same columns, collations, defaults,
# indexes; no row-level security) with the same rows, whose ids are
# renumbered md5(1)..md5(n) so pgbench can pick one at random.
echo
echo "== PostgreSQL alone: pgbench on a scratch copy of customers.customers ($n_customers rows)"
sql "DROP SCHEMA IF EXISTS bench_pg CASCADE" >/dev/null
sql "CREATE SCHEMA bench_pg; CREATE TABLE bench_pg.customers (LIKE customers.customers INCLUDING ALL)"
sql "INSERT INTO bench_pg.customers (tenant_id, id, doc, first_name, last_name, email, email_key,
         phone, is_company, account_status, tags, version, created_at, updated_at, sort_last,
         sort_first)
     SELECT tenant_id, md5((row_number() OVER (ORDER BY id))::text)::uuid, doc, first_name,
            last_name, email, email_key, phone, is_company, account_status, tags, version,
            created_at, updated_at, sort_last, sort_first
       FROM customers.customers"
sql "VACUUM ANALYZE"
n_scratch=$(sql "SELECT count(*) FROM bench_pg.customers")
# One stored customer of phase 1 stands in for the document pgbench inserts.
IFS=$'\x1f' read -r tenant doc first last phone sortlast sortfirst < <(
    "$STACK_PG_BIN/psql" -X -q -At -F $'\x1f' -v ON_ERROR_STOP=1 -d "$CRM_DATABASE_URL" -c \
        "SELECT tenant_id, doc::text, first_name, last_name, phone, sort_last, sort_first
           FROM customers.customers WHERE email LIKE 'bench.$run_tag.%' ORDER BY id LIMIT 1")
[[ -n $tenant && -n $doc ]] || fail "no customer to copy for pgbench"
note="Wizyta: przełożona na czwartek, 15:30. Prefiere SMS."

echo "-- get: SELECT by primary key"
run_pgbench get pg_get.sql -D tenant="$tenant" -D n="$n_scratch"
echo "-- list: SELECT ... ORDER BY sort_last, id LIMIT 50"
run_pgbench list pg_list.sql -D tenant="$tenant"
echo "-- update: UPDATE one document by primary key"
run_pgbench update pg_update.sql -D tenant="$tenant" -D n="$n_scratch" -D note="$note"
echo "-- insert: INSERT one customer row"
run_pgbench insert pg_insert.sql -D tenant="$tenant" -D doc="$doc" -D first="$first" \
    -D last="$last" -D phone="$phone" -D sortlast="$sortlast" -D sortfirst="$sortfirst"
sql "DROP SCHEMA bench_pg CASCADE"
pg_failed=0
for k in get list update insert; do pg_failed=$((pg_failed + ${P_FAIL[$k]:-0})); done

# ------------------------------------------------------------- the report
echo
echo "== Results ($(date -u '+%Y-%m-%d'), nproc $ncpu, $duration s per phase, $conns connections," \
    "$threads threads; $durability)"
echo
printf '| %-9s | %10s | %8s | %8s | %7s | %-9s | %9s | %8s | %8s | %9s |\n' \
    operation "gateway/s" "p50 ms" "p99 ms" non-2xx pgbench "tps" "p50 ms" "p99 ms" "suite/PG"
printf '| %-9s | %10s | %8s | %8s | %7s | %-9s | %9s | %8s | %8s | %9s |\n' \
    -------- ---------: -------: -------: ------: --------- --------: -------: -------: --------:
declare -A PG_OF=([create]=insert [get]=get [list]=list [patch]=update)
for op in create get list patch; do
    pg=${PG_OF[$op]}
    ratio=$(awk -v a="${W_RPS[$op]}" -v b="${P_TPS[$pg]}" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
    printf '| %-9s | %10.0f | %8.2f | %8.2f | %7d | %-9s | %9.0f | %8.2f | %8.2f | %9s |\n' \
        "$op" "${W_RPS[$op]}" "${W_P50[$op]}" "${W_P99[$op]}" "$((W_BAD[$op] + W_ERR[$op]))" \
        "$pg" "${P_TPS[$pg]}" "${P_P50[$pg]}" "${P_P99[$pg]}" "$ratio"
done
echo
for op in create get list patch; do
    pg=${PG_OF[$op]}
    awk -v op="$op" -v a="${W_RPS[$op]}" -v b="${P_TPS[$pg]}" -v pg="$pg" 'BEGIN {
        printf "%s: %.0f req/s through the gateway = %.3f × pgbench %s %.0f tps\n",
               op, a, (b > 0 ? a / b : 0), pg, b }'
done
if [[ ${BENCH_PEER:-1} == 1 ]]; then
    echo
    echo "Against the Node.js peer (same requests, same PostgreSQL, $durability)"
    echo
    printf '| %-9s | %10s | %8s | %9s | %8s | %10s | %-26s |\n' \
        operation "suite/s" "p99 ms" "peer/s" "p99 ms" "suite/peer" "aim"
    printf '| %-9s | %10s | %8s | %9s | %8s | %10s | %-26s |\n' \
        -------- ---------: -------: --------: -------: ---------: --------------------------
    declare -A AIM=([get]="≥ 1.5×, p99 < 10 ms" [create]="≥ 1.2×, p99 < 25 ms"
        [patch]="≥ 1×" [list]="≥ 1×")
    for op in create get list patch; do
        awk -v op="$op" -v a="${W_RPS[$op]}" -v ap="${W_P99[$op]}" -v b="${Q_RPS[$op]}" \
            -v bp="${Q_P99[$op]}" -v aim="${AIM[$op]}" 'BEGIN {
            printf "| %-9s | %10.0f | %8.2f | %9.0f | %8.2f | %9.2f× | %-26s |\n",
                   op, a, ap, b, bp, (b > 0 ? a / b : 0), aim }'
    done
    echo
    echo "CPU per request of the peer (ms): $(for op in create get list patch; do
        printf '%s node %s PostgreSQL %s; ' "$op" "$(kv "${Q_CPU[$op]}" peer)" "$(kv "${Q_CPU[$op]}" pg)"
    done)"
    echo "peer RSS: $peer_rss0 KiB before its load, $peer_rss1 KiB after"
fi
echo
echo "CPU per operation, in ms (from /proc: user + system time / operations done)"
echo
printf '| %-9s | %7s | %7s | %9s | %7s | %10s | %7s | %7s | %-7s | %10s | %7s | %8s | %11s |\n' \
    operation gateway broker customers "others" PostgreSQL "suite" wrk pgbench PostgreSQL pgbench "PG ratio" "other load"
printf '| %-9s | %7s | %7s | %9s | %7s | %10s | %7s | %7s | %-7s | %10s | %7s | %8s | %11s |\n' \
    -------- ------: ------: --------: ------: ---------: ------: ------: ------- ---------: ------: ------: ----------:
for op in create get list patch; do
    pg=${PG_OF[$op]}
    w=${W_CPU[$op]}
    p=${P_CPU[$pg]}
    awk -v op="$op" -v pgname="$pg" -v gw="$(kv "$w" gw)" -v br="$(kv "$w" broker)" \
        -v cu="$(kv "$w" cust)" -v re="$(kv "$w" rest)" -v pg="$(kv "$w" pg)" \
        -v cl="$(kv "$w" client)" -v ppg="$(kv "$p" pg)" -v pcl="$(kv "$p" client)" \
        -v other="$(kv "$w" other)" 'BEGIN {
        printf "| %-9s | %7.3f | %7.3f | %9.3f | %7.3f | %10.3f | %7.3f | %7.3f | %-7s | %10.3f | %7.3f | %8.1f | %5.2f cores |\n",
               op, gw, br, cu, re, pg, gw + br + cu + re + pg, cl, pgname, ppg, pcl,
               (ppg > 0 ? pg / ppg : 0), other }'
done
echo
echo "suite = gateway + broker + customers (every copy) + others + PostgreSQL; others = the"
echo "suite's other programs (notes, search, notify, company, exchange) and supervisord, which"
echo "follow what the requests changed (a create's timeline row, its place in the index); PG"
echo "ratio = PostgreSQL CPU per request through the suite / per pgbench transaction; other load ="
echo "cores used meanwhile by processes outside the suite and this benchmark (other jobs)"
echo
printf '| %-12s | %13s | %13s |\n' process "RSS before" "RSS after"
printf '| %-12s | %13s | %13s |\n' ------------ ------------: ------------:
for name in $(printf '%s\n' "${!RSS1[@]}" | sort); do
    printf '| %-12s | %9s KiB | %9s KiB |\n' "$name" "${RSS0[$name]:-?}" "${RSS1[$name]}"
done
echo
echo "idle suite (5 s before the load), CPU in ms per second: gateway $(kv "$idle_cpu" gw)," \
    "broker $(kv "$idle_cpu" broker), customers $(kv "$idle_cpu" cust), PostgreSQL $(kv "$idle_cpu" pg)"
echo "customers in the database at the end: $n_customers" \
    "(phase 1 made $n_ids; the rest come from the warm-ups)"
echo "bench: took $((SECONDS - started)) s; numbers from a shared $ncpu-core machine:" \
    "compare the ratios, not the absolute rates"

if ((bad_total != 0 || pg_failed != 0)); then
    echo "!!! bench: $bad_total gateway requests were not 2xx or failed," \
        "$pg_failed pgbench transactions failed (see above)"
    exit 1
fi
status=0
