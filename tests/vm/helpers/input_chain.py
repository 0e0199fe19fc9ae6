#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A process shaped like a game's input path, on a real uinput device.

A uinput keyboard is created and typed on. A reader thread blocks in read()
on the device's /dev/input/eventN node (the evdev path) and, after each batch
of events, wakes a second "game" thread through an eventfd, the way Wine
hands work between threads. The reader also wakes a separate process
through a pipe, which must not inherit anything: classes travel only
between threads of one process. Prints the thread ids as key=value lines so
a test can check exactly which threads the scheduler classified.

usage: input_chain.py SECONDS
"""
import fcntl
import os
import struct
import sys
import threading
import time

UI_SET_EVBIT = 0x40045564
UI_SET_KEYBIT = 0x40045565
UI_DEV_SETUP = 0x405C5503
UI_DEV_CREATE = 0x5501
UI_DEV_DESTROY = 0x5502
EV_SYN, EV_KEY, SYN_REPORT, KEY_A = 0, 1, 0, 30
EVENT = struct.Struct("llHHi")  # struct input_event on 64-bit


def ui_get_sysname(length):
    return (2 << 30) | (length << 16) | (ord("U") << 8) | 44


def create_keyboard():
    fd = os.open("/dev/uinput", os.O_WRONLY | os.O_NONBLOCK)
    fcntl.ioctl(fd, UI_SET_EVBIT, EV_KEY)
    fcntl.ioctl(fd, UI_SET_KEYBIT, KEY_A)
    setup = struct.pack("HHHH80sI", 0x03, 0x1234, 0x5678, 1, b"scx-gamer-test-kbd", 0)
    fcntl.ioctl(fd, UI_DEV_SETUP, setup)
    fcntl.ioctl(fd, UI_DEV_CREATE)
    buf = bytearray(64)
    fcntl.ioctl(fd, ui_get_sysname(len(buf)), buf)
    sysname = buf.split(b"\0", 1)[0].decode()
    sysdir = f"/sys/devices/virtual/input/{sysname}"
    for _ in range(100):
        events = [e for e in os.listdir(sysdir) if e.startswith("event")]
        if events and os.path.exists(f"/dev/input/{events[0]}"):
            return fd, f"/dev/input/{events[0]}"
        time.sleep(0.02)
    raise SystemExit(f"no event node appeared under {sysdir}")


def other_process(pipe_r, result_w):
    """Another process, woken through a pipe by the input reader."""
    wakeups = 0
    while True:
        data = os.read(pipe_r, 64)
        if not data:
            break
        wakeups += 1
        sum(range(2000))
    os.write(result_w, f"{wakeups}\n".encode())
    os._exit(0)


def main():
    seconds = float(sys.argv[1])
    pipe_r, pipe_w = os.pipe()
    result_r, result_w = os.pipe()
    other = os.fork()
    if other == 0:
        os.close(pipe_w)
        os.close(result_r)
        other_process(pipe_r, result_w)
    os.close(pipe_r)
    os.close(result_w)
    ui, node = create_keyboard()
    evdev = os.open(node, os.O_RDONLY)
    wake = os.eventfd(0)
    tids = {}
    stop = threading.Event()
    reads = {"reader": 0, "game": 0}

    def reader():
        tids["reader_tid"] = threading.get_native_id()
        while not stop.is_set():
            data = os.read(evdev, EVENT.size * 64)
            if data:
                reads["reader"] += len(data) // EVENT.size
                os.eventfd_write(wake, 1)
                os.write(pipe_w, b"x")

    def game():
        tids["game_tid"] = threading.get_native_id()
        while not stop.is_set():
            os.eventfd_read(wake)
            reads["game"] += 1
            sum(range(2000))  # a little frame work

    threads = [threading.Thread(target=reader), threading.Thread(target=game)]
    for t in threads:
        t.start()
    time.sleep(0.2)

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for value in (1, 0):
            os.write(ui, EVENT.pack(0, 0, EV_KEY, KEY_A, value))
            os.write(ui, EVENT.pack(0, 0, EV_SYN, SYN_REPORT, 0))
        time.sleep(0.02)

    stop.set()
    os.write(ui, EVENT.pack(0, 0, EV_KEY, KEY_A, 1))
    os.write(ui, EVENT.pack(0, 0, EV_SYN, SYN_REPORT, 0))
    os.eventfd_write(wake, 1)
    for t in threads:
        t.join(timeout=5)
    fcntl.ioctl(ui, UI_DEV_DESTROY)
    os.close(pipe_w)
    other_wakeups = int(os.read(result_r, 64) or b"0")
    os.waitpid(other, 0)

    print(f"pid={os.getpid()}")
    for k, v in sorted(tids.items()):
        print(f"{k}={v}")
    print(f"events_read={reads['reader']}")
    print(f"game_wakeups={reads['game']}")
    print(f"other_pid={other}")
    print(f"other_wakeups={other_wakeups}")


if __name__ == "__main__":
    main()
