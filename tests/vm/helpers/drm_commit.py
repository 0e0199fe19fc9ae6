#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""A minimal compositor: put frames on a real DRM display with atomic commits.

Opens /dev/dri/card0, lights the first connected connector with a dumb
buffer, then flips between two buffers with atomic commits of the primary
plane's FB_ID (non-blocking, with a flip event), waiting for each event, as a
compositor does once per vblank. With --test-only it only asks the kernel
whether each commit would work (DRM_MODE_ATOMIC_TEST_ONLY) and never puts a
frame on the display.

usage: drm_commit.py [--test-only] FRAMES
Prints key=value lines: pid, commits (how many the kernel accepted).
"""
import ctypes
import fcntl
import os
import struct
import sys


def iowr(nr, size):
    return (3 << 30) | (size << 16) | (ord("d") << 8) | nr


SET_CLIENT_CAP = (1 << 30) | (16 << 16) | (ord("d") << 8) | 0x0D
GETRESOURCES = iowr(0xA0, 64)
GETCONNECTOR = iowr(0xA7, 80)
GETENCODER = iowr(0xA6, 20)
SETCRTC = iowr(0xA2, 104)
ADDFB = iowr(0xAE, 28)
CREATE_DUMB = iowr(0xB2, 32)
GETPLANERESOURCES = iowr(0xB5, 16)
GETPLANE = iowr(0xB6, 32)
OBJ_GETPROPERTIES = iowr(0xB9, 32)
GETPROPERTY = iowr(0xAA, 64)
ATOMIC = iowr(0xBC, 56)

CAP_UNIVERSAL_PLANES, CAP_ATOMIC = 2, 3
OBJECT_PLANE = 0xEEEEEEEE
PAGE_FLIP_EVENT, ATOMIC_TEST_ONLY, ATOMIC_NONBLOCK = 0x1, 0x100, 0x200
MODEINFO = 68


def ioctl(fd, req, buf):
    fcntl.ioctl(fd, req, buf, True)
    return buf


def u32_array(n):
    return (ctypes.c_uint32 * max(n, 1))()


def u64_array(n):
    return (ctypes.c_uint64 * max(n, 1))()


def addr(arr):
    return ctypes.addressof(arr)


def resources(fd):
    buf = ioctl(fd, GETRESOURCES, bytearray(64))
    _, _, _, _, nfb, ncrtc, nconn, nenc = struct.unpack_from("4Q4I", buf)
    crtcs, conns, encs = u32_array(ncrtc), u32_array(nconn), u32_array(nenc)
    buf = bytearray(struct.pack("4Q4I4I", 0, addr(crtcs), addr(conns), addr(encs),
                                0, ncrtc, nconn, nenc, 0, 0, 0, 0))
    ioctl(fd, GETRESOURCES, buf)
    return list(crtcs)[:ncrtc], list(conns)[:nconn]


def connector(fd, conn_id):
    buf = bytearray(struct.pack("4Q12I", 0, 0, 0, 0, 0, 0, 0, 0, conn_id, 0, 0, 0, 0, 0, 0, 0))
    ioctl(fd, GETCONNECTOR, buf)
    fields = struct.unpack_from("4Q12I", buf)
    nmodes, nprops, nenc, enc_id, _, _, _, connection = fields[4:12]
    modes = (ctypes.c_uint8 * (MODEINFO * max(nmodes, 1)))()
    props, values, encs = u32_array(nprops), u64_array(nprops), u32_array(nenc)
    buf = bytearray(struct.pack("4Q12I", addr(encs), addr(modes), addr(props), addr(values),
                                nmodes, nprops, nenc, 0, conn_id, 0, 0, 0, 0, 0, 0, 0))
    ioctl(fd, GETCONNECTOR, buf)
    enc_id, connection = struct.unpack_from("4Q12I", buf)[7], struct.unpack_from("4Q12I", buf)[11]
    return connection, bytes(modes)[:MODEINFO] if nmodes else None, enc_id


def dumb_fb(fd, width, height):
    buf = ioctl(fd, CREATE_DUMB, bytearray(struct.pack("6IQ", height, width, 32, 0, 0, 0, 0)))
    _, _, _, _, handle, pitch, _ = struct.unpack("6IQ", buf)
    buf = ioctl(fd, ADDFB, bytearray(struct.pack("7I", 0, width, height, pitch, 32, 24, handle)))
    return struct.unpack("7I", buf)[0]


def property_id(fd, obj_id, obj_type, name):
    buf = ioctl(fd, OBJ_GETPROPERTIES, bytearray(struct.pack("2Q3I4x", 0, 0, 0, obj_id, obj_type)))
    count = struct.unpack_from("2Q3I", buf)[2]
    ids, vals = u32_array(count), u64_array(count)
    ioctl(fd, OBJ_GETPROPERTIES,
          bytearray(struct.pack("2Q3I4x", addr(ids), addr(vals), count, obj_id, obj_type)))
    for pid in list(ids)[:count]:
        buf = ioctl(fd, GETPROPERTY, bytearray(struct.pack("2Q2I32s2I", 0, 0, pid, 0, b"", 0, 0)))
        if struct.unpack_from("2Q2I32s", buf)[4].split(b"\0", 1)[0] == name:
            return pid
    raise SystemExit(f"object {obj_id} has no property {name!r}")


def primary_plane(fd, crtc_index):
    buf = ioctl(fd, GETPLANERESOURCES, bytearray(16))
    count = struct.unpack_from("QI", buf)[1]
    ids = u32_array(count)
    ioctl(fd, GETPLANERESOURCES, bytearray(struct.pack("QI4x", addr(ids), count)))
    for pid in list(ids)[:count]:
        buf = ioctl(fd, GETPLANE, bytearray(struct.pack("6IQ", pid, 0, 0, 0, 0, 0, 0)))
        possible = struct.unpack("6IQ", buf)[3]
        if possible & (1 << crtc_index):
            return pid
    raise SystemExit("no plane can show on the CRTC")


def main():
    args = sys.argv[1:]
    test_only = args and args[0] == "--test-only"
    frames = int(args[-1])
    fd = os.open("/dev/dri/card0", os.O_RDWR)
    crtcs, conns = resources(fd)
    for conn_id in conns:
        connection, mode, enc_id = connector(fd, conn_id)
        if connection == 1 and mode:
            break
    else:
        raise SystemExit("no connected connector with a mode")
    width, height = struct.unpack_from("<I2H", mode)[1], struct.unpack_from("<I6H", mode)[6]
    crtc_id = crtcs[0]
    if enc_id:
        enc = ioctl(fd, GETENCODER, bytearray(struct.pack("5I", enc_id, 0, 0, 0, 0)))
        crtc_id = struct.unpack("5I", enc)[2] or crtc_id
    fbs = [dumb_fb(fd, width, height) for _ in range(2)]
    conn_ids = u32_array(1)
    conn_ids[0] = conn_id
    ioctl(fd, SETCRTC, bytearray(struct.pack("Q7I", addr(conn_ids), 1, crtc_id, fbs[0], 0, 0, 0, 1) + mode))

    ioctl(fd, SET_CLIENT_CAP, bytearray(struct.pack("2Q", CAP_UNIVERSAL_PLANES, 1)))
    ioctl(fd, SET_CLIENT_CAP, bytearray(struct.pack("2Q", CAP_ATOMIC, 1)))
    plane = primary_plane(fd, crtcs.index(crtc_id))
    fb_prop = property_id(fd, plane, OBJECT_PLANE, b"FB_ID")

    objs, counts, props, values = u32_array(1), u32_array(1), u32_array(1), u64_array(1)
    objs[0], counts[0], props[0] = plane, 1, fb_prop
    flags = ATOMIC_TEST_ONLY if test_only else PAGE_FLIP_EVENT | ATOMIC_NONBLOCK
    commits = 0
    for frame in range(frames):
        values[0] = fbs[(frame + 1) % 2]
        req = struct.pack("2I6Q", flags, 1, addr(objs), addr(counts), addr(props), addr(values), 0, 0)
        ioctl(fd, ATOMIC, bytearray(req))
        commits += 1
        if not test_only:
            os.read(fd, 4096)  # the flip event: the frame is on screen
    print(f"pid={os.getpid()}")
    print(f"commits={commits}")


if __name__ == "__main__":
    main()
