#!/usr/bin/env bash
# Benchmark of the store's price question (part of `make bench`): starts its
# own throw-away suite (like tests/bench/run.sh), fills the default tenant
# with BENCH_PRICES_CUSTOMERS customers (tags and groups spread over them)
# and BENCH_PRICES_RULES price rules (default 1000, the most a business may
# have: a tenth of them the
# customers' own, the rest on tags and groups, on everything, categories and
# products), then measures in the same run
#   1. GET /v1/customers/{id} of random customers (wrk), the reference;
#   2. POST /v1/prices:quote of a five-line cart for random customers (wrk);
# and prints the quote's rate and latency as a ratio of the GET's. Both are
# one statement in PostgreSQL behind the gateway and the broker.
# Usage: tests/bench/prices.sh [BUILD]
# Knobs: BENCH_DURATION (seconds per phase, default 10), BENCH_CONNECTIONS
# (default 32), BENCH_PRICES_CUSTOMERS (default 10000), BENCH_PRICES_RULES
# (default 1000, at most 1000), BENCH_PG_FAST=1 (fsync
# off; default: make run's durable commits), BENCH_KEEP=1 (keep the data).
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"
build=${1:-build}
bench_dir="$root/tests/bench"
# shellcheck source=compose/stack.sh
source compose/stack.sh

duration=${BENCH_DURATION:-10}
conns=${BENCH_CONNECTIONS:-32}
customers=${BENCH_PRICES_CUSTOMERS:-10000}
rules=${BENCH_PRICES_RULES:-1000}
for v in duration conns customers rules; do
    if ! [[ ${!v} =~ ^[1-9][0-9]{0,6}$ ]]; then
        echo "bench: $v: invalid value \"${!v}\"" >&2
        exit 2
    fi
done
command -v wrk >/dev/null || { echo "bench: wrk is not installed" >&2; exit 2; }

while read -r var; do
    [[ $var == CRM_* ]] && unset "$var"
done < <(compgen -e)
stack_throwaway crm-pbench pbench-admin 1
STACK_PG_FAST=${BENCH_PG_FAST:-0} # make run's durable commits unless asked
durability=$([[ $STACK_PG_FAST == 1 ]] && echo "fsync off" || echo "durable commits")
# shellcheck source=tests/bench/lib.sh
source "$root/tests/bench/lib.sh"

stack_init "$build"
{ stack_pg_start && stack_migrate && stack_supervisor_start && stack_wait_ready 60; } ||
    fail "the suite did not start"
export BENCH_API_KEY=$CRM_BOOTSTRAP_API_KEY
echo "bench: prices, $duration s per phase, $customers customers, PostgreSQL with $durability; data $tmp"

# The data, straight into the tables (as the service's own writes would leave
# them: a customer's doc holds its fields, the columns what is looked up).
tenant=00000000-0000-4000-8000-000000000001
sql "INSERT INTO customers.groups (tenant_id, id, name, name_key)
     SELECT '$tenant', gen_random_uuid(), 'Bench ' || g, 'bench ' || g FROM generate_series(0, 9) g"
sql "INSERT INTO customers.customers (tenant_id, id, doc, first_name, last_name, email, email_key,
                                      tags, sort_first, sort_last)
     SELECT '$tenant', gen_random_uuid(),
            jsonb_build_object('firstName', 'Ann' || i, 'lastName', 'Bench', 'email',
                               'ann' || i || '@bench.example', 'tags', jsonb_build_array('tag-' || (i % 20))),
            'Ann' || i, 'Bench', 'ann' || i || '@bench.example', 'ann' || i || '@bench.example',
            ARRAY['tag-' || (i % 20)], 'ann' || i, 'bench'
       FROM generate_series(1, $customers) i"
sql "INSERT INTO customers.customer_groups (tenant_id, customer_id, group_id)
     SELECT c.tenant_id, c.id, g.id FROM customers.customers c
       JOIN customers.groups g ON g.tenant_id = c.tenant_id AND g.name = 'Bench ' || (abs(hashtext(c.id::text)) % 10)
      WHERE c.tenant_id = '$tenant'"
# BENCH_PRICES_RULES rules (at most 1000, the limit): a tenth the customers'
# own, the rest half on tags and half on groups; a third each on
# everything, a category, a product.
((rules <= 1000)) || fail "BENCH_PRICES_RULES: at most 1000 (a business's limit)"
own=$((rules / 10)) by_tag=$(((rules - rules / 10) / 2))
by_group=$((rules - own - by_tag))
sql "INSERT INTO customers.price_rules (tenant_id, id, customer_id, target, code, percent_off_bp)
     SELECT '$tenant', gen_random_uuid(), id, 1 + (n % 3),
            CASE n % 3 WHEN 0 THEN '' WHEN 1 THEN 'cat-' || (n % 10) ELSE 'SKU-' || (n % 200) END,
            100 + n % 2000
       FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM customers.customers
              WHERE tenant_id = '$tenant' LIMIT $own) c"
sql "INSERT INTO customers.price_rules (tenant_id, id, tag, target, code, amount_off_minor)
     SELECT '$tenant', gen_random_uuid(), 'tag-' || (n % 20), 1 + (n % 3),
            CASE n % 3 WHEN 0 THEN '' WHEN 1 THEN 'cat-' || (n % 10) ELSE 'SKU-' || (n % 200) END,
            50 + n % 500
       FROM generate_series(1, $by_tag) n"
sql "INSERT INTO customers.price_rules (tenant_id, id, group_id, target, code, percent_off_bp)
     SELECT '$tenant', gen_random_uuid(), g.id, 1 + (n % 3),
            CASE n % 3 WHEN 0 THEN '' WHEN 1 THEN 'cat-' || (n % 10) ELSE 'SKU-' || (n % 200) END,
            100 + n % 3000
       FROM generate_series(1, $by_group) n
       JOIN customers.groups g ON g.tenant_id = '$tenant' AND g.name = 'Bench ' || (n % 10)"
sql "ANALYZE customers.customers; ANALYZE customers.customer_groups; ANALYZE customers.price_rules"
rules=$(sql "SELECT count(*) FROM customers.price_rules WHERE tenant_id = '$tenant'")
per=$(sql "SELECT round(avg(n), 1) FROM (SELECT (SELECT count(*) FROM customers.price_rules r
             WHERE r.tenant_id = c.tenant_id AND (r.customer_id = c.id OR r.tag = ANY (c.tags)
                OR r.group_id IN (SELECT group_id FROM customers.customer_groups cg
                                   WHERE cg.tenant_id = c.tenant_id AND cg.customer_id = c.id))) n
             FROM customers.customers c WHERE c.tenant_id = '$tenant' LIMIT 1000) x")
sql "SELECT id FROM customers.customers WHERE tenant_id = '$tenant' ORDER BY random() LIMIT 2000" \
    >"$tmp/ids.txt"
export BENCH_IDS="$tmp/ids.txt"
echo "    $rules price rules, $per on average for a customer"

# A quote must price: one request by hand, its answer checked.
one=$(head -n 1 "$tmp/ids.txt")
answer=$(curl -fsS --noproxy '*' -H "Authorization: Bearer $BENCH_API_KEY" -H 'Content-Type: application/json' \
    -d "{\"customerId\":\"$one\",\"lines\":[{\"productCode\":\"SKU-1\",\"categoryCode\":\"cat-1\",\"quantity\":1,\"unitPriceMinor\":\"10000\"}]}" \
    "$STACK_URL/v1/prices:quote") || fail "the first quote"
grep -q '"rule":{' <<<"$answer" || fail "the first quote applied no rule: $answer"

# CPU is read before and after each phase (lib.sh's cpu_snapshot): ms of CPU per request of process $3 (all: every one) between snapshots $1 and $2, $4 requests.
cpu_ms() {
    awk -v who="$3" -v n="$4" -v hz="$(getconf CLK_TCK)" '
        FNR == NR { a[$1] = $2; next }
        $1 != "clock" && $1 != "machine" && $1 != "steal" && ($1 in a) &&
            (who == "all" || index($1, who) == 1) { t += $2 - a[$1] }
        END { printf "%.3f", (n > 0 ? t * 1000 / hz / n : 0) }' "$1" "$2"
}

declare -A RPS P50 P99 CPU CPU_PG CPU_CUST CPU_GW
# Runs wrk: $1 name, $2 script, $3 seconds (default BENCH_DURATION).
wrk_phase() {
    local name=$1 script=$2 secs=${3:-$duration} out="$tmp/wrk-$1.txt" line n
    cpu_snapshot "$tmp/cpu-$name.0"
    BENCH_LUA_DIR=$bench_dir timeout $((secs + 30)) wrk -t 2 -c "$conns" -d "${secs}s" \
        --timeout 10s --latency -s "$bench_dir/$script" "$STACK_URL" -- "prices" >"$out" 2>&1 ||
        { cat "$out"; fail "wrk $name"; }
    cpu_snapshot "$tmp/cpu-$name.1"
    line=$(grep '^BENCH ' "$out" | tail -n 1)
    [[ -n $line ]] || { cat "$out"; fail "wrk $name printed no figures"; }
    n=$(sed -n 's/.* requests=\([^ ]*\).*/\1/p' <<<"$line")
    CPU[$name]=$(cpu_ms "$tmp/cpu-$name.0" "$tmp/cpu-$name.1" all "$n")
    CPU_PG[$name]=$(cpu_ms "$tmp/cpu-$name.0" "$tmp/cpu-$name.1" postgres "$n")
    CPU_CUST[$name]=$(cpu_ms "$tmp/cpu-$name.0" "$tmp/cpu-$name.1" customers "$n")
    CPU_GW[$name]=$(cpu_ms "$tmp/cpu-$name.0" "$tmp/cpu-$name.1" gateway "$n")
    if ! grep -q 'non2xx=0 sock_errors=0 timeouts=0' <<<"$line"; then
        cat "$out"
        fail "$name: answers that were not 2xx, or failed requests"
    fi
    RPS[$name]=$(sed -n 's/.* rps=\([^ ]*\).*/\1/p' <<<"$line")
    P50[$name]=$(sed -n 's/.* p50_ms=\([^ ]*\).*/\1/p' <<<"$line")
    P99[$name]=$(sed -n 's/.* p99_ms=\([^ ]*\).*/\1/p' <<<"$line")
    echo "    $name: ${RPS[$name]} req/s, p50 ${P50[$name]} ms, p99 ${P99[$name]} ms;" \
        "CPU per request ${CPU[$name]} ms (PostgreSQL ${CPU_PG[$name]}, customers" \
        "${CPU_CUST[$name]}, gateway ${CPU_GW[$name]})"
}

echo "== warming up (each copy's statements prepared, PostgreSQL's plans settled)"
wrk_phase warm-get get.lua 2
wrk_phase warm-quote prices.lua 2
echo "== 1. GET /v1/customers/{id} (wrk -c $conns), the reference"
wrk_phase get get.lua
echo "== 2. POST /v1/prices:quote, five lines (wrk -c $conns)"
wrk_phase quote prices.lua

echo
echo "== Results ($(date -u '+%Y-%m-%d'), nproc $(nproc), $duration s per phase; $durability)"
awk -v q="${RPS[quote]}" -v g="${RPS[get]}" -v q50="${P50[quote]}" -v g50="${P50[get]}" \
    -v q99="${P99[quote]}" -v g99="${P99[get]}" -v n="$rules" -v per="$per" 'BEGIN {
    printf "quote: %.0f req/s (p50 %.2f ms, p99 %.2f ms) = %.2f × GET customer, %.0f req/s (p50 %.2f ms, p99 %.2f ms)\n",
        q, q50, q99, (g > 0 ? q / g : 0), g, g50, g99
    printf "(a five-line cart; %d rules in the business, %s for a customer; both one statement)\n", n, per }'
awk -v q="${CPU[quote]}" -v g="${CPU[get]}" -v qp="${CPU_PG[quote]}" -v gp="${CPU_PG[get]}" 'BEGIN {
    printf "CPU per request, every process: quote %.3f ms = %.2f × GET %.3f ms (PostgreSQL %.3f vs %.3f ms)\n",
        q, (g > 0 ? q / g : 0), g, qp, gp }'
status=0
