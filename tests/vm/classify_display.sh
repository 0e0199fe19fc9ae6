#!/usr/bin/env bash
# vm-qemu-opts: -device virtio-gpu-pci
# Display classes on a real DRM device (qemu's virtio-gpu), by exact id:
#  - a root process putting frames on the display with atomic commits is a
#    compositor;
#  - one that only asks whether a commit would work (TEST_ONLY) is not;
#  - the GPU-submit hook on virtio-gpu's execbuffer attaches, and a submit
#    the driver refuses (no 3D support in this VM) gains nothing.
. "$(dirname "$0")/lib.sh"
dmesg -C
helpers=$(dirname "$0")/helpers
log="$VM_WORK"/sched.log

load_virtio_gpu

start_scheduler "$log" --log-classes
wait_attached "$SCHED_PID"
grep -q 'class hooks on:.*drm_mode_atomic_ioctl' "$log" || fail "the atomic commit hook is not on"
grep -q 'class hooks on:.*virtio_gpu_execbuffer_ioctl' "$log" || fail "the virtio-gpu submit hook is not on"

note "a compositor: atomic commits with flip events"
/usr/bin/python3 "$helpers/drm_commit.py" 30 >"$VM_WORK"/commit.out || fail "drm_commit.py failed"
cat "$VM_WORK"/commit.out
comp=$(sed -n 's/^pid=//p' "$VM_WORK"/commit.out)
[ "$(sed -n 's/^commits=//p' "$VM_WORK"/commit.out)" = 30 ] || fail "not all 30 commits were accepted"

note "a checker: TEST_ONLY commits never reach the display"
/usr/bin/python3 "$helpers/drm_commit.py" --test-only 30 >"$VM_WORK"/test.out || fail "drm_commit.py --test-only failed"
checker=$(sed -n 's/^pid=//p' "$VM_WORK"/test.out)

note "a refused GPU submit"
/usr/bin/python3 - >"$VM_WORK"/submit.out <<'PY'
import errno, fcntl, os, struct
fd = os.open("/dev/dri/renderD128", os.O_RDWR)
req = (3 << 30) | (64 << 16) | (ord("d") << 8) | 0x42  # DRM_IOCTL_VIRTGPU_EXECBUFFER
try:
    fcntl.ioctl(fd, req, bytearray(64))
    print("result=accepted")
except OSError as e:
    print(f"result={errno.errorcode[e.errno]}")
print(f"pid={os.getpid()}")
PY
cat "$VM_WORK"/submit.out
submitter=$(sed -n 's/^pid=//p' "$VM_WORK"/submit.out)
grep -q '^result=accepted' "$VM_WORK"/submit.out && fail "this VM accepted a virtio-gpu submit; the negative no longer holds"

sleep 0.5
stop_scheduler "$log"
grep '^\[INFO\] class' "$log" || true

grep -qE "class compositor: tid $comp \(python3\) tgid $comp via drm-atomic" "$log" ||
	fail "the process making atomic commits ($comp) is not a compositor"
echo "ok: $comp, committing frames, is a compositor"
for pid in "$checker" "$submitter"; do
	if grep -E "class [a-z-]+: tid $pid " "$log"; then
		fail "process $pid was classified"
	fi
done
echo "ok: the TEST_ONLY checker ($checker) and the refused submitter ($submitter) have no class"
exit_totals "$log" | grep -qE '^  compositor +1 ' || fail "the compositor counter is not 1"

assert_clean_kernel_log
echo "PASS classify_display"
