#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Runnable waits of tasks, from a tracefs text trace of sched_switch and
sched_waking (trace_clock mono, so CPUs' stamps compare).

A wait starts when a sleeping task is woken (sched_waking) or when a running
task is switched out still runnable (prev_state R), and ends when it is
switched in. A wait still open when the trace ends counts up to its last
stamp, so a task that never ran is not missed.

A task first seen being switched in was waiting when the trace began: that
wait counts from the first stamp of the trace.

usage: sched_waits.py TRACE COMM [--waker COMM] [--wakeups] [--per-task]
  prints count, median, p99 and max of the waits of tasks named COMM, in
  microseconds; with --waker, that line for the wakeups made by a task
  named that, then one for every other wait; --wakeups, that line for the
  waits that began with a wakeup only (not a switch-out while runnable);
  --per-task prints, per pid, its waits' count and max instead.
"""
import re
import sys

LINE = re.compile(r"^\s*(?P<cur>.+)-(?P<curpid>\d+)\s+\[\d+\].*?\s(?P<ts>\d+\.\d+): (?P<ev>sched_\w+): (?P<rest>.*)$")
SWITCH = re.compile(r"prev_comm=(?P<pc>.*) prev_pid=(?P<pp>\d+) prev_prio=\d+ prev_state=(?P<ps>\S+) ==> next_comm=(?P<nc>.*) next_pid=(?P<np>\d+)")
WAKING = re.compile(r"comm=(?P<c>.*) pid=(?P<p>\d+) prio=")


def waits(path, comm, waker=None):
    """(pid, wait_us, kind) for every wait of a task named @comm."""
    state, start, kind, out, first, last = {}, {}, {}, [], None, 0.0
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            ts = float(m["ts"])
            last = ts
            if first is None:
                first = ts
            if m["ev"] == "sched_waking":
                w = WAKING.match(m["rest"])
                if not w or w["c"] != comm:
                    continue
                pid = int(w["p"])
                if state.get(pid) in ("run", "wait"):
                    continue
                state[pid], start[pid] = "wait", ts
                kind[pid] = "wake" if waker is None or m["cur"].strip() == waker else "other"
            elif m["ev"] == "sched_switch":
                s = SWITCH.match(m["rest"])
                if not s:
                    continue
                if s["pc"] == comm:
                    pid = int(s["pp"])
                    if s["ps"].startswith("R"):
                        state[pid], start[pid], kind[pid] = "wait", ts, "preempted"
                    else:
                        state[pid] = "sleep"
                if s["nc"] == comm:
                    pid = int(s["np"])
                    if state.get(pid) == "wait":
                        out.append((pid, (ts - start[pid]) * 1e6, kind[pid]))
                    elif pid not in state:
                        out.append((pid, (ts - first) * 1e6, "from-start"))
                    state[pid] = "run"
    for pid, st in state.items():
        if st == "wait":
            out.append((pid, (last - start[pid]) * 1e6, "open"))
    return out


def main():
    args = sys.argv[1:]
    per_task = "--per-task" in args
    wakeups = "--wakeups" in args
    args = [a for a in args if a not in ("--per-task", "--wakeups")]
    waker = None
    if "--waker" in args:
        i = args.index("--waker")
        waker = args[i + 1]
        del args[i : i + 2]
    path, comm = args
    ws = waits(path, comm, waker)
    if per_task:
        per = {}
        for pid, us, _ in ws:
            n, mx = per.get(pid, (0, 0.0))
            per[pid] = (n + 1, max(mx, us))
        for pid, (n, mx) in sorted(per.items()):
            print(f"{pid} {n} {mx:.0f}")
        return
    if wakeups:
        summary([us for _, us, k in ws if k == "wake"])
    elif waker is None:
        summary([us for _, us, _ in ws])
    else:
        summary([us for _, us, k in ws if k == "wake"])
        summary([us for _, us, k in ws if k != "wake"])


def summary(sel):
    sel.sort()
    if not sel:
        print("0 0 0 0")
        return
    p99 = sel[min(len(sel) - 1, int(len(sel) * 0.99))]
    print(f"{len(sel)} {sel[len(sel) // 2]:.0f} {p99:.0f} {sel[-1]:.0f}")


if __name__ == "__main__":
    main()
