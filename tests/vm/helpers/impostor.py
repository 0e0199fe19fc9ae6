#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""An unprivileged process doing everything it can to look like a game,
a compositor or an audio server, for as long as it runs.

It renames itself NAME, reads the hidraw node HIDRAW (a device it may
open, which sends reports), issues the display's ioctls on the DRM card
and render nodes it may open while another process is the display's
master, tries the sound card, and binds pipewire-0 and pulse/native
sockets in SOCKDIR, a directory of its own. Every step must have the
outcome an unprivileged process really gets: a step that does nothing
(a node it cannot open, a read that returns no data, a socket it cannot
bind) or that unexpectedly succeeds (the display's master ioctls) ends it
with status 1 and a line saying why, so a test cannot pass by doing
nothing. After the first round it prints `ready` with what it did, then
repeats the round every 10 ms until killed.

usage: impostor.py NAME HIDRAW SOCKDIR
"""
import ctypes
import errno
import fcntl
import os
import select
import socket
import sys
import time

PR_SET_NAME = 15


def iowr(nr, size):
    return (3 << 30) | (size << 16) | (ord("d") << 8) | nr


DRM_VERSION = iowr(0x00, 64)
DRM_SET_MASTER = (ord("d") << 8) | 0x1E
DRM_MODE_PAGE_FLIP = iowr(0xB0, 24)
DRM_MODE_ATOMIC = iowr(0xBC, 56)
VIRTGPU_EXECBUFFER = iowr(0x42, 64)


def die(msg):
    print(f"impostor {os.getpid()}: {msg}", flush=True)
    sys.exit(1)


def ioctl(fd, req, size):
    """The errno of ioctl @req on @fd with a zeroed argument, 0 on success."""
    try:
        fcntl.ioctl(fd, req, bytearray(size), True)
        return 0
    except OSError as e:
        return e.errno


def expect_refused(fd, what, req, size, allowed):
    err = ioctl(fd, req, size)
    if err not in allowed:
        die(f"{what}: got {errno.errorcode.get(err, 'success')}, expected "
            f"{'/'.join(errno.errorcode[a] for a in allowed)}")
    return errno.errorcode[err]


def open_or_die(path, flags):
    try:
        return os.open(path, flags)
    except OSError as e:
        die(f"cannot open {path} ({e.strerror}): the test set it up for this user")


def drm_round():
    """The display and GPU ioctls a non-master user can reach."""
    done = []
    for node in ("/dev/dri/card0", "/dev/dri/renderD128"):
        fd = open_or_die(node, os.O_RDWR)
        if ioctl(fd, DRM_VERSION, 64):
            die(f"DRM_IOCTL_VERSION failed on {node}: the node does not work")
        if node.endswith("card0"):
            done.append("set-master=" + expect_refused(
                fd, "SET_MASTER on card0", DRM_SET_MASTER, 0, (errno.EACCES, errno.EBUSY)))
        done.append("atomic=" + expect_refused(
            fd, f"an atomic commit on {node}", DRM_MODE_ATOMIC, 56, (errno.EACCES,)))
        done.append("page-flip=" + expect_refused(
            fd, f"a page flip on {node}", DRM_MODE_PAGE_FLIP, 24, (errno.EACCES,)))
        if node.endswith("renderD128"):
            err = ioctl(fd, VIRTGPU_EXECBUFFER, 64)
            if err == 0:
                die("virtio-gpu accepted a submit; the negative no longer holds")
            done.append("execbuffer=" + errno.errorcode[err])
        os.close(fd)
    return done


def hidraw_round(fd):
    """Wait up to 2 s for a report, then read the hidraw device for 50 ms
    more; the number of reads with data."""
    reads = 0
    select.select([fd], [], [], 2.0)
    end = time.monotonic() + 0.05
    while time.monotonic() < end:
        try:
            if os.read(fd, 64):
                reads += 1
        except BlockingIOError:
            time.sleep(0.002)
    return reads


def sound_round():
    try:
        os.close(os.open("/dev/snd/pcmC0D0p", os.O_RDWR))
    except PermissionError:
        return "EACCES"
    except OSError as e:
        die(f"opening the sound card: {e.strerror}, expected EACCES")
    die("the sound card is open to this user; the test no longer models a seat")


def bind_sockets(sockdir):
    socks = []
    os.makedirs(f"{sockdir}/pulse", exist_ok=True)
    for path in (f"{sockdir}/pipewire-0", f"{sockdir}/pulse/native"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(path)
            s.listen()
        except OSError as e:
            die(f"cannot bind {path}: {e.strerror}")
        socks.append(s)
    return socks


def main():
    name, hidraw, sockdir = sys.argv[1:4]
    if os.getuid() == 0:
        die("runs as root; it must be unprivileged")
    ctypes.CDLL(None).prctl(PR_SET_NAME, name.encode())
    with open("/proc/self/comm") as f:
        if f.read().strip() != name:
            die(f"the rename to {name} did not take")
    socks = bind_sockets(sockdir)
    hid = open_or_die(hidraw, os.O_RDONLY | os.O_NONBLOCK)
    first = True
    while True:
        reads = hidraw_round(hid)
        drm = drm_round()
        snd = sound_round()
        if first:
            if reads == 0:
                die(f"read no reports from {hidraw} in 2 s")
            print(f"ready pid={os.getpid()} comm={name} hidraw_reads={reads} "
                  f"{' '.join(drm)} sound={snd} sockets={len(socks)}", flush=True)
            first = False
        time.sleep(0.01)


if __name__ == "__main__":
    main()
