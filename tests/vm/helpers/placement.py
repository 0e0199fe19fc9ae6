#!/usr/bin/python3
"""Helpers for tests/vm/topology.sh.

  placement.py game GO SECS    two threads that wake every 8 ms and spin for
                               0.3 ms, from when the file GO exists, for SECS
  placement.py sample PID SECS every 20 ms, the CPU each thread of PID but
                               its first last ran on (field 39 of its stat);
                               prints the samples per CPU: "cpu0=N cpu1=M"

The sampler is a separate process so that its own work is not the game's."""
import os
import sys
import threading
import time


def game(go, secs):
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            time.sleep(0.008)
            end = time.thread_time() + 0.0003
            while time.thread_time() < end:
                pass

    while not os.path.exists(go):
        time.sleep(0.05)
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(secs)
    stop.set()
    for t in threads:
        t.join()


def sample(pid, secs):
    counts = {}
    end = time.monotonic() + secs
    while time.monotonic() < end:
        time.sleep(0.02)
        try:
            tids = [t for t in os.listdir(f"/proc/{pid}/task") if t != str(pid)]
        except OSError:
            break
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            cpu = int(stat.rsplit(")", 1)[1].split()[36])
            counts[cpu] = counts.get(cpu, 0) + 1
    print(" ".join(f"cpu{c}={n}" for c, n in sorted(counts.items())))


if __name__ == "__main__":
    mode, arg, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
    if mode == "game":
        game(arg, secs)
    else:
        sample(int(arg), secs)
