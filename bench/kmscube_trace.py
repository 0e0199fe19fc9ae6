#!/usr/bin/env python3
"""Where a renderer's time went, from a tracefs text dump (bench/kmscube-trace.sh).

    kmscube_trace.py TRACE THREADS

THREADS holds "tid comm" lines (the renderer's threads). For each thread:
its runs (sched_switch in to out), its waits from a wakeup to running, its
waits from being switched out still runnable (preempted, or its slice
ended) to running again; then the frames delivered (drm_vblank_event_delivered
to a process) and the thread's longest uninterruptible sleeps (switched out
in state D) with the task whose sched_waking ended each.
"""
import re
import sys
from collections import defaultdict

SWITCH = re.compile(r" (\d+\.\d+): sched_switch: prev_comm=.* prev_pid=(\d+) prev_prio=\d+ "
                    r"prev_state=(\S+) ==> next_comm=.* next_pid=(\d+) next_prio=\d+")
WAKING = re.compile(r"^\s*(.+)-(\d+)\s+\[\d+\].* (\d+\.\d+): sched_waking: comm=.* pid=(\d+) ")
WAKEUP = re.compile(r" (\d+\.\d+): sched_wakeup: comm=.* pid=(\d+) ")


def stats(values):
    """n, sum, p50, p90, max of a list of seconds, in ms."""
    if not values:
        return "none"
    v = sorted(values)
    n = len(v)
    return (f"n={n} sum={sum(v) * 1e3:.0f} ms p50={v[n // 2] * 1e3:.2f} "
            f"p90={v[int(n * 0.9)] * 1e3:.2f} max={v[-1] * 1e3:.2f}")


def analyse(lines, tids):
    runs, woke, preempted = defaultdict(list), defaultdict(list), defaultdict(list)
    started, ready, asleep_d, d_sleeps = {}, {}, {}, []
    frames, first, last = 0, None, None
    for line in lines:
        m = SWITCH.search(line)
        if m:
            ts, prev, state, nxt = float(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4))
            first = ts if first is None else first
            last = ts
            if prev in tids and prev in started:
                runs[prev].append(ts - started.pop(prev))
                if state.startswith("R"):
                    ready[prev] = (ts, preempted)
                elif state.startswith("D"):
                    asleep_d[prev] = ts
            if nxt in tids:
                started[nxt] = ts
                if nxt in ready:
                    since, kind = ready.pop(nxt)
                    kind[nxt].append(ts - since)
            continue
        m = WAKING.search(line)
        if m:
            pid = int(m.group(4))
            if pid in asleep_d:
                d_sleeps.append((float(m.group(3)) - asleep_d.pop(pid), pid, m.group(1).strip()))
            continue
        m = WAKEUP.search(line)
        if m:
            pid = int(m.group(2))
            if pid in tids and pid not in started and pid not in ready:
                ready[pid] = (float(m.group(1)), woke)
            continue
        if "drm_vblank_event_delivered:" in line and "file=0000000000000000" not in line:
            frames += 1
    return runs, woke, preempted, d_sleeps, frames, (last - first if first is not None else 0)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: kmscube_trace.py TRACE THREADS")
    tids = {}
    for line in open(sys.argv[2]):
        f = line.split()
        if len(f) >= 2:
            tids[int(f[0])] = f[1]
    with open(sys.argv[1]) as f:
        runs, woke, preempted, d_sleeps, frames, window = analyse(f, tids)
    print(f"window {window:.2f} s, frames delivered {frames}")
    for tid, comm in sorted(tids.items()):
        if not runs[tid]:
            continue
        print(f"{tid} {comm}\n  runs: {stats(runs[tid])}\n  wakeup to run: {stats(woke[tid])}\n"
              f"  runnable again to run: {stats(preempted[tid])}")
    d_sleeps.sort(reverse=True)
    print("longest uninterruptible sleeps:")
    for secs, tid, waker in d_sleeps[:5]:
        print(f"  {tids[tid]} ({tid}) {secs * 1e3:.1f} ms, woken by {waker}")


if __name__ == "__main__":
    main()
