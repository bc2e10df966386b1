#!/usr/bin/env bash
# Benchmark of import and export (part of `make bench`): starts its own
# throw-away suite (like tests/bench/run.sh), then measures
#   1. an import of BENCH_EXCHANGE_ROWS generated customers from one CSV file
#      (POST /v1/imports until the job is DONE), rows/s;
#   2. the export of the same customers as CSV and as XLSX
#      (GET /v1/customers:export), rows/s, with the CPU seconds each part of
#      the stack spent on the CSV (where the time goes); and the same CSV as
#      an export job (POST /v1/exports until DONE, then its file);
#   3. PostgreSQL's own COPY of the same file into a scratch table with the
#      same columns, and COPY of that table out, in the same run;
# prints the ratios, and the peak resident memory (VmHWM) of exchange and the
# gateway after all of it.
# Usage: tests/bench/exchange.sh [BUILD]
# Knobs: BENCH_EXCHANGE_ROWS (default 100000), BENCH_PG_FAST=1 (fsync off;
# default: make run's durable commits), BENCH_KEEP=1 (keep the data directory).
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"
build=${1:-build}
# shellcheck source=compose/stack.sh
source compose/stack.sh

rows=${BENCH_EXCHANGE_ROWS:-100000}
if ! [[ $rows =~ ^[1-9][0-9]{0,6}$ ]] || ((rows > 1000000)); then
    echo "bench: BENCH_EXCHANGE_ROWS: want 1..1000000, not \"$rows\"" >&2
    exit 2
fi
command -v curl >/dev/null || { echo "bench: curl is not installed" >&2; exit 2; }

while read -r var; do
    [[ $var == CRM_* ]] && unset "$var"
done < <(compgen -e)
# A workbook of every customer is built within one request.
export CRM_REQUEST_TIMEOUT_MS=600000
stack_throwaway crm-xbench xbench-admin 1
STACK_PG_FAST=${BENCH_PG_FAST:-0}
echo "bench: PostgreSQL with $([[ $STACK_PG_FAST == 1 ]] && echo "fsync off" || echo "durable commits"), one copy of each service"
# shellcheck source=tests/bench/lib.sh
source "$root/tests/bench/lib.sh"
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", n * 1000 / (ms > 0 ? ms : 1) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
hwm() { # peak resident memory of a program's process, in MB
    local pid
    pid=$(stack_ctl pid "$1" 2>/dev/null | tail -1)
    awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null || echo "?"
}

stack_init "$build"
{ stack_pg_start && stack_migrate && stack_supervisor_start && stack_wait_ready 60; } ||
    fail "the suite did not start"
key=$CRM_BOOTSTRAP_API_KEY
url=$STACK_URL

/usr/bin/python3 - "$rows" >"$tmp/book.csv" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout
out.write("firstName,lastName,email,phone,tags,billingCity,billingCountry,description\r\n")
for i in range(n):
    out.write("Bench%d,Person%d,bench%d@example.com,+4860%07d,bench,Kraków,PL,"
              "\"Customer %d, imported\"\r\n" % (i, i, i, i, i))
PY
size=$(stat -c %s "$tmp/book.csv")
echo "== import of $rows customers ($((size / 1024)) KiB of CSV)"
t0=$(now_ms)
id=$(curl -fsS -H "Authorization: Bearer $key" -H 'Content-Type: text/csv' \
    --data-binary @"$tmp/book.csv" "$url/v1/imports" | jq -r .id) || fail "POST /v1/imports"
state=
for ((i = 0; i < 36000; i++)); do
    job=$(curl -fsS -H "Authorization: Bearer $key" "$url/v1/imports/$id")
    state=$(jq -r .state <<<"$job")
    [[ $state == DONE || $state == FAILED ]] && break
    sleep 0.2
done
t1=$(now_ms)
[[ $state == DONE ]] || fail "the import ended $state: $(jq -c . <<<"$job")"
created=$(jq -r '.created // 0' <<<"$job")
((created == rows)) || fail "created $created of $rows: $(jq -c '.errors[0:3]' <<<"$job")"
import_ms=$((t1 - t0))
import_rate=$(rate "$rows" "$import_ms")
echo "import: $rows rows in $import_ms ms: $import_rate rows/s (peak so far: exchange $(hwm exchange:exchange-0) MB, customers $(hwm customers:customers-0) MB)"

# CPU ticks (user + system) so far of PostgreSQL (the postmaster's live
# backends) and of the gateway, exchange and customers, as "name ticks".
cpu_ticks() {
    local pm name pid
    pm=$(stack_ctl pid postgres 2>/dev/null | tail -1)
    {
        for pid in $(pgrep -P "$pm"); do awk '{ print "postgres", $14 + $15 }' "/proc/$pid/stat" 2>/dev/null; done
        for name in gateway exchange:exchange-0 customers:customers-0; do
            pid=$(stack_ctl pid "$name" 2>/dev/null | tail -1)
            awk -v n="${name%%:*}" '{ print n, $14 + $15 }' "/proc/$pid/stat" 2>/dev/null
        done
    } | awk '{ t[$1] += $2 } END { for (n in t) print n, t[n] }' | sort
}
# The CPU seconds between two cpu_ticks outputs, per part, on one line.
cpu_split() {
    join "$1" "$2" | awk -v hz="$(getconf CLK_TCK)" '{ d = ($3 - $2) / hz; all += d;
        printf "%s %.2f s, ", $1, d } END { printf "together %.2f s\n", all }'
}

echo "== export of $rows customers"
cpu_ticks >"$tmp/cpu.0"
t0=$(now_ms)
curl -fsS -H "Authorization: Bearer $key" -o "$tmp/out.csv" "$url/v1/customers:export" ||
    fail "CSV export"
t1=$(now_ms)
csv_ms=$((t1 - t0))
cpu_ticks >"$tmp/cpu.1"
lines=$(/usr/bin/python3 -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], encoding="utf-8-sig", newline=""))) - 1)' "$tmp/out.csv")
((lines == rows)) || fail "the CSV export has $lines rows, not $rows"
csv_rate=$(rate "$rows" "$csv_ms")
echo "export csv: $rows rows, $(($(stat -c %s "$tmp/out.csv") / 1024)) KiB in $csv_ms ms: $csv_rate rows/s (exchange's peak so far: $(hwm exchange:exchange-0) MB)"
echo "export csv: CPU $(cpu_split "$tmp/cpu.0" "$tmp/cpu.1")"
t0=$(now_ms)
curl -fsS -H "Authorization: Bearer $key" -o "$tmp/out.xlsx" "$url/v1/customers:export?format=xlsx" ||
    fail "XLSX export"
t1=$(now_ms)
xlsx_ms=$((t1 - t0))
xlsx_rate=$(rate "$rows" "$xlsx_ms")
echo "export xlsx: $(($(stat -c %s "$tmp/out.xlsx") / 1024)) KiB in $xlsx_ms ms: $xlsx_rate rows/s"

echo "== the same CSV as an export job (POST /v1/exports)"
t0=$(now_ms)
id=$(curl -fsS -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d '{}' \
    "$url/v1/exports" | jq -r .id) || fail "POST /v1/exports"
for ((i = 0; i < 36000; i++)); do
    job=$(curl -fsS -H "Authorization: Bearer $key" "$url/v1/exports/$id")
    state=$(jq -r .state <<<"$job")
    [[ $state == DONE || $state == FAILED ]] && break
    sleep 0.05
done
t1=$(now_ms)
[[ $state == DONE ]] || fail "the export job ended $state: $(jq -c . <<<"$job")"
curl -fsS -H "Authorization: Bearer $key" -o "$tmp/job.csv" "$url/v1/exports/$id/file" ||
    fail "the export job's file"
t2=$(now_ms)
cmp -s "$tmp/job.csv" "$tmp/out.csv" || fail "the export job's file is not the streamed export"
job_ms=$((t1 - t0))
job_rate=$(rate "$rows" "$job_ms")
echo "export job: built in $job_ms ms ($job_rate rows/s), downloaded in $((t2 - t1)) ms (exchange's peak so far: $(hwm exchange:exchange-0) MB)"

echo "== PostgreSQL's COPY of the same rows (scratch table, same columns)"
sql "CREATE TABLE public.bench_copy (first_name text, last_name text, email text, phone text,
     tags text, city text, country text, description text)"
t0=$(now_ms)
"$STACK_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$CRM_DATABASE_URL" \
    -c "\\copy public.bench_copy FROM '$tmp/book.csv' WITH (FORMAT csv, HEADER true)"
t1=$(now_ms)
copy_in_ms=$((t1 - t0))
t0=$(now_ms)
"$STACK_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$CRM_DATABASE_URL" \
    -c "\\copy public.bench_copy TO '$tmp/copy.csv' WITH (FORMAT csv, HEADER true)"
t1=$(now_ms)
copy_out_ms=$((t1 - t0))
copy_in_rate=$(rate "$rows" "$copy_in_ms")
copy_out_rate=$(rate "$rows" "$copy_out_ms")
sql "DROP TABLE public.bench_copy"
echo "COPY in: $copy_in_rate rows/s; COPY out: $copy_out_rate rows/s"

echo "== results ($rows rows)"
echo "import      $import_rate rows/s = $(ratio "$import_rate" "$copy_in_rate") x COPY in (aim: 0.33)"
echo "export csv  $csv_rate rows/s = $(ratio "$csv_rate" "$copy_out_rate") x COPY out (aim: 0.5)"
echo "export xlsx $xlsx_rate rows/s = $(ratio "$xlsx_rate" "$copy_out_rate") x COPY out"
echo "export job  $job_rate rows/s = $(ratio "$job_rate" "$copy_out_rate") x COPY out (CSV, built; then downloaded)"
echo "peak resident memory: exchange $(hwm exchange:exchange-0) MB, gateway $(hwm gateway) MB (aim: under 64 MB)"
status=0
