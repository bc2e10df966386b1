#!/usr/bin/env bash
# Benchmark of newsletters (part of `make bench`): starts its own throw-away
# suite (like tests/bench/run.sh) whose notify sends to Postfix's smtp-sink
# on loopback, then measures
#   1. the reference: Postfix's smtp-source sending BENCH_NOTIFY_RECIPIENTS
#      messages of BENCH_NOTIFY_SIZE bytes over BENCH_NOTIFY_SESSIONS
#      sessions to the sink;
#   2. a newsletter to the same number of customers, the same size, end to
#      end (POST /v1/campaigns until it is DONE: the audience read from
#      customers, every message queued, sent by BENCH_NOTIFY_SESSIONS sender
#      threads and recorded), with notify's resident memory sampled meanwhile;
# and prints e-mails per second and the ratio. The sink and the source come
# from Debian's postfix package, unpacked with dpkg -x into the data directory
# (or BENCH_POSTFIX_DIR, a directory holding an unpacked one); no mail server
# runs. Usage: tests/bench/notify.sh [BUILD]
# Knobs: BENCH_NOTIFY_RECIPIENTS (default 2000; the issue's figure is 10000),
# BENCH_NOTIFY_SIZE (default 2000), BENCH_NOTIFY_SESSIONS (default 4),
# BENCH_PG_FAST=1 (fsync off), BENCH_KEEP=1 (keep the data directory).
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"
build=${1:-build}
# shellcheck source=compose/stack.sh
source compose/stack.sh

recipients=${BENCH_NOTIFY_RECIPIENTS:-2000}
size=${BENCH_NOTIFY_SIZE:-2000}
sessions=${BENCH_NOTIFY_SESSIONS:-4}
for v in recipients size sessions; do
    if ! [[ ${!v} =~ ^[1-9][0-9]{0,5}$ ]]; then
        echo "bench: $v: invalid value \"${!v}\"" >&2
        exit 2
    fi
done
((sessions <= 64 && size <= 90000)) || { echo "bench: at most 64 sessions and 90000 bytes" >&2; exit 2; }

while read -r var; do
    [[ $var == CRM_* ]] && unset "$var"
done < <(compgen -e)
stack_throwaway crm-nbench nbench-admin 1
STACK_PG_FAST=${BENCH_PG_FAST:-0}
durability=$([[ $STACK_PG_FAST == 1 ]] && echo "fsync off" || echo "durable commits")
# shellcheck source=tests/bench/lib.sh
source "$root/tests/bench/lib.sh"
sink_pid=
stop_sink() {
    if [[ -n $sink_pid ]]; then
        kill "$sink_pid" 2>/dev/null || true
        wait "$sink_pid" 2>/dev/null || true
    fi
}
bench_on_cleanup=stop_sink
now() { date +%s.%N; }

# Postfix's smtp-sink and smtp-source, unpacked, never installed.
pf=${BENCH_POSTFIX_DIR:-}
if [[ -z $pf ]]; then
    pf=$tmp/postfix
    mkdir -p "$pf"
    (cd "$pf" && apt-get download postfix >download.log 2>&1 && dpkg -x postfix_*.deb .) ||
        fail "could not download and unpack Debian's postfix package (set BENCH_POSTFIX_DIR)"
fi
[[ -x $pf/usr/sbin/smtp-sink && -x $pf/usr/sbin/smtp-source ]] || fail "no smtp-sink in $pf"
postfix_run() { LD_LIBRARY_PATH="$pf/usr/lib/postfix" "$@"; }

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sink_user=()
((EUID == 0)) && sink_user=(-u nobody)
postfix_run "$pf/usr/sbin/smtp-sink" "${sink_user[@]}" "127.0.0.1:$port" 256 >"$tmp/smtp-sink.log" 2>&1 &
sink_pid=$!
for ((i = 0; i < 100; i++)); do
    /usr/bin/python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
    kill -0 "$sink_pid" 2>/dev/null || { cat "$tmp/smtp-sink.log"; fail "smtp-sink exited"; }
    sleep 0.05
done

echo "== 1. smtp-source: $recipients messages of $size bytes over $sessions sessions"
t0=$(now)
postfix_run timeout 600 "$pf/usr/sbin/smtp-source" -s "$sessions" -m "$recipients" -l "$size" \
    -f bench@example.test -t sink@example.test "127.0.0.1:$port" >"$tmp/smtp-source.log" 2>&1 ||
    { cat "$tmp/smtp-source.log"; fail "smtp-source"; }
t1=$(now)
ref=$(awk -v n="$recipients" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
echo "    $ref e-mails/s"

export CRM_SMTP_URL="smtp://127.0.0.1:$port" CRM_SMTP_STARTTLS=off CRM_SMTP_FROM=bench@example.test
export CRM_NOTIFY_SENDERS=$sessions CRM_NOTIFY_CAMPAIGN_RATE=10000 CRM_NOTIFY_POLL_MS=100
stack_init "$build"
{ stack_pg_start && stack_migrate && stack_supervisor_start && stack_wait_ready 60; } ||
    fail "the suite did not start"
echo "bench: newsletters, PostgreSQL with $durability; data $tmp"

echo "== 2. a newsletter to $recipients customers (each with both consents), end to end"
# notify's pids, once supervisord counts it RUNNING (not STARTING).
notify_pids=
for ((i = 0; i < 100; i++)); do
    { stack_ctl status || true; } >"$tmp/status.txt" 2>&1
    notify_pids=$(awk '/^notify/ && / RUNNING / { for (i = 1; i < NF; i++) if ($i == "pid") { sub(",", "", $(i + 1)); print $(i + 1) } }' "$tmp/status.txt" | paste -sd, -)
    [[ -z $notify_pids ]] || break
    sleep 0.1
done
[[ -n $notify_pids ]] || { cat "$tmp/status.txt"; fail "notify's pids"; }
/usr/bin/python3 - "$STACK_URL" "$CRM_BOOTSTRAP_API_KEY" "$recipients" "$size" "$sessions" "$tmp" \
    "$notify_pids" <<'PY' || fail "the newsletter"
import json, os, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor

url, key, tmp, pids = sys.argv[1], sys.argv[2], sys.argv[6], sys.argv[7].split(",")
n, size, sessions = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
tag = "bench-%d" % os.getpid()


def call(method, path, body=None):
    req = urllib.request.Request(url + path, json.dumps(body).encode() if body is not None else None,
                                 method=method, headers={"Authorization": "Bearer " + key,
                                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read().decode())


consent = {"granted": True, "source": "bench"}


def make(i):
    call("POST", "/v1/customers", {"firstName": "Bench", "lastName": "N%06d" % i, "tags": [tag],
                                   "email": "n%06d-%s@example.test" % (i, tag),
                                   "preferences": {"marketing": consent, "email": consent}})


t = time.monotonic()
with ThreadPoolExecutor(8) as pool:
    list(pool.map(make, range(n)))
print("    %d customers made in %.1f s" % (n, time.monotonic() - t))
line = "Neue Termine im Salon, diese Woche mit 20 % Rabatt auf alles. "
text = (line * (size // len(line) + 1))[:size]


def notify_cpu_s():
    """User and system CPU seconds of notify's processes so far."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%s/stat" % pid) as fh:
                f = fh.read().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])
        except (OSError, ValueError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def notify_rss_kb():
    total = 0
    for pid in pids:
        try:
            with open("/proc/%s/status" % pid) as fh:
                total += int([l for l in fh if l.startswith("VmRSS:")][0].split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return total


rss0 = notify_rss_kb()
cpu0 = notify_cpu_s()
t0 = time.monotonic()
c = call("POST", "/v1/campaigns", {"name": "Bench", "tag": tag, "subject": "Neue Termine", "text": text})
peak, first_sent, all_queued = rss0, None, None
while True:
    g = call("GET", "/v1/campaigns/" + c["id"])
    peak = max(peak, notify_rss_kb())
    if first_sent is None and g.get("sent"):
        first_sent = time.monotonic() - t0
    if all_queued is None and g.get("queued", 0) >= n:
        all_queued = (time.monotonic() - t0, g.get("sent", 0))
    if g["status"] == "DONE":
        break
    if time.monotonic() - t0 > 1800:
        sys.exit("the campaign did not finish in 30 minutes: %s" % g)
    time.sleep(0.2)
elapsed = time.monotonic() - t0
cpu = notify_cpu_s() - cpu0
if g["sent"] != n or g.get("failed"):
    sys.exit("sent %s of %d, failed %s" % (g.get("sent"), n, g.get("failed")))
print("    DONE in %.2f s: %.1f e-mails/s (first one sent after %.2f s)" % (elapsed, n / elapsed, first_sent or 0))
if all_queued:
    # Where the time goes: reading the audience and queueing (the expansion)
    # against sending what is queued.
    print("    every message queued after %.2f s (%d sent by then); the rest sent in %.2f s" %
          (all_queued[0], all_queued[1], elapsed - all_queued[0]))
print("    notify used %.1f s of CPU for it (%.0f µs a message)" % (cpu, cpu * 1e6 / n))
print("    notify's resident memory: %.1f MiB before, %.1f MiB at most while it ran" % (rss0 / 1024, peak / 1024))
with open(os.path.join(tmp, "notify-bench.txt"), "w") as fh:
    fh.write("%.1f %.1f %.1f\n" % (n / elapsed, rss0 / 1024, peak / 1024))
PY
read -r rate rss0 rss1 <"$tmp/notify-bench.txt"

echo
echo "== Results ($(date -u '+%Y-%m-%d'), nproc $(nproc); $durability)"
echo
awk -v a="$rate" -v b="$ref" -v n="$recipients" -v s="$size" -v c="$sessions" -v m0="$rss0" -v m1="$rss1" 'BEGIN {
    printf "newsletter to %d customers, %d-byte text, %d sender threads: %.1f e-mails/s end to end\n", n, s, c, a
    printf "    = %.3f × smtp-source to the same smtp-sink, %.1f e-mails/s over %d sessions (aim: 0.5)\n", (b > 0 ? a / b : 0), b, c
    printf "notify resident memory: %.1f MiB idle, %.1f MiB at most during the campaign\n", m0, m1 }'
status=0
