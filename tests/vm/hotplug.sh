#!/usr/bin/env bash
# CPU hotplug is handled live: with cpu_online/cpu_offline defined, the
# kernel keeps scx_gamer attached while cpu1 goes offline and comes back,
# instead of ending it and leaving the default scheduler to stand in while
# it reloads. Work keeps running throughout, and a task pinned to cpu1 runs
# there once it is back.
. "$(dirname "$0")/lib.sh"
dmesg -C
cpu=/sys/devices/system/cpu/cpu1/online
[ -w "$cpu" ] || fail "cpu1 cannot be taken offline in this VM"
log=$VM_WORK/sched.log

attach_count() { grep -c 'scx_gamer attached' "$log" || true; }

start_scheduler "$log"
wait_attached "$SCHED_PID"
mkdir -p "$VM_WORK/load" && cd "$VM_WORK/load"
stress-ng --cpu 2 --timeout 20s --metrics-brief >"$VM_WORK"/stress.log 2>&1 &
load=$!

for state in 0 1 0 1; do
	echo "$state" >"$cpu" || fail "could not set cpu1 online=$state"
	sleep 2
	assert_attached "after cpu1 online=$state"
	[ "$(attach_count)" -eq 1 ] || { cat "$log"; fail "scx_gamer re-attached after cpu1 online=$state"; }
	echo "ok: still attached after cpu1 online=$state"
done

# cpu1 is back: a task that may only run there must get it.
t0=$EPOCHREALTIME
timeout 60 taskset -c 1 sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done' ||
	fail "a task pinned to cpu1 did not finish within 60 s after cpu1 came back"
echo "figure: a task pinned to cpu1 finished in $(echo "$EPOCHREALTIME - $t0" | bc) s after it came back"

wait "$load" || fail "stress-ng failed during the hotplugs"
assert_stress_work "$VM_WORK"/stress.log cpu
stop_scheduler "$log"
wait_detached
cat "$log"
grep -E '^(\[[A-Z]+\] )?EXIT:' "$log" | grep -v 'unregistered from user space' &&
	fail "scx_gamer ended for a reason other than SIGINT (above)"
assert_clean_kernel_log
echo "PASS hotplug"
