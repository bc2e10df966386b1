#!/usr/bin/env bash
# Benchmark of the customer's history (part of `make bench`): starts its own
# throw-away suite (like tests/bench/run.sh), then measures
#   1. intake over the bus: crmctl publish sends BENCH_HISTORY_EVENTS events
#      (half of them for one customer, the rest spread over 200), events/s
#      acknowledged, and until all are visible in the timeline: in batches
#      (notes.IngestEvents, crmctl's default), then as many events again of
#      other people one a request (notes.IngestEvent);
#   2. GET /v1/customers/{id}/timeline (first page of 50) and .../summary for
#      the customer with 5,000 events (wrk, p50 and p99);
#   3. PostgreSQL's own rate for the same timeline rows: pgbench inserting
#      into a scratch copy of notes.timeline, and the same first-page query;
# and prints the ratios.
# Usage: tests/bench/history.sh [BUILD]
# Knobs: BENCH_DURATION (seconds per wrk/pgbench phase, default 10),
# BENCH_CONNECTIONS (default 32), BENCH_HISTORY_EVENTS (default 10000: the
# big customer gets half), BENCH_SCALE_NOTES (copies of notes, default 1 as
# make run), BENCH_PG_FAST=1 (fsync off; default: make run's durable commits),
# BENCH_KEEP=1 (keep the data directory), BENCH_HISTORY_RULES (automation
# rules switched on before the intake, default 0: each starts on a quarter of
# the events and its condition never holds, docs/rules.md).
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"
build=${1:-build}
# shellcheck source=compose/stack.sh
source compose/stack.sh

duration=${BENCH_DURATION:-10}
conns=${BENCH_CONNECTIONS:-32}
events=${BENCH_HISTORY_EVENTS:-10000}
for v in duration conns events; do
    if ! [[ ${!v} =~ ^[1-9][0-9]{0,6}$ ]]; then
        echo "bench: $v: invalid value \"${!v}\"" >&2
        exit 2
    fi
done
rules=${BENCH_HISTORY_RULES:-0}
[[ $rules =~ ^[0-9]{1,2}$ ]] || { echo "bench: rules: invalid value \"$rules\"" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench: wrk is not installed" >&2; exit 2; }
pgbench="$STACK_PG_BIN/pgbench"

while read -r var; do
    [[ $var == CRM_* ]] && unset "$var"
done < <(compgen -e)
stack_throwaway crm-hbench hbench-admin 1
export CRM_SCALE_NOTES=${BENCH_SCALE_NOTES:-1}
STACK_PG_FAST=${BENCH_PG_FAST:-0} # make run's durable commits unless asked
echo "bench: PostgreSQL with $([[ $STACK_PG_FAST == 1 ]] && echo "fsync off" || echo "durable commits"), $CRM_SCALE_NOTES copy of notes, 1 of customers"
# shellcheck source=tests/bench/lib.sh
source "$root/tests/bench/lib.sh"

stack_init "$build"
{ stack_pg_start && stack_migrate && stack_supervisor_start && stack_wait_ready 60; } ||
    fail "the suite did not start"
key=$CRM_BOOTSTRAP_API_KEY

# Rules that every intake event of their trigger starts (the run is written
# with the event; the worker reads the customer after the commit, and skips).
triggers=(ORDER_PLACED ORDER_PAID BOOKING_MADE VISIT_COMPLETED)
for ((i = 0; i < rules; i++)); do
    body=$(printf '{"name":"bench %d","enabled":true,"trigger":"RULE_TRIGGER_%s","conditions":[{"kind":"RULE_CONDITION_HAS_TAG","value":"bench-never"}],"actions":[{"kind":"RULE_ACTION_ADD_TAG","value":"bench"}]}' \
        "$i" "${triggers[i % 4]}")
    curl -fsS -o /dev/null -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
        -d "$body" "$STACK_URL/v1/rules" || fail "could not create rule $i"
done
# Deadlocks PostgreSQL detected in the suite's database so far. The
# statistics reach pg_stat_database within a second of a transaction's end:
# read after the intake's events are all visible, which takes longer.
deadlocks() { sql "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"; }
big=$((events / 2))
# intake_phase PREFIX LABEL PUBLISH_OPTION...: BENCH_HISTORY_EVENTS events of
# people and bookings of their own (ids prefixed), sent by crmctl publish with
# the options given, then until all are visible in the timeline.
intake_phase() {
    local prefix=$1 label=$2
    shift 2
    echo "== history: intake of $events events over the bus (crmctl publish $label), $rules rules on"
    /usr/bin/python3 - "$events" "$big" "$prefix" >"$tmp/events.jsonl" <<'PY'
import json, sys
n, big, pre = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for i in range(n):
    # A booking's events (created, attended, moved) are all of one person, as
    # a booking system sends them: a booking's person is that of its first event.
    first = i if i % 4 == 3 else 3 * (i // 3)
    who = pre + ("big" if first < big else "c%d" % (first % 200))
    person = {"externalId": "bench-" + who, "firstName": "Bench", "lastName": who,
              "email": "bench-%s@example.test" % who}
    day = 1 + i % 28
    if i % 4 == 3:
        ev = {"source": "store", "type": ["order.placed", "order.paid"][i % 2],
              "order": {"id": "%so%d" % (pre, i // 2), "total": {"amountMinor": 1000 + i % 5000, "currency": "PLN"},
                        "items": [{"name": "Item %d" % (i % 9), "quantity": 1, "amountMinor": 1000}]}}
    else:
        ev = {"source": "booking", "type": ["booking.created", "booking.attended", "booking.moved"][i % 3],
              "booking": {"id": "%sb%d" % (pre, i // 3), "service": "Service %d" % (i % 11), "staff": "Eva",
                          "startsAt": "2025-%02d-%02dT10:00:00Z" % (1 + i % 12, day)}}
    ev.update({"eventId": "%se%d" % (pre, i), "occurredAt": "2025-%02d-%02dT%02d:%02d:00Z" % (1 + i % 12, day, i % 24, i % 60),
               "customer": person})
    print(json.dumps(ev))
PY
    local before deadlocks0
    before=$(sql "SELECT count(*) FROM notes.timeline WHERE event_id <> '' AND source IN ('booking','store')")
    deadlocks0=$(deadlocks)
    # CPU of each program from the first event sent until the last is visible:
    cpu_snapshot "$tmp/cpu.0"
    local t0 t_ack t_vis c0 crmctl_ticks
    t0=$(now_ms)
    children_ticks
    c0=$CHILD_TICKS
    "$STACK_BIN/crmctl" publish --key "$key" --give-up-s 600 "$@" <"$tmp/events.jsonl" \
        >"$tmp/publish.txt" 2>"$tmp/publish.err" || { cat "$tmp/publish.err"; fail "crmctl publish"; }
    t_ack=$(now_ms)
    children_ticks
    crmctl_ticks=$((CHILD_TICKS - c0))
    while (($(sql "SELECT count(*) FROM notes.timeline WHERE event_id <> '' AND source IN ('booking','store')") < before + events)); do
        (($(now_ms) - t0 < 600000)) || fail "events did not all reach the timeline"
        sleep 0.05
    done
    t_vis=$(now_ms)
    cpu_snapshot "$tmp/cpu.1"
    local ack_rate vis_rate
    ack_rate=$(awk -v n="$events" -v ms=$((t_ack - t0)) 'BEGIN { printf "%.0f", n * 1000 / ms }')
    vis_rate=$(awk -v n="$events" -v ms=$((t_vis - t0)) 'BEGIN { printf "%.0f", n * 1000 / ms }')
    echo "    $(cat "$tmp/publish.txt")"
    echo "    acknowledged: $ack_rate events/s; all visible in the timeline after $((t_vis - t0)) ms ($vis_rate events/s)"
    echo "    deadlocks: $(($(deadlocks) - deadlocks0)) (pg_stat_database)"
    ACK_RATE[$prefix]=$ack_rate
    VIS_RATE[$prefix]=$vis_rate
    if ((rules > 0)); then
        echo "    for the rules: $(sql "SELECT count(*) FROM notes.rule_events") events waiting, $(sql "SELECT count(*) FROM notes.rule_runs") runs made"
        # The rules' work after the intake: until every run has ended.
        while (($(sql "SELECT (SELECT count(*) FROM notes.rule_events) + (SELECT count(*) FROM notes.rule_runs WHERE status = 'PENDING')") > 0)); do
            (($(now_ms) - t0 < 900000)) || fail "the rules' runs did not all end"
            sleep 0.2
        done
        local t_rules n_runs
        t_rules=$(now_ms)
        n_runs=$(sql "SELECT count(*) FROM notes.rule_runs")
        echo "    every run ended $((t_rules - t0)) ms after the first event: $n_runs runs in all, $(awk -v n="$n_runs" -v ms=$((t_rules - t0)) 'BEGIN { printf "%.0f", n * 1000 / ms }') runs/s with one copy of notes"
    fi
    awk -v n="$events" -v hz="$(getconf CLK_TCK)" -v cc="$crmctl_ticks" '
        FNR == NR { a[$1] = $2; next }
        $1 == "machine" { m = $2 - a[$1] }
        $1 != "clock" && $1 != "machine" && $1 != "steal" && ($1 in a) {
            line = line sprintf(" %s %.2f,", $1, ($2 - a[$1]) * 1000 / hz / n); t += $2 - a[$1] }
        END { printf "    CPU ms per event:%s crmctl %.2f; suite %.2f, machine %.2f\n", line,
                  cc * 1000 / hz / n, (t + cc) * 1000 / hz / n, m * 1000 / hz / n }' \
        "$tmp/cpu.0" "$tmp/cpu.1"
}
# shellcheck source=tests/bench/ticks.sh
source "$root/tests/bench/ticks.sh"
declare -A ACK_RATE VIS_RATE
# As a publisher that batches (crmctl's default: notes.IngestEvents, 50
# events a request, 16 requests in flight), then one event a request
# (notes.IngestEvent, 64 in flight), each with people of its own.
intake_phase b "batches of 50, window 16"
intake_phase "s" "--batch 1 --window 64: one event a request" --batch 1 --window 64

cid=$(sql "SELECT customer_id FROM notes.intake WHERE event_id = 'be0'")
n_big=$(sql "SELECT count(*) FROM notes.timeline WHERE customer_id = '$cid'")
echo "== history: reads of a customer with $n_big timeline entries ($cid), wrk -c $conns -d ${duration}s"
declare -A P50 P99 RPS
wrk_phase() {
    local name=$1 path=$2 out="$tmp/wrk-$1.txt"
    timeout $((duration + 30)) wrk -t 2 -c "$conns" -d "${duration}s" --latency --timeout 5s \
        -H "Authorization: Bearer $key" "$STACK_URL$path" >"$out" 2>&1 || fail "wrk $name"
    grep -q "Non-2xx" "$out" && { cat "$out"; fail "$name: answers that were not 2xx"; }
    RPS[$name]=$(awk '/^Requests\/sec/ { print $2 }' "$out")
    P50[$name]=$(awk '$1 == "50%" { print $2 }' "$out")
    P99[$name]=$(awk '$1 == "99%" { print $2 }' "$out")
    echo "    $name: ${RPS[$name]} req/s, p50 ${P50[$name]}, p99 ${P99[$name]}"
}
# A wrk phase with the CPU each program used per request (wrk's own apart).
wrk_cpu_phase() {
    local name=$1 n
    cpu_snapshot "$tmp/cpu.$name.0"
    wrk_phase "$@"
    cpu_snapshot "$tmp/cpu.$name.1"
    n=$(awk '/requests in/ { print $1 }' "$tmp/wrk-$name.txt")
    awk -v n="$n" -v hz="$(getconf CLK_TCK)" '
        FNR == NR { a[$1] = $2; next }
        $1 == "machine" { m = $2 - a[$1] }
        $1 != "clock" && $1 != "machine" && $1 != "steal" && ($1 in a) {
            line = line sprintf(" %s %.3f,", $1, ($2 - a[$1]) * 1000 / hz / n); t += $2 - a[$1] }
        END { printf "      CPU ms per request:%s suite %.3f, machine %.3f\n", line,
                  t * 1000 / hz / n, m * 1000 / hz / n }' \
        "$tmp/cpu.$name.0" "$tmp/cpu.$name.1"
}
wrk_cpu_phase timeline "/v1/customers/$cid/timeline?pageSize=50"
wrk_cpu_phase timeline-bookings "/v1/customers/$cid/timeline?pageSize=50&kind=BOOKING"
wrk_cpu_phase summary "/v1/customers/$cid/summary"

echo "== PostgreSQL alone (pgbench -c $conns -T $duration): the same rows and the same query"
sql "CREATE TABLE public.bench_timeline (LIKE notes.timeline INCLUDING ALL)"
cat >"$tmp/pg_insert.sql" <<SQL
INSERT INTO public.bench_timeline (tenant_id, customer_id, occurred_at, kind, type, source, event_id, details)
VALUES ('00000000-0000-4000-8000-000000000001', '$cid', now() - random() * interval '300 days', 'BOOKING',
        'booking.created', 'booking', 'pg-' || :client_id || '-' || random(),
        '{"booking": {"id": "b1", "service": "Service 3", "staff": "Eva", "startsAt": "2025-03-01T10:00:00Z"}}');
SQL
cat >"$tmp/pg_page.sql" <<SQL
SELECT id, kind, type, occurred_at, source, actor, event_id, details::text FROM notes.timeline
 WHERE tenant_id = '00000000-0000-4000-8000-000000000001' AND customer_id = '$cid'
 ORDER BY occurred_at DESC, id DESC LIMIT 51;
SQL
pg_run() {
    local name=$1 script=$2 out="$tmp/pgbench-$1.txt"
    timeout $((duration + 60)) "$pgbench" -n -M prepared -c "$conns" -j 2 -T "$duration" -f "$script" \
        -h "$STACK_PG_SOCKDIR" -p "$CRM_PG_PORT" -U postgres crm >"$out" 2>&1 || { cat "$out"; fail "pgbench $name"; }
    PG_TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | head -n 1)
    PG_LAT=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$out" | head -n 1)
    echo "    $name: $PG_TPS tps, mean latency $PG_LAT ms"
}
pg_run insert "$tmp/pg_insert.sql"
insert_tps=$PG_TPS
pg_run page "$tmp/pg_page.sql"
page_tps=$PG_TPS

echo "== history: summary"
printf '    %-42s %12s %12s %12s\n' "what" "suite" "PostgreSQL" "ratio"
for pre in b s; do
    how=$([[ $pre == b ]] && echo "batches" || echo "one a request")
    printf '    %-42s %12s %12.0f %11.1f%%\n' "intake acknowledged, $how (events/s)" "${ACK_RATE[$pre]}" \
        "$insert_tps" "$(awk -v a="${ACK_RATE[$pre]}" -v b="$insert_tps" 'BEGIN { print 100 * a / b }')"
    printf '    %-42s %12s %12.0f %11.1f%%\n' "intake visible, $how (events/s)" "${VIS_RATE[$pre]}" \
        "$insert_tps" "$(awk -v a="${VIS_RATE[$pre]}" -v b="$insert_tps" 'BEGIN { print 100 * a / b }')"
done
printf '    %-42s %12s %12.0f %11.1f%%\n' "timeline first page (req/s)" "${RPS[timeline]}" "$page_tps" \
    "$(awk -v a="${RPS[timeline]}" -v b="$page_tps" 'BEGIN { print 100 * a / b }')"
printf '    %-42s %12s\n' "timeline p50 / p99" "${P50[timeline]} / ${P99[timeline]}"
printf '    %-42s %12s\n' "summary p50 / p99" "${P50[summary]} / ${P99[summary]}"
status=0
