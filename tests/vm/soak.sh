#!/usr/bin/env bash
# Soak: scx_gamer attached through SOAK_SECS (default 60) of mixed hostile
# load, all at once:
#  - stress-ng --aggressive with cpu, fork, switch and affinity stressors;
#  - hackbench, run again and again;
#  - a fork/exec storm;
#  - CPU hotplug cycles through sysfs (handled live: scx_gamer stays
#    attached through each);
#  - sched_setaffinity churn (taskset on the running load);
#  - cgroup moves of the load between two cgroup2 groups;
#  - nice changes of the load (renice).
# It passes when every load completes with exit 0 and did real work,
# scx_gamer stays attached throughout (no exit, no re-attach), detaches with exit code 0 at the end, and neither its log
# nor the kernel's shows a stall, a BPF error, an error exit, BUG: or WARNING:.
# scripts/soak.sh runs it for longer.
. "$(dirname "$0")/lib.sh"
dmesg -C
helpers=$(cd "$(dirname "$0")" && pwd)/helpers
secs=${SOAK_SECS:-60}
cpu1=/sys/devices/system/cpu/cpu1/online
[ "$(nproc)" -ge 2 ] && [ -w "$cpu1" ] || fail "the soak needs 2 CPUs or more, with cpu1 hotpluggable"
trap 'echo 1 >"$cpu1" 2>/dev/null || true' EXIT

# stress-ng writes temporary files in its working directory.
work=$VM_WORK/soak
mkdir -p "$work" && cd "$work"
log=$VM_WORK/sched.log
cg=/sys/fs/cgroup
if [ "$(stat -f -c %T "$cg")" != cgroup2fs ]; then
	mount -t cgroup2 none "$cg" || fail "cannot mount cgroup2"
fi
mkdir -p "$cg"/soak_a "$cg"/soak_b
# With the cpu controller on, moves also go through the kernel's
# cgroup-scheduling paths; the moves themselves work either way.
if echo +cpu >"$cg"/cgroup.subtree_control 2>/dev/null; then cpu_ctl=on; else cpu_ctl=off; fi

attach_count() { grep -c 'scx_gamer attached' "$log" || true; }

start_scheduler "$log"
wait_attached "$SCHED_PID"

# Each load writes its exit code to <name>.rc and what it did to <name>.n.
stressng() {
	local rc=0
	stress-ng --aggressive --timeout "${secs}s" --metrics-brief \
		--cpu 2 --fork 1 --switch 1 --affinity 1 >"$work"/stress.log 2>&1 || rc=$?
	echo "$rc" >"$work"/stress-ng.rc
}

hackbenches() {
	local runs=0 rc=0
	while [ "$SECONDS" -lt "$end" ]; do
		hackbench -g 2 -f 5 -l 50 >"$work"/hackbench.log 2>&1 || { rc=$?; break; }
		runs=$((runs + 1))
	done
	echo "$runs" >"$work"/hackbench.n
	echo "$rc" >"$work"/hackbench.rc
}

fork_exec_storm() {
	local execs=0 rc=0 i pids
	while [ "$SECONDS" -lt "$end" ]; do
		pids=()
		for i in $(seq 1 20); do
			/bin/true &
			pids+=($!)
		done
		for i in "${pids[@]}"; do wait "$i" || rc=$?; done
		[ "$rc" -eq 0 ] || break
		execs=$((execs + 20))
	done
	echo "$execs" >"$work"/exec.n
	echo "$rc" >"$work"/exec.rc
}

# cpu1 off and on again, every few seconds, until the time is up. scx_gamer
# handles hotplug live, so after each it must still be attached, with no
# re-attach: the kernel never hands the load to its default scheduler.
hotplug() {
	local cycles=0 state
	sleep 5
	while [ "$SECONDS" -lt "$end" ]; do
		for state in 0 1; do
			echo "$state" >"$cpu1" || { echo "could not set cpu1 online=$state" >"$work"/hotplug.why; echo 1 >"$work"/hotplug.rc; return; }
			sleep 3
			if [ "$(sched_state)" != enabled ] || [ "$(attach_count)" -ne 1 ]; then
				echo "scx_gamer not attached, or attached again, after cpu1 online=$state" >"$work"/hotplug.why
				echo 1 >"$work"/hotplug.rc
				return
			fi
		done
		cycles=$((cycles + 1))
		sleep 5
	done
	echo "$cycles" >"$work"/hotplug.n
	echo 0 >"$work"/hotplug.rc
}

# Affinity, nice and cgroup churn on the load's processes, for as long as
# $work/churning exists.
churn() {
	local mode=$1 rc=0
	shift
	/usr/bin/python3 "$helpers"/churn.py "$mode" "$work"/churning stress-ng,hackbench "$@" \
		>"$work/$mode.out" 2>&1 || rc=$?
	sed -n 's/^changes=//p' "$work/$mode.out" >"$work/$mode.n"
	echo "$rc" >"$work/$mode.rc"
}

loads=(stress-ng hackbench exec hotplug affinity nice cgroup)
: >"$work"/churning
churners=()
for mode in affinity nice "cgroup $cg/soak_a $cg/soak_b"; do
	churn $mode &
	churners+=($!)
done
for mode in affinity nice cgroup; do
	for _ in $(seq 1 120); do grep -q '^ready' "$work/$mode.out" 2>/dev/null && break; sleep 0.5; done
	grep -q '^ready' "$work/$mode.out" || fail "the $mode churn did not start"
done
end=$((SECONDS + secs))
note "soak: ${secs} s, cpu controller $cpu_ctl"
pids=()
for f in stressng hackbenches fork_exec_storm hotplug; do
	"$f" &
	pids+=($!)
done
# Each reports through its files; a plain `wait` would wait for scx_gamer too.
for pid in "${pids[@]}"; do wait "$pid" || true; done
rm "$work"/churning
for pid in "${churners[@]}"; do wait "$pid" || true; done
echo 1 >"$cpu1"

cat "$work"/stress.log
for l in "${loads[@]}"; do
	[ -f "$work/$l.rc" ] || fail "load $l reported no exit code"
	rc=$(cat "$work/$l.rc")
	[ "$rc" -eq 0 ] || { cat "$work/$l.why" "$work/$l.log" 2>/dev/null || true; fail "load $l exited with $rc"; }
done
assert_stress_work "$work"/stress.log cpu fork switch affinity
for l in hackbench exec hotplug affinity cgroup nice; do
	[ "$(cat "$work/$l.n")" -gt 0 ] || { cat "$work/$l.out" 2>/dev/null || true; fail "load $l did nothing"; }
done

wait_attached "$SCHED_PID"
assert_attached "after the soak"
rc=0
kill -INT "$SCHED_PID"
wait "$SCHED_PID" || rc=$?
wait_detached
echo "scx_gamer exit code: $rc"
[ "$rc" -eq 0 ] || { cat "$log"; fail "scx_gamer exited with $rc after SIGINT, expected 0"; }

# Attached once, ended once: by the SIGINT.
[ "$(attach_count)" -eq 1 ] || { cat "$log"; fail "scx_gamer attached $(attach_count) times, expected once"; }
grep -E '^(\[[A-Z]+\] )?EXIT:' "$log" | grep -v 'unregistered from user space' &&
	fail "scx_gamer ended for a reason other than SIGINT (above)"
grep -E '^\[ERROR\]|runnable task stall|scx_bpf_error|runtime error' "$log" &&
	fail "scx_gamer's log has errors (above)"
bad=$(dmesg | grep -E 'BUG:|WARNING:|\bstall|runnable task|sched_ext:.*(error|ERROR)' || true)
[ -z "$bad" ] || { echo "$bad"; fail "the kernel log has errors (above)"; }

ops() { stress_ops "$work"/stress.log "$1"; }
echo "figure: soak ${secs} s: stress-ng bogo ops cpu=$(ops cpu) fork=$(ops fork) switch=$(ops switch)" \
	"affinity=$(ops affinity); hackbench runs=$(cat "$work"/hackbench.n);" \
	"fork/exec=$(cat "$work"/exec.n); hotplug cycles=$(cat "$work"/hotplug.n), all live;" \
	"affinity changes=$(cat "$work"/affinity.n);" \
	"cgroup moves=$(cat "$work"/cgroup.n); renices=$(cat "$work"/nice.n); exit code $rc"
echo "PASS soak"
