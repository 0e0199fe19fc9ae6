#!/usr/bin/env bash
# One sched_ext scheduler at a time, against upstream's scx_bpfland 1.1.4 (the
# benchmark peer bench/setup-peers.sh builds), without systemd:
#  - scx_bpfland attached: scx_gamer exits non-zero naming it (as the kernel's
#    /sys/kernel/sched_ext/root/ops does), and scx_bpfland stays attached and
#    running;
#  - the reverse: scx_gamer attached, scx_bpfland exits non-zero with its own
#    refusal (upstream's message does not name the attached one), and
#    scx_gamer stays attached and running.
. "$(dirname "$0")/lib.sh"
dmesg -C
cd "$VM_WORK"
bpfland=${SCX_BPFLAND:-${SCX_GAMER_CACHE:-$HOME/.cache/scx_gamer}/peers/scx_bpfland-1.1.4/bin/scx_bpfland}
[ -x "$bpfland" ] || fail "no $bpfland: build it with bench/setup-peers.sh scx_bpfland"

# Run "$@", which must exit non-zero (not by timeout) within 60 s.
refused() {
	local out=$1 rc=0
	shift
	timeout 60 "$@" >"$out" 2>&1 || rc=$?
	cat "$out"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "$* exited $rc, expected a refusal"
	echo "exit $rc"
}

note "scx_bpfland attached, then scx_gamer"
"$bpfland" >bpfland.log 2>&1 &
bp=$!
for _ in $(seq 1 240); do
	[ "$(sched_state)" = enabled ] && break
	kill -0 "$bp" 2>/dev/null || { cat bpfland.log; fail "scx_bpfland exited before attaching"; }
	sleep 0.5
done
ops=$(sched_ops)
case "$ops" in bpfland*) ;; *) cat bpfland.log; fail "root/ops is '$ops', expected scx_bpfland's" ;; esac
refused gamer.out "$SCX_GAMER"
grep -qF "another sched_ext scheduler is attached: '$ops'" gamer.out ||
	fail "scx_gamer's refusal does not name the attached scheduler '$ops'"
[ "$(sched_state)" = enabled ] && [ "$(sched_ops)" = "$ops" ] ||
	fail "sched_ext is now $(sched_state) '$(sched_ops)', expected enabled '$ops'"
kill -0 "$bp" || fail "scx_bpfland died"
echo "ok: scx_gamer refused, naming '$ops'; scx_bpfland still attached"
kill -INT "$bp"
wait "$bp" || { cat bpfland.log; fail "scx_bpfland exited $? on SIGINT"; }
wait_detached

note "scx_gamer attached, then scx_bpfland"
start_scheduler "$VM_WORK"/sched.log
wait_attached "$SCHED_PID"
gops=$(sched_ops)
refused bpfland2.out "$bpfland"
grep -q "another sched_ext scheduler is already running" bpfland2.out ||
	fail "scx_bpfland's refusal is not upstream's 'another sched_ext scheduler is already running'"
assert_attached "after scx_bpfland's refusal"
[ "$(sched_ops)" = "$gops" ] || fail "root/ops changed from '$gops' to '$(sched_ops)'"
kill -0 "$SCHED_PID" || fail "scx_gamer died"
echo "ok: scx_bpfland refused; scx_gamer ('$gops') still attached"
stop_scheduler "$VM_WORK"/sched.log
wait_detached
assert_clean_kernel_log
echo "PASS one_scheduler"
