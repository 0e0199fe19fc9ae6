#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""What a scheduler's process has cost so far, read from the kernel.

usage: sched-cost.py PID             print a snapshot as JSON
       sched-cost.py PID --since F   print the difference from snapshot file F

A snapshot holds, from the BPF programs the process holds open (each
prog fd's /proc/PID/fdinfo, which carries run_time_ns and run_cnt while
kernel.bpf_stats_enabled=1), the run time and run count of its struct_ops
programs (the sched_ext callbacks) and of its other programs (tracepoints,
kprobes and the like), and the CPU time of all its threads, from
/proc/PID/task/*/schedstat (nanoseconds on CPU, finer than stat's ticks).
"""
import json
import os
import sys

BPF_PROG_TYPE_STRUCT_OPS = 27


def prog_stats(pid):
    """{prog_id: (is_struct_ops, run_time_ns, run_cnt)} for the process's prog fds."""
    progs = {}
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            if os.readlink(os.path.join(fd_dir, fd)) != "anon_inode:bpf-prog":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue  # an fd closed while we looked
        info = {k.strip(): v.strip() for k, v in info.items()}
        if "run_time_ns" not in info:
            raise SystemExit("sched-cost: fdinfo has no run_time_ns; is kernel.bpf_stats_enabled=1?")
        progs[int(info["prog_id"])] = (int(info["prog_type"]) == BPF_PROG_TYPE_STRUCT_OPS,
                                       int(info["run_time_ns"]), int(info["run_cnt"]))
    return progs


def cpu_ns(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that exited while we looked
    return total


def snapshot(pid):
    progs = prog_stats(pid)
    if not any(s for s, _, _ in progs.values()):
        raise SystemExit(f"sched-cost: process {pid} holds no struct_ops program")
    snap = {"struct_ops_ns": 0, "struct_ops_cnt": 0, "other_ns": 0, "other_cnt": 0, "cpu_ns": cpu_ns(pid)}
    for is_ops, ns, cnt in progs.values():
        key = "struct_ops" if is_ops else "other"
        snap[f"{key}_ns"] += ns
        snap[f"{key}_cnt"] += cnt
    return snap


def main():
    args = sys.argv[1:]
    if len(args) not in (1, 3) or not args[0].isdigit() or (len(args) == 3 and args[1] != "--since"):
        raise SystemExit("usage: sched-cost.py PID [--since SNAPSHOT_FILE]")
    now = snapshot(int(args[0]))
    if len(args) == 3:
        with open(args[2]) as f:
            before = json.load(f)
        now = {k: now[k] - before[k] for k in now}
    print(json.dumps(now))


if __name__ == "__main__":
    main()
