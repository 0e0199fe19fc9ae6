#!/usr/bin/env bash
# vm-qemu-opts: -icount shift=2,sleep=off
# vm-timeout: 1800
# Every task makes progress under a crowd while a game runs: an unclassed
# `hackbench -g 2 -f 10` (40 processes passing messages), two CPU hogs and
# a plain periodic task share 2 CPUs with a game thread that wakes every
# 16 ms. For each of WINDOWS windows of WINDOW_S seconds, every hackbench
# worker, every hog and the plain task must have run: its CPU time
# (sum_exec_runtime, the first field of /proc/PID/schedstat, which the
# kernel keeps) grows in every window. A task that is runnable but never
# picked, or one parked where no CPU takes it, shows as a window with no
# growth, and the test prints its state and the scheduler's queues. The
# plain task's every wait (sched_waking or a preemption to sched_switch in)
# must also stay within the default --max-wait-ms.
. "$(dirname "$0")/lib.sh"
dmesg -C
helpers=$(dirname "$0")/helpers
log="$VM_WORK"/sched.log
WINDOWS=${CROWD_WINDOWS:-6}
WINDOW_S=2
# The scheduler's default --max-wait-ms: no wait of the plain task may pass it.
MAX_WAIT_US=500000

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug || true

start_game_shell
game=$GAME_PID

start_scheduler "$log" --game-pid "$game" --game-idle-ms 200 --stats 2
wait_attached "$SCHED_PID"

in_game "exec /usr/bin/python3 $helpers/probe.py cgame 16 2000 600"
cp /usr/bin/yes "$VM_WORK"/hog
"$VM_WORK"/hog >/dev/null &
hog1=$!
"$VM_WORK"/hog >/dev/null &
hog2=$!
python3 "$helpers/probe.py" cplain 4 1000 600 &
plain=$!
hackbench -g 2 -f 10 -s 100 -l 100000000 >"$VM_WORK"/hackbench.out 2>&1 &
hb=$!

# hackbench forks its 40 workers after setting up its sockets.
workers=()
for _ in $(seq 1 80); do
	mapfile -t workers < <(pgrep -P "$hb" || true)
	[ "${#workers[@]}" -ge 40 ] && break
	sleep 0.25
done
[ "${#workers[@]}" -ge 40 ] || fail "hackbench started ${#workers[@]} workers, expected 40"
assert_attached "with the crowd started"
pids=("${workers[@]}" "$hog1" "$hog2" "$plain")

# What a task that made no progress was doing, and what the scheduler holds.
diagnose() {
	local p
	for p in "$@"; do
		echo "pid $p: $(awk '{print "state", $3}' "/proc/$p/stat" 2>/dev/null)" \
			"wchan $(cat "/proc/$p/wchan" 2>/dev/null)" \
			"schedstat $(cat "/proc/$p/schedstat" 2>/dev/null)"
		grep -E '^ *(ext\.|se\.sum_exec|nr_switches|policy)' "/proc/$p/sched" 2>/dev/null | head -20
	done
	timeout 2 "$SCX_GAMER" --monitor 1 2>/dev/null | head -80 || true
	# SysRq-D: the kernel's dump of sched_ext's state (every DSQ, every CPU).
	echo D >/proc/sysrq-trigger
	dmesg | sed -n '/sched_ext: BPF scheduler/,$p' | tail -120
}

note "$((${#pids[@]})) tasks, $WINDOWS windows of $WINDOW_S s"
sched_trace_start cplain
declare -A prev
for p in "${pids[@]}"; do read -r prev[$p] _ <"/proc/$p/schedstat"; done
stuck_total=0
read -r up0 _ </proc/uptime
for w in $(seq 1 "$WINDOWS"); do
	sleep "$WINDOW_S"
	# A window after the watchdog ejected the scheduler would measure EEVDF.
	assert_attached "window $w"
	stuck=()
	min=
	hogs_ns=0
	for p in "${pids[@]}"; do
		read -r now _ <"/proc/$p/schedstat" || fail "task $p exited during the run"
		d=$((now - prev[$p]))
		[ "$p" != "$hog1" ] && [ "$p" != "$hog2" ] || hogs_ns=$((hogs_ns + d))
		prev[$p]=$now
		[ "$d" -gt 0 ] || stuck+=("$p")
		[ -n "$min" ] && [ "$d" -ge "$min" ] || min=$d
	done
	read -r up _ </proc/uptime
	echo "window $w ($up0 to $up s): ${#stuck[@]} of ${#pids[@]} tasks made no progress; least CPU time $((min / 1000)) us, the hogs $((hogs_ns / 1000000)) ms"
	if [ "${#stuck[@]}" -gt 0 ]; then
		stuck_total=$((stuck_total + ${#stuck[@]}))
		diagnose "${stuck[@]:0:4}"
	fi
	up0=$up
done
sched_trace_pause
# The crowd goes before the trace is read: under it, reading takes minutes.
kill "$hb" "${workers[@]}" "$hog1" "$hog2" "$plain" 2>/dev/null || true
wait "$hb" "$hog1" "$hog2" "$plain" 2>/dev/null || true
sched_trace_stop "$VM_WORK"/crowd.trace
read -r pn pmed pp99 pmax < <(python3 "$helpers/sched_waits.py" "$VM_WORK"/crowd.trace cplain)
echo "plain task waits: n=$pn median=${pmed}us p99=${pp99}us max=${pmax}us"
assert_attached "after the crowd"
stop_scheduler "$log"
[ -z "${VM_OUT:-}" ] || cp "$log" "$VM_OUT"/sched.log
grep -E "dispatch|^\[INFO\] dispatches" "$log" | tail -4
wait_detached
kill "$game" 2>/dev/null || true
assert_clean_kernel_log

[ "$stuck_total" -eq 0 ] || fail "$stuck_total task-windows without progress (above)"
[ "$pn" -ge 100 ] || fail "the plain task woke only $pn times"
[ "$pmax" -le "$MAX_WAIT_US" ] || fail "a plain task waited ${pmax} us, over --max-wait-ms ($MAX_WAIT_US us)"
echo "crowd: ok"
