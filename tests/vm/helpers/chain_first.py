#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Fresh wake chains on a real uinput keyboard.

A reader thread (comm "chreader") blocks in read() on the keyboard's evdev
node, which makes it an input thread, and after each batch of events wakes
a second thread (comm "chwakee") of the same process through an eventfd.
Between chains the wakee sleeps on a timer long past the chain window, so
each eventfd wakeup is the first wakeup of a new chain: the class it
inherits must count on that very wakeup. The reader keeps its CPU busy
for 3 ms after each wakeup, so the wakee runs at once only if it is given
a CPU (preemption, for a classed thread). The test reads the wakee's waits
from sched_waking and sched_switch.

usage: chain_first.py SECONDS
"""
import ctypes
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from input_chain import EVENT, EV_KEY, EV_SYN, KEY_A, SYN_REPORT, create_keyboard  # noqa: E402

libc = ctypes.CDLL(None)


def main():
    seconds = float(sys.argv[1])
    ui, node = create_keyboard()
    evdev = os.open(node, os.O_RDONLY)
    wake = os.eventfd(0)
    stop = threading.Event()
    counts = {"reads": 0, "chains": 0}

    def reader():
        libc.prctl(15, b"chreader")
        while not stop.is_set():
            if os.read(evdev, EVENT.size * 64):
                counts["reads"] += 1
                os.eventfd_write(wake, 1)
                # Keep this CPU busy a while, so the wakee cannot just take
                # the CPU its waker leaves: it must be given one.
                spin_until = time.perf_counter() + 0.003
                while time.perf_counter() < spin_until:
                    pass

    def wakee():
        libc.prctl(15, b"chwakee")
        while not stop.is_set():
            os.eventfd_read(wake)
            counts["chains"] += 1
            # Past the chain window: the next eventfd wakeup starts afresh.
            time.sleep(0.05)

    threads = [threading.Thread(target=reader), threading.Thread(target=wakee)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        os.write(ui, EVENT.pack(0, 0, EV_KEY, KEY_A, 1))
        os.write(ui, EVENT.pack(0, 0, EV_SYN, SYN_REPORT, 0))
        time.sleep(0.1)
        os.write(ui, EVENT.pack(0, 0, EV_KEY, KEY_A, 0))
        os.write(ui, EVENT.pack(0, 0, EV_SYN, SYN_REPORT, 0))
        time.sleep(0.1)
    stop.set()
    os.write(ui, EVENT.pack(0, 0, EV_KEY, KEY_A, 1))
    os.write(ui, EVENT.pack(0, 0, EV_SYN, SYN_REPORT, 0))
    os.eventfd_write(wake, 1)
    for t in threads:
        t.join(timeout=5)
    print(f"reads={counts['reads']} chains={counts['chains']}")


if __name__ == "__main__":
    main()
