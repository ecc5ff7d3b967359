#!/usr/bin/env python3
"""CPU time used so far by processes, from /proc/PID/stat: user and system, in seconds.

usage: proc_cpu.py NAME=PID ...          prints {"NAME": {"user_s": .., "system_s": ..}, ...}
       proc_cpu.py --children-of PID     prints the PIDs whose parent is PID, one per line
(/proc only: a fresh machine may have no procps, hence no pgrep.)
"""
import json
import os
import sys


def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (which is in parentheses and may
    hold spaces): [0] is the state, [1] the parent's PID."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        stat = f.read()
    return stat[stat.rindex(")") + 2:].split()


def children_of(parent):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if int(stat_fields(entry)[1]) == parent:
                out.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return sorted(out)


def cpu_seconds(pid):
    fields = stat_fields(pid)
    ticks = os.sysconf("SC_CLK_TCK")
    # utime and stime: fields 14 and 15 of the line, [11] and [12] after the name.
    return {"user_s": int(fields[11]) / ticks, "system_s": int(fields[12]) / ticks}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--children-of":
        for child in children_of(int(sys.argv[2])):
            print(child)
        sys.exit(0)
    out = {}
    for arg in sys.argv[1:]:
        name, _, pid = arg.partition("=")
        out[name] = cpu_seconds(int(pid))
    print(json.dumps(out))
