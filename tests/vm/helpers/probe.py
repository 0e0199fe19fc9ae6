#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A periodic thread shaped like a frame loop: sleep, then a little work.

Names itself NAME (its comm, which the tests' trace filters match) and
loops for SECONDS: sleep PERIOD_MS, then spin WORK_US of wall time. What it
measures of itself is nothing: the tests read its waits from sched_switch
and sched_waking.

usage: probe.py NAME PERIOD_MS WORK_US SECONDS
"""
import ctypes
import sys
import time


def main():
    name, period_ms, work_us, seconds = sys.argv[1], *map(float, sys.argv[2:5])
    ctypes.CDLL(None).prctl(15, name.encode())  # PR_SET_NAME
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(period_ms / 1000)
        spin_until = time.perf_counter() + work_us / 1e6
        while time.perf_counter() < spin_until:
            pass


if __name__ == "__main__":
    main()
