#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The summary of one bench/profile.sh run.

usage: profile.py DIR

Prints the game's frames (DIR/game.json), the time per call of each BPF
program that ran between DIR/progs.before and DIR/progs.after (bpftool prog
show, with kernel.bpf_stats_enabled) and the waits of the game's threads in
DIR/sched.trace (tests/vm/helpers/sched_waits.py), in microseconds.
"""
import json
import os
import re
import subprocess
import sys

PROG = re.compile(r"^\d+: \S+\s+name (\S+)")
STATS = re.compile(r"run_time_ns (\d+) run_cnt (\d+)")
THREADS = ("gamesim", "render", "submit", "audio", "input")


def progs(path):
    """{name: (run_time_ns, run_cnt)}, summed over programs of one name."""
    out, name = {}, None
    with open(path) as f:
        for line in f:
            m = PROG.match(line)
            if m:
                name = m[1]
            m = STATS.search(line)
            if m and name:
                t, c = out.get(name, (0, 0))
                out[name] = (t + int(m[1]), c + int(m[2]))
    return out


def main():
    d = sys.argv[1]
    g = json.load(open(os.path.join(d, "game.json")))
    print(f"frames {g['frames']}, missed {g['missed_ratio'] * 100:.1f} %, "
          f"p99 {g['p99_ms']} ms, max late {g['max_late_ms']} ms, audio periods missed {g['audio_missed']}, "
          f"input to frame p99 {g['input_frames_p99_ms']} ms")
    before, after = progs(os.path.join(d, "progs.before")), progs(os.path.join(d, "progs.after"))
    rows = []
    for name, (t, c) in after.items():
        t0, c0 = before.get(name, (0, 0))
        if c > c0:
            rows.append((t - t0, c - c0, name))
    print(f"{'program':28} {'ms':>9} {'calls':>8} {'us/call':>8}")
    for t, c, name in sorted(rows, reverse=True)[:10]:
        print(f"{name:28} {t / 1e6:9.1f} {c:8} {t / c / 1000:8.1f}")
    helper = os.path.join(os.path.dirname(__file__), "..", "tests", "vm", "helpers", "sched_waits.py")
    print(f"{'thread':8} {'waits':>6} {'median':>7} {'p99':>7} {'max':>7}")
    for comm in THREADS:
        n, med, p99, mx = subprocess.check_output(
            [sys.executable, helper, os.path.join(d, "sched.trace"), comm], text=True).split()
        print(f"{comm:8} {n:>6} {med:>7} {p99:>7} {mx:>7}")


if __name__ == "__main__":
    main()
