#!/usr/bin/env bash
# vm-qemu-opts: -device virtio-gpu-pci,xres=320,yres=240
# Frames as presented, with a real renderer: Debian's kmscube drawing through
# Mesa onto virtio-gpu's 320x240 display, with legacy page flips. Mesa's
# softpipe renders: llvmpipe's JIT aborts on TCG's CPU model ("64-bit code
# requested on a subtarget that doesn't support it"), and with a named CPU
# model it takes half a minute to start.
#  - scx_gamer's frame events and the kernel's drm_vblank_event_delivered
#    tracepoint agree in count (within 1 %), CRTC and sequence, and each
#    frame's presentation time is the drm_vblank_event tracepoint's time for
#    that vblank, to the nanosecond;
#  - the compositor class goes to the process DRM itself lists as master
#    (debugfs dri/N/clients), which is kmscube;
#  - a client that opens the card while kmscube holds it, and tries an
#    atomic commit (refused: it is not master), gets no class and no frame;
#  - named the game (--game-comm), kmscube's frames are game frames, and
#    --stats shows the game's frame times.
. "$(dirname "$0")/lib.sh"
dmesg -C
log="$VM_WORK"/sched.log
T=/sys/kernel/tracing
# sort, comm and join must agree on one order.
export LC_ALL=C
cd "$VM_WORK"

command -v kmscube >/dev/null || fail "kmscube is not installed (scripts/setup-vm.sh installs it)"
load_virtio_gpu
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
mountpoint -q $T || mount -t tracefs none $T

start_scheduler "$log" --watch-events frame --log-classes --game-comm kmscube --stats 1
wait_attached "$SCHED_PID"
grep -q 'class hooks on:.*send_vblank_event' "$log" || fail "the presentation hook is not on"

echo 0 >$T/tracing_on
echo >$T/trace
echo 1 >$T/events/drm/drm_vblank_event_delivered/enable
echo 1 >$T/events/drm/drm_vblank_event/enable
echo 1 >$T/tracing_on

note "kmscube: 40 frames through Mesa onto virtio-gpu"
# kmscube stops when its stdin is readable (EOF included): give it a pipe
# that never is.
mkfifo stdin && exec 9<>stdin
GALLIUM_DRIVER=softpipe MESA_SHADER_CACHE_DISABLE=true \
	kmscube -D /dev/dri/card0 -c 40 <&9 >kmscube.out 2>&1 &
cube=$!

# Wait for kmscube to hold the display, then read who DRM says is master.
clients=""
for _ in $(seq 1 120); do
	clients=$(cat /sys/kernel/debug/dri/*/clients 2>/dev/null || true)
	echo "$clients" | awk -v p="$cube" '$2 == p && $4 == "y" { f = 1 } END { exit !f }' && break
	kill -0 "$cube" 2>/dev/null || break
	sleep 0.25
done
echo "$clients"
master=$(echo "$clients" | awk '$4 == "y" { print $2; exit }')
[ -n "$master" ] || { cat kmscube.out; fail "no DRM client holds master while kmscube runs"; }

note "a client that only opens the card (and is refused a commit)"
/usr/bin/python3 - >client.out <<'PY'
import errno, fcntl, os
fd = os.open("/dev/dri/card0", os.O_RDWR)
req = (3 << 30) | (56 << 16) | (ord("d") << 8) | 0xBC  # DRM_IOCTL_MODE_ATOMIC
try:
    fcntl.ioctl(fd, req, bytearray(56))
    print("atomic=accepted")
except OSError as e:
    print(f"atomic={errno.errorcode[e.errno]}")
print(f"pid={os.getpid()}")
PY
cat client.out
client=$(sed -n 's/^pid=//p' client.out)
grep -q '^atomic=EACCES' client.out || fail "the non-master client's commit was not refused with EACCES"

wait "$cube" || { cat kmscube.out; fail "kmscube failed"; }
echo 0 >$T/tracing_on
sleep 1
stop_scheduler "$log"
echo 0 >$T/events/drm/drm_vblank_event_delivered/enable
echo 0 >$T/events/drm/drm_vblank_event/enable
tail -3 kmscube.out

[ "$master" = "$cube" ] || fail "DRM lists $master as master, not kmscube ($cube)"
grep -qE "class compositor: tid [0-9]+ \(kmscube\) tgid $cube via drm-page-flip" "$log" ||
	fail "kmscube ($cube), the DRM master, is not a compositor"
echo "ok: the DRM master, kmscube ($cube), is the compositor"
if grep -E "class [a-z-]+: tid $client " "$log"; then
	fail "the client that only opened the card ($client) was classified"
fi
if grep -E " frame .* tgid=$client " "$log"; then
	fail "a frame event went to the client that only opened the card ($client)"
fi
echo "ok: the client that only opened the card ($client) got no class and no frame"

# crtc seq of each delivery to a process, per the kernel and per scx_gamer.
# (The kernel's own commits get completion events with no file, which are
# delivered to no one.)
grep -v 'drm_vblank_event_delivered: file=0000000000000000,' $T/trace |
	sed -n 's/.*drm_vblank_event_delivered: .*crtc=\([0-9]*\), seq=\([0-9]*\).*/\1 \2/p' | sort >kernel.seq
sed -n "s/.* frame crtc=\([0-9]*\) seq=\([0-9]*\) present-ns=[0-9]* tgid=$cube .*/\1 \2/p" "$log" | sort >ours.seq
sed -n 's/.*drm_vblank_event: crtc=\([0-9]*\), seq=\([0-9]*\), time=\([0-9]*\).*/\1 \2 \3/p' $T/trace | sort -u >vblank.time
sed -n "s/.* frame crtc=\([0-9]*\) seq=\([0-9]*\) present-ns=\([0-9]*\) tgid=$cube .*/\1 \2 \3/p" "$log" | sort >ours.time
# Kept beside the test log, to read after a failure.
cp kernel.seq ours.seq vblank.time ours.time $T/trace "$VM_OUT"/ 2>/dev/null || true
k=$(wc -l <kernel.seq)
n=$(wc -l <ours.seq)
both=$(comm -12 kernel.seq ours.seq | wc -l)
echo "deliveries: tracepoint $k, scx_gamer $n, same crtc and seq $both"
[ "$k" -ge 36 ] || fail "the tracepoint saw only $k deliveries for 40 frames"
awk -v k="$k" -v n="$n" -v b="$both" 'BEGIN { exit !(b * 100 >= k * 99 && n * 100 <= k * 101) }' ||
	fail "scx_gamer's frames ($n, $both matching) differ from the tracepoint's $k by more than 1 %"
echo "ok: frame events match the tracepoint in count, CRTC and sequence"
grep -m1 " frame crtc=.* tgid=$cube .*interval=[1-9]" "$log" | sed 's/^/one of them: /' 

# A presentation at a vblank the tracepoint saw must carry that vblank's time.
timed=$(join <(awk '{ print $1 ":" $2, $3 }' ours.time | sort) <(awk '{ print $1 ":" $2, $3 }' vblank.time | sort))
seen=$(echo "$timed" | grep -c . || true)
same=$(echo "$timed" | awk '$2 == $3' | grep -c . || true)
echo "presentation times: $seen at a traced vblank, $same equal to its timestamp"
echo "$timed" | awk '$2 != $3' | head -3
awk -v s="$seen" -v e="$same" -v n="$n" 'BEGIN { exit !(s * 100 >= n * 99 && e == s) }' ||
	fail "presentation times differ from the kernel's vblank timestamps"
echo "ok: every presentation time is the kernel's vblank timestamp"

# Missed vblanks, from the kernel's own sequence numbers: the vblanks between
# the first and last delivery that presented no frame.
# The game's own frame times, from its presented frames.
notgame=$(grep -E " frame .* tgid=$cube " "$log" | grep -vc " game=1 " || true)
[ "$notgame" -eq 0 ] || fail "$notgame of kmscube's frames are not marked as the game's"
gf=$(grep -E '^  game frames  [0-9]+ ' "$log" | tail -1)
[ -n "$gf" ] || fail "--stats showed no game frame times"
echo "last --stats game line:$gf"
echo "ok: kmscube's frames are the game's, and --stats shows their frame times"

missed=$(sed -n "s/.* frame .* tgid=$cube .* missed=\([0-9]*\) .*/\1/p" "$log" | awk '{ s += $1 } END { print s + 0 }')
span=$(awk 'NR == 1 { lo = $2 } { hi = $2 } END { print hi - lo + 1 - NR }' <(sort -k2,2n kernel.seq))
echo "vblanks without a frame: scx_gamer $missed, tracepoint $span"
[ "$missed" -eq "$span" ] || fail "scx_gamer counted $missed missed vblanks, the kernel's sequence says $span"
[ "$missed" -gt 0 ] || fail "kmscube at a few frames per second missed no vblank: the count is not working"
echo "ok: missed vblanks match the kernel's sequence numbers"

assert_clean_kernel_log
echo "PASS present"
