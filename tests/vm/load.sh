#!/usr/bin/env bash
# Load test: the BPF programs pass the verifier, the scheduler attaches and
# detaches, and the verifier's per-program instruction counts are printed so
# later changes can be compared against them.
. "$(dirname "$0")/lib.sh"
dmesg -C

start_scheduler "$VM_WORK"/sched.log --verifier-stats
wait_attached "$SCHED_PID"
assert_attached "after load"
grep '^verifier:' "$VM_WORK"/sched.log || fail "no verifier statistics printed"
grep -q '^verifier: total' "$VM_WORK"/sched.log || fail "no verifier total"
# Every struct_ops callback in the ops table must have been verified.
for prog in gamer_select_cpu gamer_enqueue gamer_dispatch gamer_running gamer_stopping \
	gamer_enable gamer_init_task gamer_init gamer_exit; do
	grep -qE "^verifier: $prog +[1-9][0-9]* insns" "$VM_WORK"/sched.log ||
		fail "program $prog missing from the verifier statistics"
done

sleep 2
stop_scheduler "$VM_WORK"/sched.log
wait_detached
grep -q 'unregistered from user space' "$VM_WORK"/sched.log ||
	fail "the exit reason was not reported"
cat "$VM_WORK"/sched.log
assert_clean_kernel_log
echo "PASS load"
