#!/usr/bin/env python3
"""CPU time used so far by processes, from /proc/PID/stat: user and system, in seconds.

usage: proc_cpu.py NAME=PID ...   prints {"NAME": {"user_s": .., "system_s": ..}, ...}
"""
import json
import os
import sys


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        stat = f.read()
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = os.sysconf("SC_CLK_TCK")
    # utime and stime are fields 14 and 15 of the line; 3rd and later after the name.
    return {"user_s": int(fields[11]) / ticks, "system_s": int(fields[12]) / ticks}


if __name__ == "__main__":
    out = {}
    for arg in sys.argv[1:]:
        name, _, pid = arg.partition("=")
        out[name] = cpu_seconds(int(pid))
    print(json.dumps(out))
