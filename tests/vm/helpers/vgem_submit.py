#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""GPU work submitted through a real DRM driver: vgem.

vgem, the virtual GEM driver, has no command stream; a client submits work
by attaching a fence to a buffer (DRM_IOCTL_VGEM_FENCE_ATTACH) and signals
it when the work is done. This does that N times, one every 5 ms, from one
thread, and prints that thread's id and how many submits succeeded.

usage: vgem_submit.py COUNT
"""
import fcntl
import glob
import os
import struct
import sys
import threading
import time


def ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (ord("d") << 8) | nr


CREATE_DUMB = ioc(3, 0xB2, 32)  # struct drm_mode_create_dumb
FENCE_ATTACH = ioc(3, 0x41, 16)  # struct drm_vgem_fence_attach
FENCE_SIGNAL = ioc(1, 0x42, 8)  # struct drm_vgem_fence_signal
VGEM_FENCE_WRITE = 0x1


def vgem_node():
    # vgem's device is named after it (a platform device on older kernels,
    # a faux one on newer), whatever bus it sits on.
    for card in sorted(glob.glob("/sys/class/drm/card*")):
        if "/vgem/" in os.path.realpath(card):
            return "/dev/dri/" + os.path.basename(card)
    raise SystemExit("no vgem card (is the vgem module loaded?)")


def main():
    count = int(sys.argv[1])
    fd = os.open(vgem_node(), os.O_RDWR)
    dumb = bytearray(struct.pack("IIIIIIQ", 64, 64, 32, 0, 0, 0, 0))
    fcntl.ioctl(fd, CREATE_DUMB, dumb, True)
    handle = struct.unpack_from("I", dumb, 16)[0]
    done = 0
    for _ in range(count):
        attach = bytearray(struct.pack("IIII", handle, VGEM_FENCE_WRITE, 0, 0))
        fcntl.ioctl(fd, FENCE_ATTACH, attach, True)
        fence = struct.unpack_from("I", attach, 8)[0]
        fcntl.ioctl(fd, FENCE_SIGNAL, struct.pack("II", fence, 0))
        done += 1
        time.sleep(0.005)
    print(f"pid={os.getpid()}")
    print(f"tid={threading.get_native_id()}")
    print(f"submits={done}")


if __name__ == "__main__":
    main()
