#!/usr/bin/env python3
"""VmRSS, its anonymous and file-backed parts, and VmHWM (peak RSS) of a process, in KiB, from
/proc/PID/status."""
import json
import sys


def memory_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[name.lower() + "_kib"] = int(value.split()[0])
    return out


if __name__ == "__main__":
    print(json.dumps(memory_kib(int(sys.argv[1]))))
