#!/usr/bin/env bash
# `make run`: starts the whole suite in the foreground, data in $CRM_DATA_DIR
# (default ./var). Ctrl-C (or SIGTERM) stops the services, then PostgreSQL.
# Usage: compose/run.sh [BUILD]   (BUILD defaults to build; binaries in BUILD/bin)
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=compose/stack.sh
source "$here/stack.sh"

stack_init "${1:-build}"

state=starting
s_stop() {
    trap '' INT TERM
    local rc=$1
    [[ $state == stopped ]] && exit "$rc"
    state=stopping
    stack_supervisor_stop || rc=1
    stack_pg_stop || rc=1
    state=stopped
    echo "CRM stopped. The data stays in $CRM_DATA_DIR."
    exit "$rc"
}
# A signal is a normal stop; an error on the way up stops what was started.
trap 's_stop 0' INT TERM
trap 'rc=$?; [[ $state == stopped ]] || s_stop "$rc"' EXIT

if pid=$(s_supervisor_pid); then
    echo "run: CRM already runs from $CRM_DATA_DIR (supervisord pid $pid)." >&2
    echo "run: stop that one first (Ctrl-C where it runs, or: supervisorctl -c $(printf '%q' "$STACK_SUPERVISOR_CONF") shutdown)." >&2
    state=stopped # not ours to stop
    exit 1
fi

stack_pg_start
stack_migrate
stack_supervisor_start
if ! stack_wait_ready 60; then
    echo "run: the services did not become ready; logs are in $STACK_LOG_DIR" >&2
    exit 1
fi
state=running

# The key file holds a key that was generated (so CRM_BOOTSTRAP_API_KEY was
# not used then, and is ignored now that an administrator exists).
key='' key_from=''
if [[ -s $STACK_KEY_FILE ]]; then
    key=$(<"$STACK_KEY_FILE")
    key_from=$STACK_KEY_FILE
elif [[ -n ${CRM_BOOTSTRAP_API_KEY:-} ]]; then
    key=$CRM_BOOTSTRAP_API_KEY
    key_from="CRM_BOOTSTRAP_API_KEY"
fi

# True when the gateway turns the key down (401). CRM_BOOTSTRAP_API_KEY counts
# only while there is no administrator, so on a later start it may be another
# value than the key; a generated key may have been revoked since. The key
# goes to curl on its standard input, not on its command line.
s_key_rejected() {
    local code
    code=$(curl -sS --noproxy '*' -o /dev/null -w '%{http_code}' -m 10 -H @- \
        "$STACK_URL/v1/customers?pageSize=1" <<<"Authorization: Bearer $1" 2>/dev/null) || return 1
    [[ $code == 401 ]]
}
rejected=0
if [[ -n $key ]] && s_key_rejected "$key"; then rejected=1; fi

# The first owner of the default tenant: made on the first start with a
# generated password, kept in a file only its user reads (as the key is).
owner_file="$CRM_DATA_DIR/first-owner"
owner_email=${CRM_FIRST_OWNER_EMAIL:-owner@example.com}
if [[ ! -s $owner_file ]]; then
    made=$("$STACK_BIN/crmctl" staff create-owner --tenant default --email "$owner_email" \
        --name "Owner" --generate-password --if-no-owner) || made=''
    if [[ $made == *"password: "* ]]; then
        (umask 077 && printf '%s\n' "$made" >"$owner_file")
    fi
fi
owner_line="an owner exists: sign in as them, or add one:
             $STACK_BIN/crmctl staff create-owner --tenant default --email E --name N"
if [[ -s $owner_file ]]; then
    owner_line="$(sed -n 's/^owner: //p' "$owner_file")  password: $(sed -n 's/^password: //p' "$owner_file")
             (saved in $owner_file; invite the rest of the team in the UI)"
fi

cat <<EOF

CRM is running.
  Web UI:    $STACK_URL/   (sign in with e-mail and password)
  Sign in:   $owner_line
  API:       $STACK_URL/v1/   (reference: $STACK_URL/v1/openapi.json)
EOF
if [[ -n $key ]] && ((!rejected)); then
    cat <<EOF
  API key:   $key   (from $key_from)
  Try:       curl -H "Authorization: Bearer $key" $STACK_URL/v1/customers
EOF
elif ((rejected)); then
    cat <<EOF
  API key:   the key in $key_from is not valid here: CRM_BOOTSTRAP_API_KEY counts only at
             the first start, and a key may have been revoked. The first start printed
             the key; or create one (docs/operations.md, "The API key").
  Try:       curl -H "Authorization: Bearer <key>" $STACK_URL/v1/customers
EOF
else
    cat <<EOF
  API key:   printed as "api key: ..." by the first 'make run' on this data directory
             (and saved in $STACK_KEY_FILE, which is gone now)
  Try:       curl -H "Authorization: Bearer <key>" $STACK_URL/v1/customers
EOF
fi
cat <<EOF
  Data:      $CRM_DATA_DIR
  Logs:      $STACK_LOG_DIR/
  Control:   supervisorctl -c $(printf '%q' "$STACK_SUPERVISOR_CONF") status
Press Ctrl-C to stop.
EOF

# Stay in the foreground while supervisord runs; a signal interrupts wait and
# runs s_stop through the trap.
while s_alive "$STACK_SUPERVISOR_PID"; do
    wait "$STACK_SUPERVISOR_PID" || true
done
echo "run: supervisord exited unexpectedly; see $CRM_DATA_DIR/supervisord.log" >&2
s_stop 1
