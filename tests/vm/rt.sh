#!/usr/bin/env bash
# RT CPU hogs next to scx_gamer: SCHED_FIFO 50 hogs pinned to every CPU for
# 40 s (tests/vm/helpers/rt_load.c; each ends by itself, so a VM whose CPUs
# RT tasks hold stays recoverable). RT always runs before sched_ext, so
# sched_ext tasks live on the kernel's ext_server (a deadline server, 50 ms
# every 1 s per CPU by default). scx_gamer must stay attached (no watchdog
# ejection, enabled once), leave no stall in the kernel log and exit 0
# afterwards. What a sched_ext spinner got over the hogs is measured from
# its /proc/<pid>/schedstat.
. "$(dirname "$0")/lib.sh"
log="$VM_WORK"/sched.log
dmesg -C
cd "$VM_WORK"
gcc -O2 -pthread -o rt_load "$SCX_GAMER_SRC/tests/vm/helpers/rt_load.c" || fail "building rt_load"
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
echo "sched_rt_runtime_us=$(cat /proc/sys/kernel/sched_rt_runtime_us) sched_rt_period_us=$(cat /proc/sys/kernel/sched_rt_period_us)"
for s in fair_server ext_server; do
	d=/sys/kernel/debug/sched/$s/cpu0
	[ -d "$d" ] && echo "$s: runtime $(cat $d/runtime) ns every $(cat $d/period) ns per CPU" ||
		echo "$s: none"
done

start_scheduler "$log"
wait_attached "$SCHED_PID"

note "SCHED_FIFO 50 hogs on all $(nproc) CPUs for 40 s"
./rt_load hog 50 &
spinner=$!
# rt_load samples as SCHED_FIFO 60, above its hogs, from procfs and sysfs
# only (see rt_load.c): "<s> <spinner's ns on a CPU> <state> <hog 0's ns>"
# 2 s in, 2 s before the end, and after the hogs.
chrt -f 60 ./rt_load hogs 40 "$spinner" >hogs.out || fail "the RT hogs failed: $(cat hogs.out)"
kill "$spinner"
wait "$spinner" 2>/dev/null || true
cat hogs.out
assert_attached "after the RT hogs"
read -r t0 s0 st0 h0 < <(sed -n 1p hogs.out)
read -r t1 s1 st1 h1 < <(sed -n 2p hogs.out)
read -r t2 _ st2 _ < <(sed -n 3p hogs.out)
[ "$st0 $st1 $st2" = "enabled enabled enabled" ] ||
	fail "sched_ext was '$st0' 2 s, '$st1' 38 s and '$st2' 40 s into the hogs"
awk -v t0="$t0" -v t1="$t1" -v t2="$t2" -v s0="$s0" -v s1="$s1" -v h0="$h0" -v h1="$h1" 'BEGIN {
	w = (t1 - t0) * 1e3
	printf "hogs: over %.0f ms the sched_ext spinner ran %.0f ms (%.1f %%), hog 0 ran %.0f ms (%.1f %%); all done %.0f ms after the start\n",
		w, (s1 - s0) / 1e6, (s1 - s0) / 1e4 / w, (h1 - h0) / 1e6, (h1 - h0) / 1e4 / w, (t2 - t0 + 2) * 1e3 }'
# The ext_server serves sched_ext tasks while the hogs run: the spinner
# must have run (it is one of the few runnable sched_ext tasks).
[ "${s1:--}" != - ] && [ "$s1" -gt "$s0" ] || fail "the sched_ext spinner did not run under the RT hogs"

stop_scheduler "$log"
grep -iE 'exit|watchdog|stall' "$log" || true
# Enabled once: no ejection that a re-attach would have papered over.
enables=$(dmesg | grep -c 'sched_ext: BPF scheduler "scx_gamer.*" enabled' || true)
[ "$enables" -eq 1 ] || fail "scx_gamer was enabled $enables times, expected once"
assert_clean_kernel_log
echo "PASS rt"
