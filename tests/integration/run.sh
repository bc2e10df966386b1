#!/usr/bin/env bash
# Integration tests: starts the whole suite on a throw-away data directory and
# free ports, runs tests/integration/test_*.py (runner.py), stops the suite.
# Usage: tests/integration/run.sh [BUILD] [NAME...]
#   NAME selects tests whose "module::function" contains it, e.g. test_groups.
# The data directory is removed when everything passed and kept otherwise.
#
# Sanitizer builds (tests/run-all.sh runs this a second time with build/asan):
# the services get ASAN_OPTIONS/UBSAN_OPTIONS (defaults below: stop at the first
# error, report leaks at exit), and after the stack is stopped, which waits
# until every service has exited and so has written its leak report, every
# log is scanned. A sanitizer report in any log fails the run ("FAIL
# sanitizers"); with sanitizer binaries a clean scan counts as one passed test.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$root"
build=${1:-build}
(($#)) && shift
# shellcheck source=compose/stack.sh
source compose/stack.sh

# A known configuration: nothing from the caller's CRM_* but the log level
# (debug by default: some tests read the per-request log lines) and the
# runner's own CRM_TEST_* settings (CRM_TEST_TIMEOUT).
log_level=${CRM_LOG_LEVEL:-debug}
while read -r var; do
    [[ $var == CRM_* && $var != CRM_TEST_* ]] && unset "$var"
done < <(compgen -e)
export CRM_LOG_LEVEL=$log_level
# Read by sanitizer builds only (supervisord passes its environment on).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

export CRM_SCALE_SEARCH=${CRM_SCALE_SEARCH:-2}
# Two copies of notify: their senders share one queue (FOR UPDATE SKIP LOCKED).
export CRM_SCALE_NOTIFY=${CRM_SCALE_NOTIFY:-2}
# Two copies of exchange: they share the import and export jobs (test_exports.py).
export CRM_SCALE_EXCHANGE=${CRM_SCALE_EXCHANGE:-2}
stack_throwaway crm-it it-admin 2
tmp=$CRM_DATA_DIR

# A faithful local fake of the EU's VIES (tests/integration/fake_vies.py):
# the company service asks it instead of the EU's, and the tests steer it.
fake_vies_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 -u tests/integration/fake_vies.py "$fake_vies_port" >"$tmp/fake-vies.log" 2>&1 &
fake_vies_pid=$!
export CRM_TEST_FAKE_VIES="http://127.0.0.1:$fake_vies_port"
export CRM_VIES_URL="$CRM_TEST_FAKE_VIES/taxation_customs/vies/rest-api"
# Short, so the slow-answer tests do not wait long.
export CRM_VIES_TIMEOUT_MS=${CRM_VIES_TIMEOUT_MS:-3000}
# PENDING checks asked again within seconds, so the retry tests do not wait long.
export CRM_COMPANY_RETRY_MIN_S=${CRM_COMPANY_RETRY_MIN_S:-1}
export CRM_COMPANY_RETRY_MAX_S=${CRM_COMPANY_RETRY_MAX_S:-2}

# A local SMTP server (Debian's aiosmtpd, tests/integration/smtp_server.py)
# that offers STARTTLS with a throw-away self-signed certificate and requires
# it and a login; the notify service sends there, trusting only that
# certificate, and the tests steer and read it.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$tmp/smtp-key.pem" -out "$tmp/smtp-cert.pem" \
    >"$tmp/openssl.log" 2>&1
read -r smtp_port smtp_control_port < <(/usr/bin/python3 -c 'import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
/usr/bin/python3 -u tests/integration/smtp_server.py "$smtp_port" "$smtp_control_port" \
    "$tmp/smtp-cert.pem" "$tmp/smtp-key.pem" crm-test smtp-secret >"$tmp/smtp-server.log" 2>&1 &
smtp_pid=$!
export CRM_TEST_SMTP="http://127.0.0.1:$smtp_control_port"
export CRM_SMTP_URL="smtp://127.0.0.1:$smtp_port"
export CRM_SMTP_STARTTLS=required CRM_SMTP_CA_FILE="$tmp/smtp-cert.pem"
export CRM_SMTP_USER=crm-test CRM_SMTP_PASSWORD=smtp-secret
export CRM_SMTP_FROM=crm@example.test CRM_SMTP_FROM_NAME="Salon Łucja"
# A local fake SMS provider (tests/integration/sms_provider.py).
sms_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 -u tests/integration/sms_provider.py "$sms_port" sms-token >"$tmp/sms-provider.log" 2>&1 &
sms_pid=$!
export CRM_TEST_SMS="http://127.0.0.1:$sms_port"
export CRM_SMS_URL="$CRM_TEST_SMS/sms" CRM_SMS_TOKEN=sms-token CRM_SMS_FROM=SalonLucja
# Short waits, so the retry tests do not wait long.
export CRM_NOTIFY_RETRY_MIN_MS=300 CRM_NOTIFY_RETRY_MAX_MS=2000 CRM_NOTIFY_POLL_MS=200
# Automation rules: a failed run again after 200 ms, failed for good after 3 attempts.
export CRM_NOTES_RULE_RETRY_MS=${CRM_NOTES_RULE_RETRY_MS:-200} CRM_NOTES_RULE_ATTEMPTS=${CRM_NOTES_RULE_ATTEMPTS:-3}
export CRM_NOTES_RULE_POLL_MS=${CRM_NOTES_RULE_POLL_MS:-100}
# A sender's claim lasts (connect + longest whole-message timeout, SMS 15 s)
# x batch + 30 s: 64 s here instead of the default's 10 min, so the test that
# kills notify in the middle of a newsletter does not wait long for the killed
# copy's claims.
export CRM_SMTP_CONNECT_TIMEOUT_MS=2000 CRM_SMTP_TIMEOUT_MS=10000 CRM_NOTIFY_BATCH=2
# Newsletters go out at up to 500 a second here (a campaign may ask for less).
export CRM_NOTIFY_CAMPAIGN_RATE=500
# Tests send wrong API keys on purpose, from one address, many minutes apart or
# not: the stack's gateway does not lock 127.0.0.1 out for them
# (test_perms.py starts a gateway of its own to test the lock-out).
export CRM_GATEWAY_API_KEY_FAILURES=1000
# Replies come back to reply+<token>@ this domain (docs/notify.md, "Replies").
export CRM_NOTIFY_REPLY_DOMAIN=replies.example.test
# Export jobs at 500 customers a second: a job of a few thousand lasts long
# enough to be watched and killed halfway (test_exports.py).
export CRM_EXCHANGE_EXPORT_RATE=500
# Staff sign-in: a lock-out of seconds, not minutes, so test_staff.py waits for
# its end; the tests all come from 127.0.0.1, so the per-address limit is high.
export CRM_CUSTOMERS_SIGN_IN_LOCK_S=3 CRM_CUSTOMERS_SIGN_IN_LOCK_MAX_S=6
export CRM_CUSTOMERS_SIGN_IN_ACCOUNT_WAIT_MAX_S=1 CRM_CUSTOMERS_SIGN_IN_ADDRESS_FAILURES=100000
# Password reset requests: the same, per address (test_staff.py fills the
# window with rows of its own to see the limit).
export CRM_CUSTOMERS_PASSWORD_RESET_PER_ADDRESS=200
results="$tmp/results"

# What a sanitizer prints when it finds something (ASan, LSan, UBSan).
sanitizer_re='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:'
sanitizer_failed=0 sanitizer_checked=0

# Scans every log of the stopped stack (rotated ones too) for sanitizer
# reports; prints each report's start. Sets sanitizer_failed.
s_scan_sanitizers() {
    local f hits=()
    shopt -s nullglob
    for f in "$STACK_LOG_DIR"/*.log "$STACK_LOG_DIR"/*.log.[0-9]*; do
        if grep -qaE "$sanitizer_re" -- "$f"; then hits+=("$f"); fi
    done
    shopt -u nullglob
    sanitizer_checked=1
    if ((${#hits[@]})); then
        sanitizer_failed=1
        echo "FAIL sanitizers: reports in ${#hits[@]} log(s): ${hits[*]##*/}"
        for f in "${hits[@]}"; do
            echo "--- $f: the first report"
            grep -naE -m1 -A 40 "$sanitizer_re" -- "$f" | head -n 60 || true
        done
    fi
    # A service that supervisord had to kill when stopping it (the stack's
    # stop or a test's restart: no exit within stopwaitsecs of SIGTERM) never
    # ran its leak check.
    local killed
    killed=$(cat -- "$CRM_DATA_DIR"/supervisord.log* 2>/dev/null |
        grep -aE 'stopped: .* \(terminated by SIGKILL\)' || true)
    if [[ -n $killed ]] && s_sanitizer_build; then
        sanitizer_failed=1
        echo "FAIL sanitizers: killed when stopped, so their leaks were not checked:"
        printf '    %s\n' "$killed"
    elif [[ -n $killed ]]; then
        echo "note: services killed when stopped (they did not exit on SIGTERM in time):"
        printf '    %s\n' "$killed"
    fi
    return 0
}

# True when the services were built with AddressSanitizer.
s_sanitizer_build() { grep -qa __asan_init -- "$STACK_BIN/broker" 2>/dev/null; }

status=1
cleaned=0
cleanup() {
    ((cleaned)) && return 0
    cleaned=1
    trap '' INT TERM
    # Waits until supervisord and so every service has exited: a sanitizer
    # build writes its leak report then.
    stack_supervisor_stop || true
    stack_pg_stop || true
    kill "$fake_vies_pid" "$smtp_pid" "$sms_pid" 2>/dev/null || true
    wait "$fake_vies_pid" "$smtp_pid" "$sms_pid" 2>/dev/null || true
    if [[ -n ${STACK_LOG_DIR:-} ]]; then
        s_scan_sanitizers
        if ((sanitizer_failed)); then status=1; fi
    fi
    if ((status == 0)); then
        rm -rf -- "$tmp"
    else
        echo "integration: kept the data directory for inspection: $tmp"
    fi
}
trap cleanup EXIT
trap 'echo "integration: interrupted"; status=130; exit 130' INT TERM

stack_init "$build"
# Sanitizer builds start slower.
ready_s=60
if s_sanitizer_build; then ready_s=120; fi
echo "integration: data $tmp, $STACK_URL, bus $CRM_BUS_ENDPOINT"
if ! { stack_pg_start && stack_migrate && stack_supervisor_start && stack_wait_ready "$ready_s"; }; then
    echo "FAIL stack: the suite did not start (see above)"
    cleanup
    echo "integration: 0 passed, $((1 + sanitizer_failed)) failed"
    exit 1
fi

export CRM_TEST_URL=$STACK_URL
export CRM_TEST_API_KEY=$CRM_BOOTSTRAP_API_KEY
export CRM_TEST_BIN=$STACK_BIN
export CRM_TEST_SUPERVISOR_CONF=$STACK_SUPERVISOR_CONF
export CRM_TEST_ROOT=$root
export CRM_TEST_RESULTS=$results
export PYTHONDONTWRITEBYTECODE=1

rc=0
/usr/bin/python3 -u tests/integration/runner.py "$@" || rc=$?
if ((rc == 0)); then
    status=0
else
    echo "--- the stack after the failures"
    stack_report 30
fi
passed=0 failed=1
if [[ -s $results ]]; then
    read -r passed failed <"$results"
fi
cleanup
if ((sanitizer_failed)); then
    failed=$((failed + 1))
    rc=1
elif ((sanitizer_checked)) && s_sanitizer_build; then
    echo "PASS sanitizers: no report in the services' logs"
    passed=$((passed + 1))
fi
echo "integration: $passed passed, $failed failed"
exit "$rc"
