#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Churn the scheduling attributes of running tasks, for the soak test.

Every round it lists the threads of the processes whose name starts with
one of the given prefixes, and changes one attribute of each at random:

  affinity  sched_setaffinity to one online CPU or to all of them
  nice      setpriority to a nice level from -5 to 19
  cgroup    writes the process into one of the given cgroup2 groups

A change that fails because the task exited, or its CPU went offline,
meanwhile is skipped. The work is done in-process, with no fork per change,
so the churn keeps up under load.

It prints `ready` once started (an interpreter starting under heavy load can
take longer than a short soak lasts, so the test starts it first), churns
for as long as RUNFILE exists, and prints `changes=N` at the end.

usage: churn.py MODE RUNFILE PREFIX[,PREFIX...] [CGROUP_DIR...]
"""
import os
import random
import sys
import time


def online_cpus():
    cpus = set()
    with open("/sys/devices/system/cpu/online") as f:
        for part in f.read().strip().split(","):
            lo, _, hi = part.partition("-")
            cpus.update(range(int(lo), int(hi or lo) + 1))
    return sorted(cpus)


def targets(prefixes):
    """(pid, [tids]) of every process whose name starts with a prefix."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
            if not comm.startswith(prefixes):
                continue
            tids = [int(t) for t in os.listdir(f"/proc/{entry}/task")]
        except OSError:
            continue
        found.append((int(entry), tids))
    return found


def main():
    mode, runfile, prefixes = sys.argv[1], sys.argv[2], tuple(sys.argv[3].split(","))
    groups = sys.argv[4:]
    if mode not in ("affinity", "nice", "cgroup") or (mode == "cgroup" and not groups):
        sys.exit(__doc__)
    changes = 0
    print("ready", flush=True)
    while os.path.exists(runfile):
        cpus = online_cpus()
        for pid, tids in targets(prefixes):
            try:
                if mode == "affinity":
                    for tid in tids:
                        mask = cpus if random.random() < 0.3 else [random.choice(cpus)]
                        os.sched_setaffinity(tid, mask)
                        changes += 1
                elif mode == "nice":
                    for tid in tids:
                        os.setpriority(os.PRIO_PROCESS, tid, random.randint(-5, 19))
                        changes += 1
                else:
                    with open(os.path.join(random.choice(groups), "cgroup.procs"), "w") as f:
                        f.write(f"{pid}\n")
                    changes += 1
            except OSError:
                pass
        time.sleep(0.05)
    print(f"changes={changes}")


if __name__ == "__main__":
    main()
