#!/usr/bin/env bash
# Bad input and hostile conditions: each case must end with a clear message
# and a non-zero exit, and leave sched_ext exactly as it was.
. "$(dirname "$0")/lib.sh"
dmesg -C

# Run scx_gamer with the given arguments; it must exit non-zero with a
# message matching $2, and sched_ext must still read $1 afterwards.
expect_refusal() {
	local state_after=$1 pattern=$2 rc=0
	shift 2
	timeout 120 "$@" >"$VM_WORK"/refusal.log 2>&1 || rc=$?
	if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
		cat "$VM_WORK"/refusal.log
		fail "'$*' exited with $rc, expected a refusal"
	fi
	grep -qE -- "$pattern" "$VM_WORK"/refusal.log || {
		cat "$VM_WORK"/refusal.log
		fail "'$*' did not say /$pattern/"
	}
	[ "$(sched_state)" = "$state_after" ] ||
		fail "'$*' left sched_ext $(sched_state), expected $state_after"
	echo "ok: $* -> exit $rc: $(head -c 200 "$VM_WORK"/refusal.log | tr '\n' ' ')"
}

note "invalid and out-of-range flags"
expect_refusal disabled "not in 100..=100000" "$SCX_GAMER" --slice-us 0
expect_refusal disabled "not in 1000..=1000000" "$SCX_GAMER" --slice-lag-us 5000000
expect_refusal disabled "invalid value 'fast'" "$SCX_GAMER" --slice-us fast
expect_refusal disabled "unexpected argument '--no-such-flag'" "$SCX_GAMER" --no-such-flag

note "a --game-pid that names no process"
expect_refusal disabled "--game-pid 4000000: there is no process with that PID" \
	"$SCX_GAMER" --game-pid 4000000
expect_refusal disabled "not in 1..=4194304" "$SCX_GAMER" --game-pid 0
expect_refusal disabled "at most 15 of a process name" "$SCX_GAMER" --game-comm a-very-long-game-name

note "not root"
expect_refusal disabled "must run as root.*CAP_SYS_ADMIN" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$SCX_GAMER"

note "root without CAP_BPF"
expect_refusal disabled "needs CAP_BPF" \
	setpriv --bounding-set=-bpf --inh-caps=-bpf "$SCX_GAMER"

note "another scheduler already attached"
start_scheduler "$VM_WORK"/first.log
wait_attached "$SCHED_PID"
first_ops=$(sched_ops)
expect_refusal enabled "another sched_ext scheduler is attached: '$first_ops'" "$SCX_GAMER"
assert_attached "the first instance must be untouched"
[ "$(sched_ops)" = "$first_ops" ] || fail "root/ops changed to $(sched_ops)"
stop_scheduler "$VM_WORK"/first.log
wait_detached

assert_clean_kernel_log
echo "PASS refusals"
