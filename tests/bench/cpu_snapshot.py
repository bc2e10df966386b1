#!/usr/bin/env python3
"""CPU clock ticks used so far, for tests/bench/run.sh.

Usage: cpu_snapshot.py POSTMASTER_PID [NAME=PID ...]

Prints "name ticks" lines (user + system time, in clock ticks):
  clock      CLOCK_MONOTONIC in seconds when the machine was read (not ticks)
  machine    busy time of the whole machine (user, nice, system, irq, softirq)
  steal      time the hypervisor gave to other guests
  postgres   the postmaster, the backends it has reaped and the live ones:
             short-lived connections (pgbench) are counted too
  NAME       each given process (all of its threads)
The difference of two snapshots is what was used in between.
"""

import os
import sys
import time


def s_stat(pid):
    """Fields of /proc/PID/stat after the command name (state is [0])."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        text = f.read()
    return text[text.rindex(")") + 2 :].split()


def main():
    # The machine first, so this script's own start-up counts before it.
    with open("/proc/stat", encoding="ascii") as f:
        now = time.clock_gettime(time.CLOCK_MONOTONIC)
        cpu = [int(v) for v in f.readline().split()[1:9]]
    print(f"clock {now:.6f}")
    user, nice, system, _idle, _iowait, irq, softirq, steal = cpu
    print("machine", user + nice + system + irq + softirq)
    print("steal", steal)

    pm = sys.argv[1]
    total = 0
    try:
        f = s_stat(pm)
        # utime, stime, cutime, cstime: fields 14..17 of the line.
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    except (OSError, ValueError, IndexError):
        pass
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            f = s_stat(entry)
            if f[1] == pm:
                total += int(f[11]) + int(f[12])
        except (OSError, ValueError, IndexError):
            continue  # gone in between
    print("postgres", total)

    for arg in sys.argv[2:]:
        name, _, pid = arg.partition("=")
        try:
            f = s_stat(pid)
            print(name, int(f[11]) + int(f[12]))
        except (OSError, ValueError, IndexError):
            print(name, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
