#!/usr/bin/env bash
# Where PostgreSQL's time goes per write: starts a throw-away suite with
# make run's defaults (durable commits, one copy each) and pg_stat_statements
# loaded, runs creates then patches for a few seconds each (wrk, 16
# connections), then the intake of 2,000 booking and store events over the
# bus (crmctl publish, window 64, 200 people), and prints, for each phase,
# every statement's calls, mean time (planning + execution, ms) and total
# time. Not part of make bench: a tool for finding the next statement to save.
# Usage: tests/bench/statements.sh [BUILD] [SECONDS]
set -euo pipefail
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"
build=${1:-build}
secs=${2:-5}
# shellcheck source=compose/stack.sh
source compose/stack.sh
stack_throwaway crm-statements statements-admin 1
STACK_PG_FAST=0
tmp=$CRM_DATA_DIR
trap 'stack_supervisor_stop || true; stack_pg_stop || true; rm -rf -- "$tmp"' EXIT
stack_init "$build"
stack_pg_start
sql() { "$STACK_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$CRM_DATABASE_URL" -c "$1"; }
sql "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
stack_ctl restart postgres >/dev/null
until "$STACK_PG_BIN/pg_isready" -q -h "$STACK_PG_SOCKDIR" -p "$CRM_PG_PORT" -U postgres \
    -d postgres; do sleep 0.2; done
sql "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
sql "ALTER SYSTEM SET pg_stat_statements.track_planning = on"
sql "SELECT pg_reload_conf()" >/dev/null
stack_migrate >/dev/null && stack_supervisor_start && stack_wait_ready 60
base="http://$CRM_HTTP_ADDR"
export BENCH_LUA_DIR=$root/tests/bench BENCH_API_KEY=$CRM_BOOTSTRAP_API_KEY
top() {
    echo "calls | ms/call | total ms | statement"
    sql "SELECT calls, round((total_exec_time + total_plan_time)::numeric / greatest(calls, 1), 3),
                round((total_exec_time + total_plan_time)::numeric, 0),
                left(regexp_replace(query, '\s+', ' ', 'g'), 100)
           FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'
          ORDER BY total_exec_time + total_plan_time DESC LIMIT 20"
}
for op in create patch; do
    if [[ $op == patch ]]; then
        sql "SELECT id FROM customers.customers LIMIT 2000" >"$tmp/ids"
        export BENCH_IDS=$tmp/ids
    fi
    sql "SELECT pg_stat_statements_reset()" >/dev/null
    echo "== $op: $secs s, 16 connections"
    wrk -t 2 -c 16 -d "${secs}s" -s "tests/bench/$op.lua" "$base" -- "st$op" | grep '^BENCH '
    top
done
/usr/bin/python3 - >"$tmp/events.jsonl" <<'PY'
import json
for i in range(2000):
    who = "p%d" % (i // 2 % 200)  # a booking's two events are of one person
    ev = {"source": "booking", "type": ["booking.created", "booking.attended"][i % 2],
          "eventId": "st-e%d" % i, "occurredAt": "2025-03-%02dT10:00:00Z" % (1 + i % 28),
          "customer": {"externalId": "st-" + who, "firstName": "Stat", "lastName": who,
                       "email": "st-%s@example.test" % who},
          "booking": {"id": "st-b%d" % (i // 2), "service": "Cut", "staff": "Eva",
                      "startsAt": "2025-03-%02dT10:00:00Z" % (1 + i % 28)}}
    print(json.dumps(ev))
PY
sql "SELECT pg_stat_statements_reset()" >/dev/null
echo "== intake: 2,000 events over the bus, window 64"
t0=$(date +%s%N)
"$STACK_BIN/crmctl" publish --key "$CRM_BOOTSTRAP_API_KEY" --window 64 <"$tmp/events.jsonl" >/dev/null
echo "acknowledged in $((($(date +%s%N) - t0) / 1000000)) ms"
top
