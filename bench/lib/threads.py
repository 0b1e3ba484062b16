"""CPU used by each thread of a process over an interval, from /proc (no profiler needed).

    python threads.py PID SECONDS

Threads are grouped by name (``comm``): chDB names its threads (MergeMutate, BgSchPool, ...),
granian's Rust runtime threads are ``tokio-rt-worker``; Python threads keep the process name,
so they are listed per thread id (the event loop runs on the thread whose id is the PID).
Prints % of one core per group.
"""

from __future__ import annotations

import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def snapshot(pid: int) -> dict[int, tuple[str, int]]:
    out: dict[int, tuple[str, int]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            raw = open(f"/proc/{pid}/task/{tid}/stat").read()
            name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        out[int(tid)] = (name, int(fields[11]) + int(fields[12]))
    return out


def main() -> None:
    pid, seconds = int(sys.argv[1]), float(sys.argv[2])
    before = snapshot(pid)
    time.sleep(seconds)
    after = snapshot(pid)
    process_name = open(f"/proc/{pid}/comm").read().strip()
    groups: dict[str, int] = {}
    for tid, (name, ticks) in after.items():
        delta = ticks - before.get(tid, (name, 0))[1]
        if name == process_name:
            name = "event loop (main thread)" if tid == pid else f"python thread {tid}"
        groups[name] = groups.get(name, 0) + delta
    total = sum(groups.values())
    print(f"total: {100 * total / TICK / seconds:.1f}% of one core over {seconds:.0f} s")
    for name, ticks in sorted(groups.items(), key=lambda item: -item[1]):
        if ticks:
            print(f"  {100 * ticks / TICK / seconds:5.1f}%  {name}")


if __name__ == "__main__":
    main()
