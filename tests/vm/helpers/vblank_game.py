#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A game that draws through a compositor: a new frame every Nth vblank.

Waits for N vblanks of the display (DRM_IOCTL_WAIT_VBLANK, relative, on
/dev/dri/card0, which needs no DRM master: the compositor holds it), then
submits that frame's GPU work through vgem (a fence attached to a buffer and
signalled, as vgem_submit.py does), COUNT times. It presents nothing itself:
its frames reach the screen only in the compositor's presentations.

usage: vblank_game.py N COUNT
Prints key=value lines: pid, submits (how many succeeded).
"""
import fcntl
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vgem_submit import CREATE_DUMB, FENCE_ATTACH, FENCE_SIGNAL, VGEM_FENCE_WRITE, ioc, vgem_node  # noqa: E402

# union drm_wait_vblank: request {type, sequence, signal} / reply, 24 bytes.
WAIT_VBLANK = ioc(3, 0x3A, 24)
VBLANK_RELATIVE = 0x1


def main():
    if len(sys.argv) != 3 or not all(a.isdigit() and int(a) > 0 for a in sys.argv[1:]):
        raise SystemExit("usage: vblank_game.py N COUNT (whole numbers >= 1)")
    every, count = int(sys.argv[1]), int(sys.argv[2])
    card = os.open("/dev/dri/card0", os.O_RDWR)
    vgem = os.open(vgem_node(), os.O_RDWR)
    dumb = bytearray(struct.pack("IIIIIIQ", 64, 64, 32, 0, 0, 0, 0))
    fcntl.ioctl(vgem, CREATE_DUMB, dumb, True)
    handle = struct.unpack_from("I", dumb, 16)[0]
    done = 0
    for _ in range(count):
        fcntl.ioctl(card, WAIT_VBLANK, bytearray(struct.pack("IIQ8x", VBLANK_RELATIVE, every, 0)), True)
        attach = bytearray(struct.pack("IIII", handle, VGEM_FENCE_WRITE, 0, 0))
        fcntl.ioctl(vgem, FENCE_ATTACH, attach, True)
        fence = struct.unpack_from("I", attach, 8)[0]
        fcntl.ioctl(vgem, FENCE_SIGNAL, struct.pack("II", fence, 0))
        done += 1
    print(f"pid={os.getpid()}")
    print(f"submits={done}")


if __name__ == "__main__":
    main()
