# What the throw-away benchmarks (history.sh, company.sh, exchange.sh) share,
# sourced after compose/stack.sh and stack_throwaway: the data directory
# kept when a run failed (or BENCH_KEEP=1) and removed otherwise, fail(),
# sql(), now_ms(). A script sets status=0 at its end; bench_on_cleanup
# names a function of its own to run first when it exits (stopping a fake).
# shellcheck shell=bash

tmp=$CRM_DATA_DIR
status=1
bench_on_cleanup=
bench_cleanup() {
    trap '' INT TERM
    if [[ -n $bench_on_cleanup ]]; then "$bench_on_cleanup" || true; fi
    stack_supervisor_stop || true
    stack_pg_stop || true
    if ((status == 0)) && [[ ${BENCH_KEEP:-0} != 1 ]]; then
        rm -rf -- "$tmp"
    else
        echo "bench: kept the data directory: $tmp"
    fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "bench: FAILED: $*" >&2
    stack_report 20 >&2 || true
    exit 1
}
sql() { "$STACK_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$CRM_DATABASE_URL" -c "$1"; }
now_ms() { date +%s%3N; }

# cpu_snapshot FILE: cpu_snapshot.py's "name ticks" lines for PostgreSQL and
# every service, and crmctl's own from this shell's reaped children (no
# subshell reads them). The programs are supervisord's children (read from
# /proc: supervisorctl does not always answer on a loaded machine),
# PostgreSQL apart. CPU per request is steadier than requests per second on
# a machine other work shares.
cpu_snapshot() {
    local args=() pid name sup
    sup=$(s_supervisor_pid) || fail "no supervisord"
    local -a pids
    read -r -d "" -a pids < <(cat /proc/"$sup"/task/*/children; printf "\0")
    for pid in "${pids[@]}"; do
        name=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
        [[ $name == postgres ]] || args+=("$name=$pid")
    done
    /usr/bin/python3 "$(dirname -- "${BASH_SOURCE[0]}")/cpu_snapshot.py" "$(s_pg_pid)" "${args[@]}" >"$1"
}
