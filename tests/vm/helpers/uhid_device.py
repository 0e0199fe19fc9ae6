#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A HID device made through /dev/uhid, sending reports until killed.

The kernel parses its report descriptor, binds hid-generic and makes a
/dev/hidrawN node for it, exactly as for a USB device. KIND picks the
descriptor, and with it what the device says it is in its application
collection:
  gamepad  Generic Desktop / Game Pad (a device a person drives)
  ups      Power Device / UPS
  vendor   a vendor-defined page (how RGB, fan and FIDO-style devices look)

Prints `hidraw=/dev/hidrawN` once the node exists, then sends a 3-byte
report every 10 ms.

usage: uhid_device.py KIND
"""
import os
import struct
import sys
import time

UHID_DESTROY, UHID_CREATE2, UHID_INPUT2 = 1, 11, 12
# struct uhid_event: a u32 type and a packed union whose largest member is
# uhid_create2_req (128 + 64 + 64 + 2 + 2 + 4 * 4 + 4096 bytes).
EVENT_SIZE = 4 + 128 + 64 + 64 + 2 + 2 + 4 * 4 + 4096
BUS_VIRTUAL = 0x06

DESCRIPTORS = {
    "gamepad": bytes([
        0x05, 0x01, 0x09, 0x05, 0xA1, 0x01,  # Generic Desktop, Game Pad, Application
        0x05, 0x09, 0x19, 0x01, 0x29, 0x08,  # Buttons 1..8
        0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x08, 0x81, 0x02,
        0x05, 0x01, 0x09, 0x30, 0x09, 0x31,  # X, Y
        0x15, 0x81, 0x25, 0x7F, 0x75, 0x08, 0x95, 0x02, 0x81, 0x02,
        0xC0,
    ]),
    "ups": bytes([
        0x05, 0x84, 0x09, 0x04, 0xA1, 0x01,  # Power Device, UPS, Application
        0x09, 0x30, 0x15, 0x00, 0x26, 0xFF, 0x00,  # Voltage
        0x75, 0x08, 0x95, 0x03, 0x81, 0x02,
        0xC0,
    ]),
    "vendor": bytes([
        0x06, 0x00, 0xFF, 0x09, 0x01, 0xA1, 0x01,  # Vendor page 0xFF00, Application
        0x09, 0x01, 0x15, 0x00, 0x26, 0xFF, 0x00,
        0x75, 0x08, 0x95, 0x03, 0x81, 0x02,
        0xC0,
    ]),
}


def event(kind, payload):
    return (struct.pack("<I", kind) + payload).ljust(EVENT_SIZE, b"\0")


def hidraw_of(name):
    """The hidraw node whose HID device carries @name, once it exists."""
    for _ in range(200):
        for node in sorted(os.listdir("/sys/class/hidraw")):
            with open(f"/sys/class/hidraw/{node}/device/uevent") as f:
                if f"HID_NAME={name}\n" in f.read() and os.path.exists(f"/dev/{node}"):
                    return f"/dev/{node}"
        time.sleep(0.02)
    raise SystemExit(f"no hidraw node appeared for {name}")


def main():
    kind = sys.argv[1]
    rdesc = DESCRIPTORS[kind]
    name = f"scx-gamer-test-{kind}"
    fd = os.open("/dev/uhid", os.O_RDWR)
    create = struct.pack(
        "<128s64s64sHHIIII4096s", name.encode(), b"", b"", len(rdesc), BUS_VIRTUAL,
        0x1234, 0x5600 + len(kind), 1, 0, rdesc)
    os.write(fd, event(UHID_CREATE2, create))
    print(f"hidraw={hidraw_of(name)}", flush=True)
    n = 0
    try:
        while True:
            n += 1
            os.write(fd, event(UHID_INPUT2, struct.pack("<H3s", 3, bytes([n & 1, n & 0x7F, 0]))))
            time.sleep(0.01)
    finally:
        os.write(fd, event(UHID_DESTROY, b""))


if __name__ == "__main__":
    main()
