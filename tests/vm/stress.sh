#!/usr/bin/env bash
# vm-cpus: 2 4
# Stress test: with scx_gamer attached, stress-ng --aggressive hammers it with
# CPU, fork, context-switch and affinity stressors. The scheduler must stay
# attached throughout (no watchdog ejection, no BPF error), detach with exit
# code 0 on SIGINT, and leave nothing bad in the kernel log.
. "$(dirname "$0")/lib.sh"
dmesg -C
n=$(nproc)
secs=${STRESS_SECS:-35}

start_scheduler "$VM_WORK"/sched.log
wait_attached "$SCHED_PID"

# stress-ng writes temporary files in its working directory: $VM_WORK is
# the guest's writable tmpfs. A stress-ng that cannot write there gives no load.
mkdir -p "$VM_WORK"/stress && cd "$VM_WORK"/stress
rc=0
stress-ng --aggressive --timeout "${secs}s" --metrics-brief \
	--cpu "$n" --fork "$n" --switch "$n" --affinity "$n" \
	>"$VM_WORK"/stress.log 2>&1 || rc=$?
cat "$VM_WORK"/stress.log
[ "$rc" -eq 0 ] || fail "stress-ng exited with $rc"
assert_stress_work "$VM_WORK"/stress.log cpu fork switch affinity

kill -0 "$SCHED_PID" 2>/dev/null || { cat "$VM_WORK"/sched.log; fail "scx_gamer died under stress"; }
assert_attached "after ${secs}s of stress-ng"

stop_scheduler "$VM_WORK"/sched.log
wait_detached
cat "$VM_WORK"/sched.log
shared=$(exit_totals "$VM_WORK"/sched.log | sed -nE 's/^  dispatch(.* | )shared ([0-9]+).*/\2/p')
[ -n "$shared" ] && [ "$shared" -gt 0 ] ||
	fail "no task went through the shared deadline queue under load"
assert_clean_kernel_log
echo "PASS stress"
