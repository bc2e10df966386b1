#!/usr/bin/env bash
# Integration tests: starts the whole suite on a throw-away data directory and
# free ports, runs tests/integration/test_*.py (runner.py), stops the suite.
# Usage: tests/integration/run.sh [BUILD] [NAME...]
#   NAME selects tests whose "module::function" contains it, e.g. test_groups.
# The data directory is removed when everything passed and kept otherwise.
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

tmp=$(mktemp -d /tmp/crm-it.XXXXXX)
chmod 755 "$tmp" # user postgres must traverse it
results="$tmp/results"
ports=$(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
')
read -r p_http p_bus p_in p_out <<<"$ports"
export CRM_DATA_DIR=$tmp
export CRM_HTTP_ADDR="127.0.0.1:$p_http"
export CRM_BUS_ENDPOINT="tcp://127.0.0.1:$p_bus"
export CRM_EVENTS_IN_ENDPOINT="tcp://127.0.0.1:$p_in"
export CRM_EVENTS_OUT_ENDPOINT="tcp://127.0.0.1:$p_out"
export CRM_PG_PORT=5432 # the socket lives in the private run directory
export CRM_SCALE_CUSTOMERS=2
CRM_BOOTSTRAP_API_KEY="it-admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export CRM_BOOTSTRAP_API_KEY
STACK_PG_FAST=1

status=1
cleaned=0
cleanup() {
    ((cleaned)) && return 0
    cleaned=1
    trap '' INT TERM
    stack_supervisor_stop || true
    stack_pg_stop || true
    if ((status == 0)); then
        rm -rf -- "$tmp"
    else
        echo "integration: kept the data directory for inspection: $tmp"
    fi
}
trap cleanup EXIT
trap 'echo "integration: interrupted"; status=130; exit 130' INT TERM

stack_init "$build"
echo "integration: data $tmp, $STACK_URL, bus $CRM_BUS_ENDPOINT"
if ! { stack_pg_start && stack_migrate && stack_supervisor_start && stack_wait_ready 60; }; then
    echo "FAIL stack: the suite did not start (see above)"
    cleanup
    echo "integration: 0 passed, 1 failed"
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
echo "integration: $passed passed, $failed failed"
exit "$rc"
