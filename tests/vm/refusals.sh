#!/usr/bin/env bash
# Bad input and hostile conditions: each case must end with a clear message
# and a non-zero exit, and leave sched_ext exactly as it was, with no BPF
# program of its own left loaded. Flags refused while parsing are covered on
# the host too (tests/host.sh), where they need no sched_ext.
. "$(dirname "$0")/lib.sh"
dmesg -C

# BPF programs loaded in the kernel, from their JIT symbols.
bpf_progs() { grep -cE '^[0-9a-f]+ t bpf_prog_[0-9a-f]+_' /proc/kallsyms || true; }
# A program is freed a moment after its last holder exits.
wait_bpf_progs() {
	local want=$1 i
	for i in $(seq 1 40); do
		[ "$(bpf_progs)" -eq "$want" ] && return 0
		sleep 0.25
	done
	fail "$(bpf_progs) BPF programs loaded, expected $want: something was left behind"
}
progs_before=$(bpf_progs)
progs_idle=$progs_before

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
	wait_bpf_progs "$progs_before"
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

note "a --game-pid that names a thread, not a process"
/usr/bin/python3 -c 'import sys, threading, time
t = threading.Thread(target=time.sleep, args=(60,), daemon=True)
t.start()
open(sys.argv[1], "w").write(f"{t.native_id}\n")
time.sleep(60)' "$VM_WORK"/tid &
owner=$!
for _ in $(seq 1 40); do [ -s "$VM_WORK"/tid ] && break; sleep 0.25; done
thread=$(cat "$VM_WORK"/tid)
[ "$thread" != "$owner" ] && [ -d /proc/"$thread" ] || fail "no thread id to test with"
expect_refusal disabled "--game-pid $thread: there is no process with that PID" \
	"$SCX_GAMER" --game-pid "$owner" --game-pid "$thread"
kill "$owner"

note "root without CAP_BPF"
expect_refusal disabled "needs CAP_BPF" \
	setpriv --bounding-set=-bpf --inh-caps=-bpf "$SCX_GAMER"

note "root without CAP_SYS_ADMIN"
expect_refusal disabled "needs CAP_SYS_ADMIN" \
	setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin "$SCX_GAMER"

note "another scheduler already attached"
start_scheduler "$VM_WORK"/first.log
wait_attached "$SCHED_PID"
first_ops=$(sched_ops)
progs_attached=$(bpf_progs)
[ "$progs_attached" -gt "$progs_before" ] || fail "the attached scheduler shows no BPF programs: the leak check sees nothing"
progs_before=$progs_attached
expect_refusal enabled "another sched_ext scheduler is attached: '$first_ops'" "$SCX_GAMER"
assert_attached "the first instance must be untouched"
[ "$(sched_ops)" = "$first_ops" ] || fail "root/ops changed to $(sched_ops)"
stop_scheduler "$VM_WORK"/first.log
wait_detached

note "two instances started at once: one attaches, the other is refused"
# The first instance's programs are freed a moment after it exits.
wait_bpf_progs "$progs_idle"
progs_before=$progs_idle
"$SCX_GAMER" >"$VM_WORK"/a.log 2>&1 &
a=$!
"$SCX_GAMER" >"$VM_WORK"/b.log 2>&1 &
b=$!
# The loser exits; the winner stays attached.
for _ in $(seq 1 480); do
	kill -0 "$a" 2>/dev/null && kill -0 "$b" 2>/dev/null || break
	sleep 0.5
done
if kill -0 "$a" 2>/dev/null; then winner=$a loser=$b; else winner=$b loser=$a; fi
rc=0
wait "$loser" || rc=$?
lost_log=$VM_WORK/$([ "$loser" = "$a" ] && echo a || echo b).log
cat "$lost_log"
[ "$rc" -ne 0 ] || fail "the second instance exited 0"
# Refused by the one-instance lock, or, when it started after the first
# had finished, by the attach check.
grep -qE "another scx_gamer is starting or attached|another sched_ext scheduler is attached: 'scx_gamer" "$lost_log" ||
	fail "the second instance did not say another scx_gamer is running"
SCHED_PID=$winner
wait_attached "$winner"
echo "ok: pid $winner attached; pid $loser exited $rc: $(grep ERROR "$lost_log")"
winner_log=$VM_WORK/$([ "$winner" = "$a" ] && echo a || echo b).log
stop_scheduler "$winner_log"
wait_detached
wait_bpf_progs "$progs_before"

assert_clean_kernel_log
echo "PASS refusals"
