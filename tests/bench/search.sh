#!/usr/bin/env bash
# Search benchmark: a throw-away suite (like tests/bench/run.sh) with
# BENCH_CUSTOMERS customers (default 1,000,000; multilingual names) written
# straight into the customers schema by SQL, in the shape the customers
# service reads (doc jsonb plus columns). Then it starts the services and
# measures the search index's build time from an empty start and its resident
# memory, runs wrk through the gateway for 1-, 2-, 3-letter and two-word
# queries (at BENCH_CONNECTIONS, then at one connection: one member of staff
# typing), runs pgbench with the same queries on PostgreSQL (a prefix query on
# indexed lower-cased names and e-mail, and a pg_trgm query), and prints the
# ratios. docs/search.md explains the figures.
#
# Usage: tests/bench/search.sh [BUILD]
# Knobs: BENCH_CUSTOMERS (default 1000000), BENCH_DURATION (seconds per phase,
# default 10), BENCH_CONNECTIONS (default 32), BENCH_THREADS (default 2),
# BENCH_KEEP=1 (keep the data directory), BENCH_HOLD=1 (load, start, print the
# address, key and query files, then wait for Ctrl-C instead of measuring:
# for profiling by hand).
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"
build=${1:-build}
bench_dir="$root/tests/bench"
# shellcheck source=compose/stack.sh
source compose/stack.sh

n_customers=${BENCH_CUSTOMERS:-1000000}
duration=${BENCH_DURATION:-10}
conns=${BENCH_CONNECTIONS:-32}
threads=${BENCH_THREADS:-2}
for v in n_customers duration conns threads; do
    if ! [[ ${!v} =~ ^[1-9][0-9]{0,7}$ ]]; then
        echo "bench: $v: invalid value \"${!v}\": expected a positive number" >&2
        exit 2
    fi
done
command -v wrk >/dev/null || { echo "bench: wrk is not installed" >&2; exit 2; }

while read -r var; do
    [[ $var == CRM_* ]] && unset "$var"
done < <(compgen -e)
export CRM_SCALE_SEARCH=1

stack_throwaway crm-sbench sbench-admin 2
tmp=$CRM_DATA_DIR
export PGCLIENTENCODING=UTF8
status=1
cleanup() {
    trap '' INT TERM EXIT
    stack_supervisor_stop >/dev/null 2>&1 || true
    stack_pg_stop >/dev/null 2>&1 || true
    if ((status == 0)) && [[ ${BENCH_KEEP:-0} != 1 ]]; then
        rm -rf -- "$tmp"
    else
        echo "bench: kept the data directory: $tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
    echo "bench: FAILED: $*" >&2
    stack_report 20 >&2 || true
    exit 1
}
sql() { "$STACK_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$STACK_PG_SOCKDIR" \
    -p "$CRM_PG_PORT" -U postgres -d crm -c "$1"; }
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

stack_init "$build"
stack_pg_start && stack_migrate || fail "PostgreSQL or the migrations did not start"
tenant=00000000-0000-4000-8000-000000000001

echo "bench: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -n), nproc $(nproc);" \
    "$n_customers customers; $duration s per phase, $conns connections"

# ---------------------------------------------------------------- data
# Names from Polish, German, Czech, Nordic, Bulgarian (Cyrillic), Greek,
# French and Spanish: about 230 first names, and last names made of a root
# and one of its language's endings (about 2,000). Each customer gets a first
# and a last name by a hash of its number, an e-mail derived from them
# (first.last<n>@<domain>, a Latin stand-in for Cyrillic and Greek names) and
# a phone in one of eight countries.
t0=$SECONDS
sql "
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE TABLE sb_fn(i int, n text); CREATE TABLE sb_root(n text, lang text);
CREATE TABLE sb_ending(lang text, n text); CREATE TABLE sb_ln(i int, n text);
INSERT INTO sb_fn SELECT row_number() OVER () - 1, n FROM unnest(ARRAY[
 'Jan','Anna','Piotr','Katarzyna','Łukasz','Małgorzata','Krzysztof','Agnieszka','Paweł','Zofia',
 'Wojciech','Ewa','Michał','Joanna','Tomasz','Barbara','Grzegorz','Magdalena','Marcin','Beata',
 'Bartosz','Dorota','Jakub','Aleksandra','Kamil','Monika','Mateusz','Natalia','Rafał','Żaneta',
 'Jürgen','Günther','Klaus','Sabine','Jörg','Ute','Matthias','Birgit','Stefan','Andrea',
 'Wolfgang','Ursula','Dieter','Katrin','Uwe','Heike','Lars','Anke','Björn','Jürg',
 'Tomáš','Jiří','Petr','Lenka','Šárka','Jana','Martin','Věra','Ondřej','Kateřina',
 'Lukáš','Zdeněk','Hana','Radek','Eliška','Vojtěch','Tereza','Miloš','Ivana','Přemysl',
 'Søren','Øyvind','Åsa','Ingrid','Sven','Astrid','Nils','Sigrid','Erik','Karin',
 'Magnus','Freja','Ole','Liv','Gustav','Maja','Henrik','Linnéa','Tor','Ægir',
 'Иван','Мария','Дмитрий','Ольга','Георги','Елена','Петър','Надежда','Николай','Цветана',
 'Стоян','Йорданка','Христо','Радка','Васил','Милена','Борислав','Десислава','Асен','Гергана',
 'Γιώργος','Μαρία','Ελένη','Νίκος','Κωνσταντίνος','Σοφία','Δημήτρης','Αικατερίνη','Γιάννης','Βασιλική',
 'Παναγιώτης','Ευαγγελία','Χρήστος','Αθηνά','Σπύρος','Ιωάννα','Θανάσης','Δέσποινα','Άννα','Στέλιος',
 'François','Élodie','Jérôme','Céline','Benoît','Hélène','Loïc','Aurélie','Théo','Chloé',
 'Mathéo','Inès','Sébastien','Clémence','Gaëlle','Noël','Amélie','Yannick','Maëlle','Rémi',
 'José','María','Íñigo','Lucía','Álvaro','Begoña','Ramón','Inés','Martín','Sofía',
 'Jesús','Nuria','Andrés','Pilar','Joaquín','Ángela','Sergio','Montserrat','Óscar','Rocío',
 'Emil','Zoë','Đorđe','Claire','Chiara','Bruno','Adam','Ewelina','Oskar','Ida',
 'Filip','Julia','Leon','Nina','Hugo','Emma','Max','Lena','Viktor','Ada',
 'Kacper','Wiktoria','Szymon','Oliwia','Igor','Alicja','Dawid','Patrycja','Adrian','Karolina',
 'Felix','Greta','Moritz','Paula','Jonas','Marie','Elias','Luisa','Noah','Mila']) AS n;
INSERT INTO sb_root SELECT split_part(x, ':', 2), split_part(x, ':', 1) FROM unnest(ARRAY[
 'pl:Kowal','pl:Nowa','pl:Wiśniew','pl:Wój','pl:Kamiń','pl:Lewandow','pl:Zieliń','pl:Szyman',
 'pl:Woźni','pl:Dąbrow','pl:Kozłow','pl:Jankow','pl:Mazur','pl:Kwiatkow','pl:Krawczy','pl:Piotrow',
 'pl:Grabow','pl:Pawłow','pl:Michal','pl:Król','pl:Wieczor','pl:Jabłoń','pl:Wróbl','pl:Majew',
 'pl:Olszew','pl:Stępień','pl:Malinow','pl:Jaworsk','pl:Adamczy','pl:Dudek','pl:Nowicz','pl:Sobczy',
 'de:Müll','de:Schmid','de:Schneid','de:Fisch','de:Web','de:Meyer','de:Wagn','de:Beck',
 'de:Schulz','de:Hoffmann','de:Schäf','de:Koch','de:Bau','de:Richt','de:Klein','de:Wolf',
 'de:Schröd','de:Neumann','de:Schwarz','de:Zimmer','de:Braun','de:Krüg','de:Hofmann','de:Hartmann',
 'de:Lang','de:Werner','de:Krause','de:Lehmann','de:Köhl','de:Weiß','de:Jung','de:Hahn',
 'cz:Novák','cz:Svobod','cz:Novotn','cz:Dvořák','cz:Černý','cz:Procház','cz:Kučer','cz:Veselý',
 'cz:Horák','cz:Němec','cz:Marek','cz:Pospíšil','cz:Hájek','cz:Jelín','cz:Král','cz:Růžič',
 'cz:Beneš','cz:Fiala','cz:Sedláč','cz:Doležal','cz:Zeman','cz:Kolář','cz:Navrátil','cz:Čermák',
 'no:Hans','no:Johans','no:Ols','no:Lars','no:Anders','no:Pedders','no:Nils','no:Kristians',
 'no:Jens','no:Karls','no:Eriks','no:Sørens','no:Gustafs','no:Berg','no:Lund','no:Dahl',
 'no:Ødegård','no:Ångström','no:Björk','no:Holm','no:Strand','no:Nyg','no:Lindqvist','no:Sandvik',
 'bg:Петр','bg:Иван','bg:Георги','bg:Димитр','bg:Никол','bg:Стоян','bg:Тодор','bg:Христ',
 'bg:Ангел','bg:Васил','bg:Атанас','bg:Костадин','bg:Попов','bg:Михайл','bg:Колев','bg:Илиев',
 'bg:Йордан','bg:Маринов','bg:Станев','bg:Русев','bg:Кирил','bg:Цветков','bg:Добрев','bg:Симеон',
 'gr:Παπαδ','gr:Κωνσταντιν','gr:Γεωργί','gr:Νικολά','gr:Παππ','gr:Οικονόμ','gr:Βασιλεί','gr:Μακρ',
 'gr:Ιωάνν','gr:Δημητρί','gr:Αθανασ','gr:Χριστοδ','gr:Αντων','gr:Καραγιάνν','gr:Μιχαηλ','gr:Πετρ',
 'gr:Αλεξί','gr:Σταυρ','gr:Λαμπρ','gr:Θεοδωρ','gr:Ζαχαρ','gr:Σπυρ','gr:Ευαγγελ','gr:Κυριακ',
 'fr:Dubois','fr:Lefèv','fr:Martin','fr:Bern','fr:Thom','fr:Petit','fr:Rob','fr:Rich',
 'fr:Durand','fr:Moreau','fr:Laurent','fr:Simon','fr:Michel','fr:Garn','fr:Rousseau','fr:Blanc',
 'fr:Guér','fr:Boyer','fr:Chevali','fr:Fontaine','fr:Lemaît','fr:Gauthi','fr:Mercier','fr:Bonnet',
 'es:Garc','es:Fernánd','es:González','es:Rodrígu','es:López','es:Martín','es:Sánch','es:Pér',
 'es:Gómez','es:Muñoz','es:Álvar','es:Jiménez','es:Ruiz','es:Hernánd','es:Díaz','es:Moreno',
 'es:Núñez','es:Romero','es:Navarr','es:Torres','es:Domíngu','es:Gil','es:Vázqu','es:Ramos']) AS x;
INSERT INTO sb_ending SELECT split_part(x, ':', 1), split_part(x, ':', 2) FROM unnest(ARRAY[
 'pl:','pl:ski','pl:ska','pl:czyk','pl:ak','pl:ewicz','pl:owski','pl:iak','pl:ek','pl:owicz',
 'de:','de:er','de:mann','de:ner','de:ke','de:berg','de:rich','de:inger','de:hardt',
 'cz:','cz:ová','cz:ek','cz:ík','cz:a','cz:ák','cz:ský','cz:ka',
 'no:','no:en','no:sen','no:son','no:strom','no:qvist','no:gren','no:lund','no:dal',
 'bg:ов','bg:ова','bg:ев','bg:ева','bg:иев','bg:ски','bg:чев','bg:ов-Петров',
 'gr:όπουλος','gr:ίδης','gr:άκης','gr:ίου','gr:άτος','gr:ιάδης','gr:έας','gr:ού',
 'fr:','fr:re','fr:ier','fr:et','fr:ard','fr:eau','fr:in','fr:on',
 'es:','es:ía','es:ez','es:ado','es:ero','es:illa','es:es','es:o']) AS x;
INSERT INTO sb_ln SELECT row_number() OVER (ORDER BY n) - 1, n
  FROM (SELECT DISTINCT r.n || e.n AS n FROM sb_root r JOIN sb_ending e USING (lang)) s;
INSERT INTO customers.customers (tenant_id, id, doc, first_name, last_name, email, email_key,
    phone, is_company, account_status, tags, version, sort_last, sort_first)
SELECT '$tenant', md5('sbench' || g)::uuid,
       jsonb_build_object('firstName', f.n, 'lastName', l.n, 'email', e, 'phone', p,
                          'source', 'IMPORT'),
       f.n, l.n, e, lower(e), p, false, 0, '{}', 1, l.n || ' ' || f.n, f.n || ' ' || l.n
  FROM generate_series(1, $n_customers) g
  JOIN sb_fn f ON f.i = (hashint4(g) & 2147483647) % (SELECT count(*) FROM sb_fn)
  JOIN sb_ln l ON l.i = (hashint4(g + 1000000007) & 2147483647) % (SELECT count(*) FROM sb_ln)
 CROSS JOIN LATERAL (SELECT lower(unaccent(f.n)) AS fa, lower(unaccent(l.n)) AS la,
                     (ARRAY['gmail.com','wp.pl','onet.pl','web.de','gmx.de','seznam.cz',
                            'telia.se','abv.bg','otenet.gr','orange.fr','yahoo.es'])[1 + g % 11]
                     AS dom, (hashint4(g + 77) & 2147483647)::bigint AS h) a
 CROSS JOIN LATERAL (SELECT CASE WHEN a.fa ~ '^[a-z]+$' AND a.la ~ '^[a-z]+$' THEN
                     (CASE g % 3 WHEN 0 THEN a.fa || '.' || a.la WHEN 1 THEN left(a.fa, 1) || a.la
                      ELSE a.la || '_' || a.fa END) ELSE 'klient' END || g || '@' || a.dom AS e,
                     (ARRAY['+48','+49','+420','+46','+47','+359','+30','+33','+34'])[1 + g % 9]
                     || (500000000 + a.h % 400000000)::text AS p) x;
ANALYZE customers.customers;" || fail "loading customers"
# As after any bulk load: vacuumed now, not by autovacuum during the first
# measurements (it would take a core from whichever phase it lands in).
sql "VACUUM (ANALYZE) customers.customers" || fail "vacuuming customers"
sql "SELECT lower(n) FROM sb_fn" >"$tmp/first.txt" &&
    sql "SELECT lower(n) FROM sb_ln" >"$tmp/last.txt" || fail "reading the names back"
echo "bench: loaded $n_customers customers by SQL in $((SECONDS - t0)) s"
# And written out: the load leaves a gigabyte or more of dirty pages (PostgreSQL's
# buffers, then the kernel's page cache), which the kernel would otherwise write
# back 30 s later, into the first measurements.
t0=$SECONDS
sql "CHECKPOINT" && sync || fail "writing the load out"
echo "bench: checkpoint and sync in $((SECONDS - t0)) s"

search_started=$(date +%s.%N)
stack_supervisor_start && stack_wait_ready 300 || fail "the suite did not start"
export BENCH_API_KEY=$CRM_BOOTSTRAP_API_KEY
# The customers service reads what SQL wrote.
one=$(sql "SELECT id FROM customers.customers WHERE tenant_id = '$tenant' LIMIT 1")
code=$(curl -s -o "$tmp/one.json" -w '%{http_code}' -H "Authorization: Bearer $BENCH_API_KEY" \
    "$STACK_URL/v1/customers/$one")
[[ $code == 200 ]] || fail "GET of a loaded customer answered $code: $(cat "$tmp/one.json")"

# The index build: wait for search to answer, read its own figure from the log.
for ((i = 0; i < 600; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BENCH_API_KEY" \
        "$STACK_URL/v1/customers:search?q=a" || true)
    [[ $code == 200 ]] && break
    sleep 0.5
done
[[ $code == 200 ]] || fail "search did not become ready"
ready_s=$(echo "$(date +%s.%N) - $search_started" | bc)
built=$(grep -ho 'index loaded customers=[0-9]* seq=[0-9]* in [0-9]* ms' "$STACK_LOG_DIR"/search*.log |
    tail -n 1 || true)
spid=$(stack_ctl status 2>/dev/null | awk '$1 ~ /search/ { p = $4; sub(/,$/, "", p); print p; exit }')
rss=$(rss_kib "$spid")
echo "bench: search: ${built:-(no info log)}; answering $(printf '%.1f' "$ready_s") s after the start;" \
    "RSS $((rss / 1024)) MiB"

# ---------------------------------------------------------------- queries
hold_after_queries=${BENCH_HOLD:-0}
/usr/bin/python3 - "$tmp" <<'EOF'
import sys, random
tmp = sys.argv[1]
random.seed(7)
first = [w for w in open(f"{tmp}/first.txt").read().split("\n") if w]
last = [w for w in open(f"{tmp}/last.txt").read().split("\n") if w]
names = first + last
sets = {
  "q1": sorted({w[:1] for w in names}),
  "q2": sorted({w[:2] for w in names}),
  "q3": sorted({w[:3] for w in names}),
  "q22": sorted({random.choice(first) + " " + random.choice(last)[:3] for _ in range(300)}),
}
# The keystrokes before a two-word query ("jan k", "jan ko"), and part of a
# phone number (three to six digits, as typed): in process only.
typing = {
  "typed1": sorted({random.choice(first) + " " + random.choice(last)[:1] for _ in range(300)}),
  "typed2": sorted({random.choice(first) + " " + random.choice(last)[:2] for _ in range(300)}),
  "phone": sorted({"".join(random.choice("0123456789") for _ in range(random.randint(3, 6)))
                   for _ in range(300)}),
}
for name, qs in typing.items():
    with open(f"{tmp}/{name}.txt", "w") as f:
        f.write("\n".join(qs) + "\n")
for name, qs in sets.items():
    with open(f"{tmp}/{name}.txt", "w") as f:
        f.write("\n".join(qs) + "\n")
    # pgbench: the same queries, picked at random by index.
    arr = ",".join("'" + q.replace("'", "''") + "'" for q in qs)
    with open(f"{tmp}/{name}.n", "w") as f:
        f.write(str(len(qs)))
    with open(f"{tmp}/{name}.arr", "w") as f:
        f.write(arr)
EOF

cat >"$tmp/search.lua" <<'EOF'
-- GET /v1/customers:search?q=<a random query from BENCH_QUERIES>&pageSize=20
-- Every request is formatted once, in init: per request the script only
-- picks one, so the load generator spends little of the shared CPU. Answers
-- of 400 and up are counted by wrk itself (summary.errors.status).
local key = os.getenv("BENCH_API_KEY")
wrk.headers["Authorization"] = "Bearer " .. key
local n_threads = 0
function setup(thread)
    n_threads = n_threads + 1
    thread:set("id", n_threads)
end
local reqs = {}
function init(args)
    for line in io.lines(os.getenv("BENCH_QUERIES")) do
        if line ~= "" then
            local q = line:gsub("([^%w%-%.])", function(c)
                return string.format("%%%02X", string.byte(c)) end)
            reqs[#reqs + 1] = wrk.format("GET", "/v1/customers:search?pageSize=20&q=" .. q)
        end
    end
    math.randomseed(os.time() * 1000 + (id or 0) * 7919)
end
function request()
    return reqs[math.random(#reqs)]
end
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("BENCH rps=%.0f p50_ms=%.3f p99_ms=%.3f non2xx=%d errors=%d\n",
        summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
EOF

if [[ $hold_after_queries == 1 ]]; then
    echo "bench: holding: $STACK_URL key $BENCH_API_KEY search pid $spid queries $tmp/q{1,2,3,22}.txt" \
        "wrk script $tmp/search.lua (BENCH_QUERIES=file); Ctrl-C stops"
    status=0
    while :; do sleep 1; done
fi

kv() { sed -n "s/.*[[:space:]]$2=\\([^[:space:]]*\\).*/\\1/p" <<<" $1" | head -n 1; }
declare -A RPS P50 P99 PG_TPS PG_P50 PG_P99 TG_TPS TG_P50 TG_P99

for set in q1 q2 q3 q22; do
    BENCH_QUERIES="$tmp/$set.txt" wrk -t "$threads" -c "$conns" -d 2s -s "$tmp/search.lua" \
        "$STACK_URL" >/dev/null 2>&1 || true
    BENCH_QUERIES="$tmp/$set.txt" timeout $((duration + 30)) wrk -t "$threads" -c "$conns" \
        -d "${duration}s" --timeout 5s --latency -s "$tmp/search.lua" "$STACK_URL" \
        >"$tmp/wrk-$set.txt" 2>&1 || fail "wrk $set"
    line=$(grep '^BENCH ' "$tmp/wrk-$set.txt")
    [[ $(kv "$line" non2xx) == 0 && $(kv "$line" errors) == 0 ]] ||
        fail "$set: failed requests: $line"
    RPS[$set]=$(kv "$line" rps)
    P50[$set]=$(kv "$line" p50_ms)
    P99[$set]=$(kv "$line" p99_ms)
done

# One member of staff typing: one connection, so the latency is the path and
# the index, not the queue behind 31 other connections.
declare -A ONE_RPS ONE_P50 ONE_P99
for set in q1 q2 q3 q22; do
    BENCH_QUERIES="$tmp/$set.txt" timeout $((duration + 30)) wrk -t 1 -c 1 -d "${duration}s" \
        --timeout 5s --latency -s "$tmp/search.lua" "$STACK_URL" >"$tmp/wrk1-$set.txt" 2>&1 ||
        fail "wrk (one connection) $set"
    line=$(grep '^BENCH ' "$tmp/wrk1-$set.txt")
    [[ $(kv "$line" non2xx) == 0 && $(kv "$line" errors) == 0 ]] ||
        fail "$set (one connection): failed requests: $line"
    ONE_RPS[$set]=$(kv "$line" rps)
    ONE_P50[$set]=$(kv "$line" p50_ms)
    ONE_P99[$set]=$(kv "$line" p99_ms)
done

# ---------------------------------------------------------------- PostgreSQL
sql "CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS sb_last ON customers.customers (tenant_id, lower(last_name) text_pattern_ops);
CREATE INDEX IF NOT EXISTS sb_first ON customers.customers (tenant_id, lower(first_name) text_pattern_ops);
CREATE INDEX IF NOT EXISTS sb_email ON customers.customers (tenant_id, lower(email) text_pattern_ops);
CREATE INDEX IF NOT EXISTS sb_trgm ON customers.customers
    USING gin ((lower(first_name || ' ' || last_name || ' ' || email)) gin_trgm_ops);
ANALYZE customers.customers;" || fail "PostgreSQL indexes"

pg_run() { # name sqlfile -> tps p50 p99
    local name=$1 file=$2 out="$tmp/pgbench-$1.txt"
    timeout $((duration + 120)) "$STACK_PG_BIN/pgbench" -n -M prepared -c "$conns" -j "$threads" \
        -T "$duration" -f "$file" -l --log-prefix="$tmp/pglog-$name" -h "$STACK_PG_SOCKDIR" \
        -p "$CRM_PG_PORT" -U postgres crm >"$out" 2>&1 || fail "pgbench $name: $(tail -3 "$out")"
    local tps p50 p99
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | head -n 1)
    read -r p50 p99 < <(cat "$tmp/pglog-$name".* | awk '{ print $3 }' | sort -n | awk '
        { v[NR] = $1 } END { i50 = int(NR * 0.5); i99 = int(NR * 0.99); if (i50 < 1) i50 = 1;
        if (i99 < 1) i99 = 1; printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000 }')
    rm -f -- "$tmp/pglog-$name".*
    echo "$tps $p50 $p99"
}

for set in q1 q2 q3 q22; do
    n=$(cat "$tmp/$set.n")
    arr=$(cat "$tmp/$set.arr")
    # The prefix query: the first word on last name, first name or e-mail
    # (indexed, lower-cased), the second on last name; first page and a
    # count capped at 10,000, as search answers.
    cat >"$tmp/pg-prefix-$set.sql" <<EOF
\set i random(1, $n)
SELECT split_part((ARRAY[$arr])[:i], ' ', 1) AS w1, split_part((ARRAY[$arr])[:i], ' ', 2) AS w2 \gset
SELECT id, doc FROM customers.customers WHERE tenant_id = '$tenant'
   AND (lower(last_name) LIKE :w1 || '%' OR lower(first_name) LIKE :w1 || '%'
        OR lower(email) LIKE :w1 || '%')
   AND (:w2 = '' OR lower(last_name) LIKE :w2 || '%')
 ORDER BY sort_last, id LIMIT 20;
SELECT count(*) FROM (SELECT 1 FROM customers.customers WHERE tenant_id = '$tenant'
   AND (lower(last_name) LIKE :w1 || '%' OR lower(first_name) LIKE :w1 || '%'
        OR lower(email) LIKE :w1 || '%')
   AND (:w2 = '' OR lower(last_name) LIKE :w2 || '%') LIMIT 10000) s;
EOF
    cat >"$tmp/pg-trgm-$set.sql" <<EOF
\set i random(1, $n)
SELECT split_part((ARRAY[$arr])[:i], ' ', 1) AS w1, split_part((ARRAY[$arr])[:i], ' ', 2) AS w2 \gset
SELECT id, doc FROM customers.customers WHERE tenant_id = '$tenant'
   AND lower(first_name || ' ' || last_name || ' ' || email) LIKE '%' || :w1 || '%' || :w2 || '%'
 ORDER BY sort_last, id LIMIT 20;
EOF
    read -r PG_TPS[$set] PG_P50[$set] PG_P99[$set] < <(pg_run "prefix-$set" "$tmp/pg-prefix-$set.sql")
    read -r TG_TPS[$set] TG_P50[$set] TG_P99[$set] < <(pg_run "trgm-$set" "$tmp/pg-trgm-$set.sql")
done

rss_after=$(rss_kib "$spid")
echo
printf '%-22s %10s %8s %8s | %10s %8s %8s | %10s %8s %8s | %7s %7s\n' query "search/s" p50 p99 \
    "pg-prefix/s" p50 p99 "pg-trgm/s" p50 p99 "x pfx" "x trgm"
for set in q1 q2 q3 q22; do
    label=$(case $set in q1) echo "1 letter" ;; q2) echo "2 letters" ;; q3) echo "3 letters" ;;
        q22) echo "two words" ;; esac)
    printf '%-22s %10s %8s %8s | %10.0f %8s %8s | %10.0f %8s %8s | %7.1f %7.1f\n' "$label" \
        "${RPS[$set]}" "${P50[$set]}" "${P99[$set]}" "${PG_TPS[$set]}" "${PG_P50[$set]}" \
        "${PG_P99[$set]}" "${TG_TPS[$set]}" "${TG_P50[$set]}" "${TG_P99[$set]}" \
        "$(echo "${RPS[$set]} / ${PG_TPS[$set]}" | bc -l)" "$(echo "${RPS[$set]} / ${TG_TPS[$set]}" | bc -l)"
done
echo "(latencies in ms; search through the gateway at $conns connections, PostgreSQL by pgbench" \
    "with $conns clients on the same machine)"
echo
printf '%-22s %10s %8s %8s\n' "one connection" "search/s" p50 p99
for set in q1 q2 q3 q22; do
    label=$(case $set in q1) echo "1 letter" ;; q2) echo "2 letters" ;; q3) echo "3 letters" ;;
        q22) echo "two words" ;; esac)
    printf '%-22s %10s %8s %8s\n' "$label" "${ONE_RPS[$set]}" "${ONE_P50[$set]}" "${ONE_P99[$set]}"
done
echo "bench: search index: $built; RSS $((rss / 1024)) MiB after the build," \
    "$((rss_after / 1024)) MiB after the queries"
# The index alone, in process (no bus, no HTTP): the CPU time of a query,
# on an index of the same size built from the same names.
if [[ -x $build/bin/search_index_bench ]]; then
    echo "bench: in process ($build/bin/search_index_bench, CPU time per query):"
    BENCH_SECONDS=3 "$build/bin/search_index_bench" "$tmp/first.txt" "$tmp/last.txt" "$n_customers" \
        "$tmp/q1.txt" "$tmp/q2.txt" "$tmp/q3.txt" "$tmp/q22.txt" "$tmp/typed1.txt" \
        "$tmp/typed2.txt" "$tmp/phone.txt" | sed 's/^/    /' ||
        echo "bench: the in-process run failed" >&2
fi
status=0
