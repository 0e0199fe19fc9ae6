#!/usr/bin/env bash
# vm-qemu-opts: -icount shift=2,sleep=off
# Faults: what happens when scx_gamer goes away without a clean detach.
#  - SIGKILL of the userspace process: the kernel's default scheduler must
#    take over within 1 s (measured by polling sched_ext's state), and a
#    workload running across the kill must keep progressing and complete.
#  - A BPF-side error (raised by the hidden --test-bpf-error-after-ms):
#    the exit reason must be in the log, --restart-on-error must attach
#    again exactly as often as it allows, and the process must then exit
#    with status 1, which the systemd unit does not restart on.
. "$(dirname "$0")/lib.sh"
dmesg -C
mkdir -p "$VM_WORK"/stress && cd "$VM_WORK"/stress

# Seconds since boot of the first kernel log line matching $1.
klog_time() { dmesg | sed -n "/$1/{s/^\[ *\([0-9.]*\)\].*/\1/p;q}"; }

note "SIGKILL of scx_gamer"
start_scheduler "$VM_WORK"/kill.log
wait_attached "$SCHED_PID"
# A mixed workload that spans the kill, and a counter that shows progress.
stress-ng --timeout 20s --metrics-brief --cpu 2 --fork 1 --switch 1 \
	>"$VM_WORK"/kill-stress.log 2>&1 &
load_pid=$!
# It appends a line per tick: rewriting one number would truncate the file
# first, and a read in between would see it empty.
: >"$VM_WORK"/progress
(
	while :; do
		echo tick >>"$VM_WORK"/progress
		sleep 0.05
	done
) &
counter_pid=$!
sleep 3
assert_attached "before the kill"
echo "faults: SIGKILL scx_gamer" >/dev/kmsg
t0=${EPOCHREALTIME/./}
kill -KILL "$SCHED_PID"
# Time from bash's own clock and only builtins in this loop: under load, a
# fork per sample (date, a subshell) would take longer than the fallback.
state=""
while :; do
	read -r state <"$SCHED_EXT/state"
	[ "$state" = disabled ] && break
	[ $((${EPOCHREALTIME/./} - t0)) -lt 10000000 ] || fail "sched_ext still '$state' 10 s after SIGKILL"
done
fallback_ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
rc=0
wait "$SCHED_PID" || rc=$?
[ "$rc" -eq 137 ] || fail "scx_gamer exited with $rc after SIGKILL, expected 137"
# The kernel's own timestamps, from the marker to its "disabled" line.
kernel_ms=$(awk -v a="$(klog_time 'faults: SIGKILL')" -v b="$(klog_time 'scx_gamer.*disabled')" \
	'BEGIN { printf "%d", (b - a) * 1000 }')
echo "figure: the default scheduler took over ${fallback_ms} ms after SIGKILL (polled), ${kernel_ms} ms by the kernel log"
[ "$fallback_ms" -le 1000 ] || fail "the default scheduler took over after ${fallback_ms} ms, more than 1 s"

p1=$(wc -l <"$VM_WORK"/progress)
sleep 1
p2=$(wc -l <"$VM_WORK"/progress)
[ "$p2" -gt "$p1" ] || fail "the counter stopped at $p1 after the kill"
echo "ok: the counter kept going after the kill ($p1 -> $p2 in 1 s)"
kill "$counter_pid"
rc=0
wait "$load_pid" || rc=$?
cat "$VM_WORK"/kill-stress.log
[ "$rc" -eq 0 ] || fail "the workload running across the kill exited with $rc"
assert_stress_work "$VM_WORK"/kill-stress.log cpu fork switch
echo "ok: the workload running across the kill completed"
assert_clean_kernel_log

note "a BPF error, restarted once by --restart-on-error 1"
dmesg -C
log="$VM_WORK"/error.log
start_scheduler "$log" --test-bpf-error-after-ms 2000 --restart-on-error 1
wait_attached "$SCHED_PID"
# Two attachments, two errors: each load takes the verifier a while here.
for _ in $(seq 1 480); do
	kill -0 "$SCHED_PID" 2>/dev/null || break
	sleep 0.5
done
kill -0 "$SCHED_PID" 2>/dev/null && { cat "$log"; fail "scx_gamer still running 240 s after the fault"; }
rc=0
wait "$SCHED_PID" || rc=$?
cat "$log"
[ "$rc" -eq 1 ] || fail "scx_gamer exited with $rc after the errors, expected 1"
wait_detached

attaches=$(grep -c 'scx_gamer attached' "$log" || true)
[ "$attaches" -eq 2 ] || fail "$attaches attachments, expected 2 (one start, one restart)"
reason='EXIT: scx_bpf_error \(.*test fault: --test-bpf-error-after-ms 2000 elapsed\)'
[ "$(grep -cE "^\[ERROR\] $reason" "$log")" -eq 2 ] ||
	fail "the exit reason was not logged as an error once per attachment"
grep -q 'restart 1 of 1 after an error' "$log" || fail "the restart was not logged"
grep -q 'restart 2 of' "$log" && fail "restarted more often than --restart-on-error allows"
tail -n 1 "$log" | grep -qE "^\[ERROR\] $reason" || fail "the last line does not give the reason"
echo "ok: error reported twice, restarted once, then exit 1"

# The kernel names the error too; nothing else may be wrong.
grep -q 'test fault: --test-bpf-error-after-ms 2000 elapsed' <(dmesg) ||
	fail "the kernel log does not name the error"
bad=$(dmesg | grep -E 'BUG:|WARNING:|\bstall|runnable task' || true)
[ -z "$bad" ] || { echo "$bad"; fail "the kernel log has errors (above)"; }
echo "PASS faults"
