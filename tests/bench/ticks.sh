# Sourced by the benchmarks that count the CPU of the programs they start
# (run.sh, history.sh).
# shellcheck shell=bash

# Sets CHILD_TICKS: the CPU of this shell's reaped children (wrk, pgbench,
# crmctl), in clock ticks. No subshell, so reading it costs nothing that it
# would count.
children_ticks() {
    local s f
    read -r s <"/proc/$$/stat"
    s=${s##*) }
    read -r -a f <<<"$s"
    # shellcheck disable=SC2034 # read by the script that sourced this
    CHILD_TICKS=$((f[13] + f[14]))
}
