#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A streaming input device, and readers of input devices.

  input_stream.py source
      Make a uinput device shaped like a sensor (absolute X/Y/Z, the
      accelerometer property) and report a sample every 5 ms until killed.
      Prints `node=/dev/input/eventN` once its evdev node exists.
  input_stream.py read NODE SECONDS
      Read NODE (evdev or hidraw) for SECONDS; print the reading thread's
      id and how many reads returned data.
  input_stream.py game NODE TRIGGER SECONDS
      A game-shaped process: one thread runs a 2 ms frame loop for ever;
      once the file TRIGGER exists, another thread reads NODE for SECONDS,
      prints its thread id and reads, and the process exits.
"""
import fcntl
import os
import struct
import sys
import threading
import time

UI_SET_EVBIT = 0x40045564
UI_SET_ABSBIT = 0x40045567
UI_SET_PROPBIT = 0x4004556E
UI_DEV_SETUP = 0x405C5503
UI_ABS_SETUP = 0x401C5504
UI_DEV_CREATE = 0x5501
EV_SYN, EV_ABS, SYN_REPORT = 0, 3, 0
ABS_X, ABS_Y, ABS_Z = 0, 1, 2
INPUT_PROP_ACCELEROMETER = 6
EVENT = struct.Struct("llHHi")


def ui_get_sysname(length):
    return (2 << 30) | (length << 16) | (ord("U") << 8) | 44


def source():
    fd = os.open("/dev/uinput", os.O_WRONLY)
    fcntl.ioctl(fd, UI_SET_EVBIT, EV_ABS)
    fcntl.ioctl(fd, UI_SET_PROPBIT, INPUT_PROP_ACCELEROMETER)
    for axis in (ABS_X, ABS_Y, ABS_Z):
        fcntl.ioctl(fd, UI_SET_ABSBIT, axis)
        # struct uinput_abs_setup: code, then struct input_absinfo.
        fcntl.ioctl(fd, UI_ABS_SETUP, struct.pack("H2x6i", axis, 0, -512, 512, 0, 0, 0))
    fcntl.ioctl(fd, UI_DEV_SETUP,
                struct.pack("HHHH80sI", 0x06, 0x1234, 0x5700, 1, b"scx-gamer-test-sensor", 0))
    fcntl.ioctl(fd, UI_DEV_CREATE)
    buf = bytearray(64)
    fcntl.ioctl(fd, ui_get_sysname(len(buf)), buf)
    sysname = buf.split(b"\0", 1)[0].decode()
    sysdir = f"/sys/devices/virtual/input/{sysname}"
    for _ in range(100):
        events = [e for e in os.listdir(sysdir) if e.startswith("event")]
        if events and os.path.exists(f"/dev/input/{events[0]}"):
            break
        time.sleep(0.02)
    else:
        raise SystemExit(f"no event node appeared under {sysdir}")
    print(f"node=/dev/input/{events[0]}", flush=True)
    n = 0
    while True:
        n += 1
        for axis in (ABS_X, ABS_Y, ABS_Z):
            os.write(fd, EVENT.pack(0, 0, EV_ABS, axis, (n * (axis + 1)) % 512))
        os.write(fd, EVENT.pack(0, 0, EV_SYN, SYN_REPORT, 0))
        time.sleep(0.005)


def read(node, seconds, out):
    """Read @node for @seconds; store the thread id and reads in @out."""
    out["tid"] = threading.get_native_id()
    fd = os.open(node, os.O_RDONLY | os.O_NONBLOCK)
    reads = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if os.read(fd, 4096):
                reads += 1
        except BlockingIOError:
            time.sleep(0.002)
    os.close(fd)
    out["reads"] = reads


def game(node, trigger, seconds):
    def frames():
        while True:
            sum(range(500))
            time.sleep(0.002)

    threading.Thread(target=frames, daemon=True).start()
    while not os.path.exists(trigger):
        time.sleep(0.05)
    out = {}
    reader = threading.Thread(target=read, args=(node, seconds, out))
    reader.start()
    reader.join()
    print(f"tid={out['tid']}\nreads={out['reads']}", flush=True)


def main():
    if sys.argv[1] == "source":
        source()
    elif sys.argv[1] == "read":
        out = {}
        read(sys.argv[2], float(sys.argv[3]), out)
        print(f"tid={out['tid']}\nreads={out['reads']}")
    elif sys.argv[1] == "game":
        game(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
