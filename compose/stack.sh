# shellcheck shell=bash
# The local stack: a private PostgreSQL cluster, the migrations and the
# services under supervisord. Sourced by compose/run.sh (`make run`) and by
# tests/integration/run.sh; docs/operations.md describes the result.
#
#   source compose/stack.sh
#   stack_init build            # defaults, absolute paths, directories
#   stack_pg_start              # private cluster under supervisord (skipped when
#                               # CRM_DATABASE_URL is set)
#   stack_migrate               # crmctl migrate + bootstrap
#   stack_supervisor_start      # every service under (that) supervisord
#   stack_wait_ready 60         # GET /readyz until it answers 2xx
#   stack_ctl status            # supervisorctl for this stack
#   stack_supervisor_stop; stack_pg_stop   # the services and PostgreSQL
#
# Functions print their diagnostics on stderr and return non-zero on failure;
# they never exit, so callers decide what to clean up.
#
# Knobs besides the CRM_* variables: STACK_PG_FAST=1 (tests: fsync off),
# STACK_SERVICES="broker customers gateway" (default: every services/*/main.c
# but crmctl), STACK_PG_BIN (PostgreSQL's bin directory).

STACK_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
STACK_PG_BIN=${STACK_PG_BIN:-/usr/lib/postgresql/15/bin}
STACK_TOOLS=(crmctl)              # programs in bin/ that are not services
STACK_SINGLETONS=(broker gateway) # bind fixed addresses: always one copy

s_log() { printf 'stack: %s\n' "$*" >&2; }

# True when the process exists and is not a zombie.
s_alive() {
    local pid=$1 stat
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# A short stable id for a path, for directories that stand in for it.
s_path_id() { printf '%s' "$1" | sha256sum | cut -c1-12; }

# Runs a command as the PostgreSQL owner: user postgres when we are root
# (initdb refuses root), else ourselves. From / so postgres can stat its cwd.
s_as_pg() {
    if ((EUID == 0)); then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# Quotes a libpq conninfo value when it needs it (spaces, quotes, backslashes).
s_conninfo_value() {
    local v=$1
    if [[ -z $v || $v =~ [[:space:]\'\\] ]]; then
        v=${v//\\/\\\\}
        v=${v//\'/\\\'}
        printf "'%s'" "$v"
    else
        printf '%s' "$v"
    fi
}

# Escapes a value for supervisord.conf (ConfigParser interpolation: % -> %%).
s_sv_plain() {
    local v=$1
    printf '%s' "${v//%/%%}"
}

# Quotes a value of environment=, which supervisord splits with a non-POSIX
# shlex (no escapes) and then strips every quote at both ends: a value with a
# double quote in it, or ending in a single quote, cannot be written there.
s_sv_env_value() {
    local v=$1
    [[ $v != *\"* && $v != *\' ]] || return 1
    s_sv_plain "\"$v\""
}

# Double-quotes a value for command= (split by a POSIX shlex), then escapes it
# for the config file.
s_sv_quoted() {
    local v=$1
    v=${v//\\/\\\\}
    v=${v//\"/\\\"}
    s_sv_plain "\"$v\""
}

# Replaces every @KEY@ in the text (first argument) with a value; pairs follow.
# The replacement is quoted so bash 5.2 does not treat & in it specially.
s_fill() {
    local text=$1 key val
    shift
    while (($# >= 2)); do
        key=$1 val=$2
        shift 2
        text=${text//"@$key@"/"$val"}
    done
    printf '%s' "$text"
}

# Sets defaults and absolute paths; creates the data directory layout.
# $1: the build directory (relative to the repository root, or absolute).
stack_init() {
    local build=${1:-build}
    [[ $build == /* ]] || build="$STACK_ROOT/$build"
    STACK_BIN="$build/bin"

    : "${CRM_DATA_DIR:=$STACK_ROOT/var}"
    mkdir -p -- "$CRM_DATA_DIR" || return 1
    CRM_DATA_DIR=$(cd -- "$CRM_DATA_DIR" && pwd -P) || return 1
    export CRM_DATA_DIR
    export CRM_HTTP_ADDR=${CRM_HTTP_ADDR:-127.0.0.1:8080}
    export CRM_BUS_ENDPOINT=${CRM_BUS_ENDPOINT:-tcp://127.0.0.1:5555}
    export CRM_EVENTS_IN_ENDPOINT=${CRM_EVENTS_IN_ENDPOINT:-tcp://127.0.0.1:5556}
    export CRM_EVENTS_OUT_ENDPOINT=${CRM_EVENTS_OUT_ENDPOINT:-tcp://127.0.0.1:5557}
    export CRM_PG_PORT=${CRM_PG_PORT:-5432}
    if ! [[ $CRM_PG_PORT =~ ^[0-9]+$ ]] || ((CRM_PG_PORT < 1 || CRM_PG_PORT > 65535)); then
        s_log "CRM_PG_PORT: invalid value \"$CRM_PG_PORT\": expected 1..65535"
        return 1
    fi
    STACK_EXTERNAL_DB=0
    [[ -n ${CRM_DATABASE_URL:-} ]] && STACK_EXTERNAL_DB=1
    s_trial_mailbox_init || return 1
    s_notify_init || return 1

    STACK_LOG_DIR="$CRM_DATA_DIR/log"
    STACK_SUPERVISOR_CONF="$CRM_DATA_DIR/supervisord.conf"
    STACK_SUPERVISOR_PIDFILE="$CRM_DATA_DIR/supervisord.pid"
    STACK_KEY_FILE="$CRM_DATA_DIR/bootstrap-api-key"
    # Unix socket paths are limited to 107 bytes: a deep data directory keeps
    # its sockets in a stand-in directory under /tmp.
    STACK_RUN_DIR="$CRM_DATA_DIR/run"
    if ((${#STACK_RUN_DIR} > 80)); then
        STACK_RUN_DIR="/tmp/crm-run-$(s_path_id "$CRM_DATA_DIR")"
    fi
    mkdir -p -- "$STACK_LOG_DIR" "$STACK_RUN_DIR" || return 1
    if [[ ! -O $STACK_RUN_DIR ]]; then
        s_log "$STACK_RUN_DIR belongs to someone else"
        return 1
    fi
    # PostgreSQL (user postgres) puts its socket in the run directory; the
    # group keeps everyone else out.
    if ((EUID == 0)) && id postgres >/dev/null 2>&1; then
        chown root:postgres "$STACK_RUN_DIR" && chmod 0770 "$STACK_RUN_DIR" || return 1
    else
        chmod 0700 "$STACK_RUN_DIR" || return 1
    fi
    # The processes of this machine reach the broker over a Unix socket in the
    # run directory: every request crosses the bus twice each way, and a Unix
    # socket costs the kernel less than loopback TCP (docs/operations.md has
    # the figures). The broker keeps listening on the TCP address too, for
    # tools and for copies of services on other machines. A broker address
    # set by hand (CRM_BROKER_BUS_ENDPOINT) or a bus that is not TCP is left
    # as given, and CRM_BUS_IPC=0 turns this off.
    if [[ ${CRM_BUS_IPC:-1} == 1 && -z ${CRM_BROKER_BUS_ENDPOINT:-} &&
        $CRM_BUS_ENDPOINT == tcp://* ]]; then
        export CRM_BROKER_BUS_ENDPOINT="$CRM_BUS_ENDPOINT,ipc://$STACK_RUN_DIR/bus"
        export CRM_BUS_ENDPOINT="ipc://$STACK_RUN_DIR/bus"
    fi

    # What a browser or curl uses: a wildcard listen address means loopback.
    local host=${CRM_HTTP_ADDR%:*} port=${CRM_HTTP_ADDR##*:}
    case $host in
    '' | '*' | 0.0.0.0) host=127.0.0.1 ;;
    '[::]') host='[::1]' ;;
    esac
    STACK_URL="http://$host:$port"
}

# ---------------------------------------------------------------- PostgreSQL

# Prints the pid of the live postmaster of the private cluster, or fails.
s_pg_pid() {
    local pid
    [[ -r $STACK_PG_DIR/postmaster.pid ]] || return 1
    read -r pid <"$STACK_PG_DIR/postmaster.pid" || return 1
    s_alive "$pid" || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]] || return 1
    printf '%s\n' "$pid"
}

# Removes lock files left by a postmaster that is gone (a crash, a reboot),
# which PostgreSQL would refuse if their pid now belongs to another process.
s_pg_clear_stale() {
    local lock="$STACK_PG_SOCKDIR/.s.PGSQL.$CRM_PG_PORT.lock" pid=
    if [[ -e $STACK_PG_DIR/postmaster.pid ]]; then
        s_log "removing stale $STACK_PG_DIR/postmaster.pid"
        rm -f -- "$STACK_PG_DIR/postmaster.pid"
    fi
    if [[ -e $lock ]]; then
        read -r pid <"$lock" || true
        if ! s_alive "$pid" || [[ $(cat "/proc/$pid/comm" 2>/dev/null) != postgres ]]; then
            rm -f -- "$lock" "$STACK_PG_SOCKDIR/.s.PGSQL.$CRM_PG_PORT"
        fi
    fi
}

# stack_throwaway PREFIX KEYPREFIX SCALE: the configuration of a throw-away
# suite for tests and benchmarks: a new data directory /tmp/PREFIX.XXXXXX,
# free loopback ports, SCALE customers copies, a random administrator key
# KEYPREFIX-..., and PostgreSQL settings that trade durability for speed.
# Exports the CRM_* variables.
stack_throwaway() {
    local prefix=$1 keyprefix=$2 scale=$3 ports p_http p_bus p_in p_out
    CRM_DATA_DIR=$(mktemp -d "/tmp/$prefix.XXXXXX") || return 1
    chmod 755 "$CRM_DATA_DIR" # user postgres must traverse it
    ports=$(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
') || return 1
    read -r p_http p_bus p_in p_out <<<"$ports"
    export CRM_DATA_DIR
    export CRM_HTTP_ADDR="127.0.0.1:$p_http"
    export CRM_BUS_ENDPOINT="tcp://127.0.0.1:$p_bus"
    export CRM_EVENTS_IN_ENDPOINT="tcp://127.0.0.1:$p_in"
    export CRM_EVENTS_OUT_ENDPOINT="tcp://127.0.0.1:$p_out"
    export CRM_PG_PORT=5432 # the socket lives in the private run directory
    export CRM_SCALE_CUSTOMERS=$scale
    CRM_BOOTSTRAP_API_KEY="$keyprefix-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    export CRM_BOOTSTRAP_API_KEY
    STACK_PG_FAST=1
}

# Chooses where the cluster lives: $CRM_DATA_DIR/pg with its socket in the run
# directory; or, when user postgres cannot reach the data directory (a
# checkout under /root), a directory under postgres's home, linked as
# $CRM_DATA_DIR/pg.
s_pg_place() {
    STACK_PG_DIR="$CRM_DATA_DIR/pg"
    STACK_PG_SOCKDIR=$STACK_RUN_DIR
    STACK_PG_LOG="$STACK_LOG_DIR/postgresql.log"
    ((EUID == 0)) || return 0
    if ! id postgres >/dev/null 2>&1; then
        s_log "there is no user postgres: is postgresql-15 installed? (make deps)"
        return 1
    fi
    if [[ -L $STACK_PG_DIR ]] ||
        ! runuser -u postgres -- test -x "$CRM_DATA_DIR" -a -w "$STACK_RUN_DIR" 2>/dev/null; then
        local home
        home="$(getent passwd postgres | cut -d: -f6)/crm-$(s_path_id "$CRM_DATA_DIR")"
        if [[ -e $STACK_PG_DIR && ! -L $STACK_PG_DIR ]]; then
            s_log "user postgres cannot reach $CRM_DATA_DIR; make it traversable (chmod o+x on it and its parents) or set CRM_DATA_DIR elsewhere"
            return 1
        fi
        mkdir -p -- "$home/run" || return 1
        chown postgres:postgres "$home" "$home/run" && chmod 0700 "$home" || return 1
        [[ -L $STACK_PG_DIR ]] || ln -s -- "$home/pg" "$STACK_PG_DIR" || return 1
        STACK_PG_DIR="$home/pg"
        STACK_PG_SOCKDIR="$home/run"
        STACK_PG_LOG="$home/postgresql.log"
    fi
    touch -- "$STACK_PG_LOG" && chown postgres:postgres "$STACK_PG_LOG"
}

# Writes the settings the stack controls; postgresql.conf includes this file.
# STACK_PG_FAST=1 (tests) trades durability for speed.
s_pg_write_conf() {
    local dir=${STACK_PG_SOCKDIR//\'/\'\'}
    {
        echo "# Written by compose/stack.sh at every start; edits are lost."
        echo "listen_addresses = ''"
        echo "port = $CRM_PG_PORT"
        echo "unix_socket_directories = '\"$dir\"'"
        echo "max_connections = 200"
        if [[ ${STACK_PG_FAST:-0} == 1 ]]; then
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
        fi
    } >"$STACK_PG_DIR/crm.conf" || return 1
    if ((EUID == 0)); then chown postgres:postgres "$STACK_PG_DIR/crm.conf"; fi
}

s_psql_admin() {
    "$STACK_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$STACK_PG_SOCKDIR" -p "$CRM_PG_PORT" \
        -U postgres -d postgres -c "$1"
}

# Starts (or reuses) the private cluster, creates database crm and exports
# CRM_DATABASE_URL. Does nothing when CRM_DATABASE_URL was given.
stack_pg_start() {
    if ((STACK_EXTERNAL_DB)); then
        s_log "CRM_DATABASE_URL is set: using that server, no private cluster"
        return 0
    fi
    s_pg_place || return 1
    STACK_PG_PRIVATE=1

    local pid
    if pid=$(s_pg_pid); then
        # Reuse: connect where that postmaster actually listens.
        local lines=()
        mapfile -t lines <"$STACK_PG_DIR/postmaster.pid"
        [[ ${lines[3]:-} =~ ^[0-9]+$ ]] && CRM_PG_PORT=${lines[3]}
        [[ -n ${lines[4]:-} ]] && STACK_PG_SOCKDIR=${lines[4]}
        s_log "PostgreSQL already runs (pid $pid, socket $STACK_PG_SOCKDIR, port $CRM_PG_PORT): reusing it"
    else
        if [[ ! -s $STACK_PG_DIR/PG_VERSION ]]; then
            if [[ -d $STACK_PG_DIR && -n $(ls -A -- "$STACK_PG_DIR") ]]; then
                s_log "$STACK_PG_DIR is not empty but holds no cluster; move it away"
                return 1
            fi
            s_log "creating the PostgreSQL cluster in $STACK_PG_DIR"
            mkdir -p -- "$STACK_PG_DIR" || return 1
            if ((EUID == 0)); then chown postgres:postgres "$STACK_PG_DIR" || return 1; fi
            chmod 0700 "$STACK_PG_DIR" || return 1
            # A throw-away test cluster need not reach the disk (STACK_PG_FAST=1).
            local nosync=()
            if [[ ${STACK_PG_FAST:-0} == 1 ]]; then nosync=(--no-sync); fi
            if ! s_as_pg "$STACK_PG_BIN/initdb" -D "$STACK_PG_DIR" -A trust -U postgres -E UTF8 \
                --locale=C.UTF-8 --no-instructions "${nosync[@]}" >>"$STACK_PG_LOG" 2>&1; then
                s_log "initdb failed; the end of $STACK_PG_LOG:"
                tail -n 20 -- "$STACK_PG_LOG" >&2
                return 1
            fi
            printf "\n# The stack's own settings (compose/stack.sh).\ninclude_if_exists = 'crm.conf'\n" \
                >>"$STACK_PG_DIR/postgresql.conf" || return 1
        fi
        s_pg_write_conf || return 1
        s_pg_clear_stale
        s_log "starting PostgreSQL (data $STACK_PG_DIR, socket $STACK_PG_SOCKDIR, port $CRM_PG_PORT)"
        # Under supervisord, in the foreground, like the services: started
        # again when it dies. supervisord has its own session, so a Ctrl-C on
        # the terminal does not reach the postmaster before the services stop.
        local running
        if running=$(s_supervisor_pid); then
            s_log "supervisord already runs for $CRM_DATA_DIR (pid $running): stop that stack first"
            return 1
        fi
        STACK_PG_SUPERVISED=1
        s_supervisor_conf postgres-only || return 1
        s_supervisord_launch || return 1
    fi

    # Up to 120 s: a first start after a crash replays the WAL first.
    local deadline=$((SECONDS + 120))
    until "$STACK_PG_BIN/pg_isready" -q -h "$STACK_PG_SOCKDIR" -p "$CRM_PG_PORT" -U postgres \
        -d postgres; do
        if ((SECONDS >= deadline)); then
            s_log "PostgreSQL did not start; the end of $STACK_PG_LOG:"
            tail -n 20 -- "$STACK_PG_LOG" >&2
            return 1
        fi
        sleep 0.2
    done
    local have
    have=$(s_psql_admin "SELECT 1 FROM pg_database WHERE datname = 'crm'") || return 1
    if [[ $have != 1 ]]; then
        s_psql_admin "CREATE DATABASE crm" || return 1
    fi
    CRM_DATABASE_URL="host=$(s_conninfo_value "$STACK_PG_SOCKDIR") port=$CRM_PG_PORT dbname=crm user=postgres"
    export CRM_DATABASE_URL CRM_PG_PORT
}

# Stops the private cluster (fast: rolls back open transactions). Under
# supervisord it stopped with it (stack_supervisor_stop); this stops one that
# was found running and reused.
stack_pg_stop() {
    [[ ${STACK_PG_PRIVATE:-0} == 1 ]] || return 0
    local pid
    pid=$(s_pg_pid) || return 0
    s_log "stopping PostgreSQL"
    if ! s_as_pg "$STACK_PG_BIN/pg_ctl" stop -D "$STACK_PG_DIR" -m fast -w -t 60 -s; then
        s_log "fast stop failed; stopping PostgreSQL immediately"
        s_as_pg "$STACK_PG_BIN/pg_ctl" stop -D "$STACK_PG_DIR" -m immediate -w -t 30 -s || return 1
    fi
}

# ---------------------------------------------------------------- migrations

# Applies the schema migrations and makes sure an administrator key exists.
stack_migrate() {
    if [[ ! -x $STACK_BIN/crmctl ]]; then
        s_log "$STACK_BIN/crmctl is missing: build it first (make all)"
        return 1
    fi
    "$STACK_BIN/crmctl" migrate || { s_log "crmctl migrate failed"; return 1; }
    "$STACK_BIN/crmctl" bootstrap --key-file "$STACK_KEY_FILE" || {
        s_log "crmctl bootstrap failed"
        return 1
    }
}

# ---------------------------------------------------------------- bus keys

# Makes the bus key pairs of the given programs and crmctl that have none, the
# broker's public key and their registry lines, under CRM_BUS_KEYS_DIR
# (default $CRM_DATA_DIR/keys); existing keys are kept (docs/operations.md,
# "Bus keys"). Nothing to do when CRM_BUS_CURVE is off.
stack_bus_keys() {
    case ${CRM_BUS_CURVE:-true} in
    false | 0 | no) return 0 ;;
    esac
    local programs
    programs=$(printf '%s,' "$@" crmctl)
    "$STACK_BIN/crmctl" bus-keys init "${CRM_BUS_KEYS_DIR:-$CRM_DATA_DIR/keys}" \
        --programs "${programs%,}" >/dev/null || {
        s_log "crmctl bus-keys init failed"
        return 1
    }
}

# ---------------------------------------------------------------- supervisor

stack_ctl() { supervisorctl -c "$STACK_SUPERVISOR_CONF" "$@"; }

# Prints the pid of this stack's live supervisord, or fails.
s_supervisor_pid() {
    local pid
    [[ -r $STACK_SUPERVISOR_PIDFILE ]] || return 1
    read -r pid <"$STACK_SUPERVISOR_PIDFILE" || return 1
    s_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q supervisord || return 1
    printf '%s\n' "$pid"
}

# The trial mailbox (compose/trial_mailbox.py): when no SMTP server or SMS
# provider is configured, a local one on loopback keeps what the notify
# service sends under $CRM_DATA_DIR/mailbox, and the UI shows it. Picks free
# ports (CRM_TRIAL_SMTP_PORT, CRM_TRIAL_SMS_PORT when set) and points notify
# at them. Sets STACK_TRIAL_MAILBOX=1 when it is needed.
s_trial_mailbox_init() {
    STACK_TRIAL_MAILBOX=0
    [[ -z ${CRM_SMTP_URL:-} || -z ${CRM_SMS_URL:-} ]] || return 0
    STACK_TRIAL_MAILBOX=1
    local ports
    ports=$(/usr/bin/python3 -c 'import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])') || return 1
    STACK_TRIAL_SMTP_PORT=${CRM_TRIAL_SMTP_PORT:-${ports% *}}
    STACK_TRIAL_SMS_PORT=${CRM_TRIAL_SMS_PORT:-${ports#* }}
    STACK_TRIAL_DIR="$CRM_DATA_DIR/mailbox"
    STACK_TRIAL_TOKEN=trial
    export CRM_NOTIFY_TRIAL_MAILBOX="$STACK_TRIAL_DIR"
    if [[ -z ${CRM_SMTP_URL:-} ]]; then
        export CRM_SMTP_URL="smtp://127.0.0.1:$STACK_TRIAL_SMTP_PORT" CRM_SMTP_STARTTLS=off
    fi
    if [[ -z ${CRM_SMS_URL:-} ]]; then
        export CRM_SMS_URL="http://127.0.0.1:$STACK_TRIAL_SMS_PORT/sms"
        export CRM_SMS_TOKEN=$STACK_TRIAL_TOKEN
    fi
    return 0
}

# The notify service's links: where the gateway is reached (CRM_PUBLIC_URL,
# default the gateway's own address) and the key that seals a link until its
# message is sent, kept in $CRM_DATA_DIR/notify-link-key (0600) so that a
# restart can still send what was queued.
s_notify_init() {
    export CRM_PUBLIC_URL=${CRM_PUBLIC_URL:-http://$CRM_HTTP_ADDR}
    [[ -z ${CRM_NOTIFY_LINK_KEY:-} ]] || return 0
    local file="$CRM_DATA_DIR/notify-link-key"
    if [[ ! -s $file ]]; then
        (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$file.tmp") &&
            mv -f -- "$file.tmp" "$file" || return 1
    fi
    CRM_NOTIFY_LINK_KEY=$(<"$file") || return 1
    export CRM_NOTIFY_LINK_KEY
}

# Prints the services to run, one a line: broker first, gateway last.
# STACK_SERVICES (space-separated) overrides the list found in services/.
s_services() {
    local names=() name dir tool skip
    if [[ -n ${STACK_SERVICES:-} ]]; then
        read -ra names <<<"$STACK_SERVICES"
    else
        for dir in "$STACK_ROOT"/services/*/; do
            name=$(basename -- "$dir")
            [[ -f $dir/main.c ]] || continue
            skip=0
            for tool in "${STACK_TOOLS[@]}"; do [[ $name == "$tool" ]] && skip=1; done
            ((skip)) || names+=("$name")
        done
    fi
    for name in "${names[@]}"; do [[ $name == broker ]] && echo "$name"; done
    for name in "${names[@]}"; do [[ $name == broker || $name == gateway ]] || echo "$name"; done
    for name in "${names[@]}"; do [[ $name == gateway ]] && echo "$name"; done
    return 0
}

# Writes $STACK_SUPERVISOR_CONF from compose/supervisord.conf.in: the private
# PostgreSQL (when STACK_PG_SUPERVISED=1), then every service unless $1 is
# "postgres-only".
s_supervisor_conf() {
    local only=${1:-} template head pgblock block out services=() name var scale prio pname
    local env_line k val single user_line=
    template=$(<"$STACK_ROOT/compose/supervisord.conf.in") || return 1
    head=${template%%;;; postgres*}
    pgblock=${template#*;;; postgres}
    pgblock=${pgblock%%;;; program*}
    pgblock=${pgblock#$'\n'}
    block=${template#*;;; program}
    block=${block#$'\n'}

    # Every CRM_* variable but the bootstrap secret, which only crmctl needs,
    # and the instance number, which tells copies of one service apart. The
    # services also inherit supervisord's environment, so a value that
    # environment= cannot carry still arrives.
    env_line=
    while read -r k; do
        [[ $k == CRM_* && $k != CRM_BOOTSTRAP_API_KEY ]] || continue
        val=$(s_sv_env_value "${!k}") || continue
        env_line+="$k=$val,"
    done < <(compgen -e | LC_ALL=C sort)
    env_line+='CRM_INSTANCE="%(process_num)d"'
    # glibc's per-thread cache keeps 7 free chunks of a size. libzmq's I/O
    # thread frees the messages a service's thread allocated (and the other
    # way round), so that thread's cache of those sizes runs dry and its
    # requests fall through to the shared heap: 64 keeps them (a fifth less
    # CPU per search; docs/operations.md). A GLIBC_TUNABLES of the user's
    # comes after it, so theirs wins.
    val=$(s_sv_env_value "glibc.malloc.tcache_count=64${GLIBC_TUNABLES:+:$GLIBC_TUNABLES}") &&
        env_line+=",GLIBC_TUNABLES=$val"

    if [[ $only != postgres-only ]]; then
        mapfile -t services < <(s_services)
        if ((${#services[@]} == 0)); then
            s_log "no services to run (no services/*/main.c)"
            return 1
        fi
    fi
    if [[ $only != postgres-only ]]; then
        stack_bus_keys "${services[@]}" || return 1
    fi
    out=$(s_fill "$head" DATA_DIR "$(s_sv_plain "$CRM_DATA_DIR")" \
        RUN_DIR "$(s_sv_plain "$STACK_RUN_DIR")" LOG_DIR "$(s_sv_plain "$STACK_LOG_DIR")")
    if [[ ${STACK_PG_SUPERVISED:-0} == 1 ]]; then
        ((EUID == 0)) && user_line='user=postgres'
        out+=$'\n'
        out+=$(s_fill "$pgblock" COMMAND "$(s_sv_quoted "$STACK_PG_BIN/postgres") -D $(s_sv_quoted "$STACK_PG_DIR")" \
            USER_LINE "$user_line" LOG "$(s_sv_plain "$STACK_PG_LOG")")
    fi
    if [[ $only != postgres-only && ${STACK_TRIAL_MAILBOX:-0} == 1 ]]; then
        out+=$'\n'
        out+=$(s_fill "$block" NAME mailbox \
            COMMAND "$(s_sv_quoted /usr/bin/python3) $(s_sv_quoted "$STACK_ROOT/compose/trial_mailbox.py") $STACK_TRIAL_SMTP_PORT $STACK_TRIAL_SMS_PORT $(s_sv_quoted "$STACK_TRIAL_DIR") $STACK_TRIAL_TOKEN" \
            PROCESS_NAME '%(program_name)s' LOG_NAME mailbox NUMPROCS 1 PRIORITY 5 \
            DATA_DIR "$(s_sv_plain "$CRM_DATA_DIR")" LOG_DIR "$(s_sv_plain "$STACK_LOG_DIR")" \
            ENVIRONMENT "$env_line")
    fi
    for name in "${services[@]}"; do
        if [[ ! -x $STACK_BIN/$name ]]; then
            s_log "$STACK_BIN/$name is missing: build it first (make all)"
            return 1
        fi
        var="CRM_SCALE_$(tr 'a-z-' 'A-Z_' <<<"$name")"
        scale=${!var:-1}
        if ! [[ $scale =~ ^[0-9]+$ ]] || ((scale < 1 || scale > 64)); then
            s_log "$var: invalid value \"$scale\": expected 1..64"
            return 1
        fi
        single=0
        for k in "${STACK_SINGLETONS[@]}"; do [[ $name == "$k" ]] && single=1; done
        if ((single)); then
            if ((scale != 1)); then
                s_log "$var=$scale ignored: $name binds fixed addresses and runs once"
                scale=1
            fi
            pname='%(program_name)s'
        else
            pname='%(program_name)s-%(process_num)d'
        fi
        # One log per process, named like the process.
        case $name in
        broker) prio=10 ;;
        gateway) prio=900 ;;
        *) prio=100 ;;
        esac
        out+=$'\n'
        out+=$(s_fill "$block" NAME "$name" COMMAND "$(s_sv_quoted "$STACK_BIN/$name")" \
            PROCESS_NAME "$pname" LOG_NAME "$pname" NUMPROCS "$scale" PRIORITY "$prio" \
            DATA_DIR "$(s_sv_plain "$CRM_DATA_DIR")" LOG_DIR "$(s_sv_plain "$STACK_LOG_DIR")" \
            ENVIRONMENT "$env_line")
    done
    # 0600: the environment may hold a database password.
    (umask 077 && printf '%s\n' "$out" >"$STACK_SUPERVISOR_CONF.tmp") &&
        mv -f -- "$STACK_SUPERVISOR_CONF.tmp" "$STACK_SUPERVISOR_CONF"
}

# Generates the configuration and starts supervisord in the background (its
# own session, so a terminal Ctrl-C reaches only the caller); waits until it
# answers. Sets STACK_SUPERVISOR_PID. When stack_pg_start already started it
# for the private PostgreSQL, the services are added to that one.
stack_supervisor_start() {
    local pid
    if pid=$(s_supervisor_pid); then
        if [[ ${STACK_PG_SUPERVISED:-0} == 1 ]]; then
            # Ours, started by stack_pg_start with PostgreSQL alone: add the services.
            s_supervisor_conf || return 1
            if ! stack_ctl update >/dev/null; then
                s_log "supervisord did not take the services (supervisorctl update failed)"
                return 1
            fi
            return 0
        fi
        s_log "supervisord already runs for $CRM_DATA_DIR (pid $pid): stop that stack first"
        return 1
    fi
    s_supervisor_conf || return 1
    s_supervisord_launch
}

# Starts supervisord on $STACK_SUPERVISOR_CONF in the background and waits
# until it answers. Sets STACK_SUPERVISOR_PID.
s_supervisord_launch() {
    local i
    rm -f -- "$STACK_RUN_DIR/supervisor.sock" "$STACK_SUPERVISOR_PIDFILE"
    env -u CRM_BOOTSTRAP_API_KEY setsid -w supervisord -n -c "$STACK_SUPERVISOR_CONF" \
        </dev/null >>"$STACK_LOG_DIR/supervisord.out" 2>&1 &
    STACK_SUPERVISOR_PID=$!
    for ((i = 0; i < 150; i++)); do
        if stack_ctl pid >/dev/null 2>&1; then
            return 0
        fi
        if ! s_alive "$STACK_SUPERVISOR_PID"; then
            wait "$STACK_SUPERVISOR_PID" 2>/dev/null || true
            s_log "supervisord exited at start:"
            tail -n 20 -- "$STACK_LOG_DIR/supervisord.out" "$CRM_DATA_DIR/supervisord.log" >&2 2>/dev/null
            return 1
        fi
        sleep 0.2
    done
    s_log "supervisord does not answer on $STACK_RUN_DIR/supervisor.sock"
    return 1
}

# Prints supervisor's view and the end of every log (for failures).
stack_report() {
    local lines=${1:-20} f
    if s_supervisor_pid >/dev/null; then
        echo "--- supervisorctl status"
        stack_ctl status || true
    fi
    for f in "$STACK_LOG_DIR"/*.log "$CRM_DATA_DIR/supervisord.log" "$STACK_LOG_DIR/supervisord.out"; do
        [[ -s $f ]] || continue
        # supervisord.out repeats supervisord.log but for errors before it opens.
        [[ $f == */supervisord.out && -s $CRM_DATA_DIR/supervisord.log ]] && continue
        echo "--- last $lines lines of $f"
        tail -n "$lines" -- "$f"
    done
}

# Polls GET /readyz until it answers 2xx; $1: seconds (default 60).
stack_wait_ready() {
    local deadline=$((SECONDS + ${1:-60}))
    while ((SECONDS < deadline)); do
        if curl -fsS --noproxy '*' -o /dev/null -m 5 "$STACK_URL/readyz" 2>/dev/null; then
            return 0
        fi
        if [[ -n ${STACK_SUPERVISOR_PID:-} ]] && ! s_alive "$STACK_SUPERVISOR_PID"; then
            s_log "supervisord has exited"
            break
        fi
        sleep 0.5
    done
    s_log "not ready: $STACK_URL/readyz did not answer 2xx within ${1:-60} s"
    stack_report 20 >&2
    return 1
}

# Stops every service, then supervisord; kills what is left after 90 s.
stack_supervisor_stop() {
    local pid children=() i
    if ! pid=$(s_supervisor_pid); then
        if [[ -n ${STACK_SUPERVISOR_PID:-} ]]; then wait "$STACK_SUPERVISOR_PID" 2>/dev/null || true; fi
        return 0
    fi
    s_log "stopping the services"
    mapfile -t children < <(stack_ctl pid all 2>/dev/null | grep -E '^[1-9][0-9]*$')
    stack_ctl shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 450; i++)); do
        s_alive "$pid" || break
        sleep 0.2
    done
    if s_alive "$pid"; then
        s_log "supervisord (pid $pid) did not stop: killing it and its services"
        kill -KILL "$pid" "${children[@]}" 2>/dev/null
    fi
    if [[ -n ${STACK_SUPERVISOR_PID:-} ]]; then wait "$STACK_SUPERVISOR_PID" 2>/dev/null || true; fi
    rm -f -- "$STACK_RUN_DIR/supervisor.sock"
    return 0
}
