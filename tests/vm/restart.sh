#!/usr/bin/env bash
# A recoverable exit restarts the scheduler. Taking a CPU offline makes the
# kernel end the BPF scheduler with a restart request; scx_gamer must attach
# again on its own, both when the CPU goes and when it comes back.
. "$(dirname "$0")/lib.sh"
dmesg -C
cpu=/sys/devices/system/cpu/cpu1/online
[ -w "$cpu" ] || fail "cpu1 cannot be taken offline in this VM"

attach_count() { grep -c 'scx_gamer attached' "$VM_WORK"/sched.log || true; }

start_scheduler "$VM_WORK"/sched.log
wait_attached "$SCHED_PID"

for state in 0 1; do
	before=$(attach_count)
	echo "$state" >"$cpu"
	for _ in $(seq 1 240); do
		[ "$(attach_count)" -gt "$before" ] && break
		kill -0 "$SCHED_PID" 2>/dev/null || { cat "$VM_WORK"/sched.log; fail "scx_gamer exited on hotplug"; }
		sleep 0.5
	done
	[ "$(attach_count)" -gt "$before" ] || { cat "$VM_WORK"/sched.log; fail "no re-attach after cpu1 online=$state"; }
	wait_attached "$SCHED_PID"
	echo "ok: re-attached after cpu1 online=$state"
done

stop_scheduler "$VM_WORK"/sched.log
wait_detached
cat "$VM_WORK"/sched.log
grep -q 'attaching again' "$VM_WORK"/sched.log || fail "the restart was not logged"
# The hotplug exits are expected here; anything else is not.
bad=$(dmesg | grep -E 'BUG:|WARNING:|\bstall|runnable task' || true)
[ -z "$bad" ] || { echo "$bad"; fail "the kernel log has errors (above)"; }
echo "PASS restart"
