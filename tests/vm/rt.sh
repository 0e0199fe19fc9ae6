#!/usr/bin/env bash
# RT CPU hogs next to scx_gamer: SCHED_FIFO 50 hogs pinned to every CPU for
# 40 s (tests/vm/helpers/rt_load.c; each ends by itself, so a VM whose CPUs
# RT tasks hold stays recoverable). RT always runs before sched_ext, so
# sched_ext tasks live on the kernel's ext_server (a deadline server, 50 ms
# every 1 s per CPU by default): that server, not scx_gamer, is what keeps
# them from the watchdog (with its runtime set to 0 scx_gamer is ejected
# for a runnable task stall 30 s in; with scx_gamer's cpu_release
# re-enqueue removed this test still passes, docs/reliability.md).
# scx_gamer must stay attached (no watchdog ejection, enabled once), leave
# no stall in the kernel log and exit 0 afterwards; and what it does with
# the server's time is checked: two sched_ext spinners per CPU must each
# get a fair part of it, from their /proc/<pid>/schedstat.
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

# Two sched_ext spinners per CPU: more runnable tasks than the ext_server
# windows can run at once, so scx_gamer has to share them out.
K=$((2 * $(nproc)))
note "SCHED_FIFO 50 hogs on all $(nproc) CPUs for 40 s, next to $K sched_ext spinners"
spinners=()
for _ in $(seq 1 "$K"); do
	./rt_load hog 50 &
	spinners+=($!)
done
# rt_load samples as SCHED_FIFO 60, above its hogs, from procfs and sysfs
# only (see rt_load.c): "<s> <spinner 1's ns on a CPU> <state> <hog 0's
# ns> <spinner 2's ns>..." 2 s in, 2 s before the end, and after the hogs.
chrt -f 60 ./rt_load hogs 40 "${spinners[@]}" >hogs.out || fail "the RT hogs failed: $(cat hogs.out)"
kill "${spinners[@]}"
wait "${spinners[@]}" 2>/dev/null || true
cat hogs.out
assert_attached "after the RT hogs"
read -r t0 _ st0 h0 _ < <(sed -n 1p hogs.out)
read -r t1 _ st1 h1 _ < <(sed -n 2p hogs.out)
read -r t2 _ st2 _ < <(sed -n 3p hogs.out)
[ "$st0 $st1 $st2" = "enabled enabled enabled" ] ||
	fail "sched_ext was '$st0' 2 s, '$st1' 38 s and '$st2' 40 s into the hogs"
# The ext_server serves sched_ext tasks while the hogs run, and scx_gamer
# picks which: each spinner must have run, and none may get less than a
# quarter of an even share of what they got together (equal weights, all
# runnable throughout).
awk -v t2="$t2" 'NR == 1 { for (i = 1; i <= NF; i++) a[i] = $i }
NR == 2 {
	w = ($1 - a[1]) * 1e3
	n = 0; total = 0
	for (i = 2; i <= NF; i++) {
		if (i == 3 || i == 4) continue
		if ($i == "-" || a[i] == "-") { printf "FAIL: spinner %d is gone\n", ++n; bad = 1; continue }
		ran[++n] = ($i - a[i]) / 1e6; total += ran[n]
	}
	printf "hogs: over %.0f ms the %d sched_ext spinners ran %.0f ms together (%.1f %% of one CPU), each:", w, n, total, total * 100 / w
	for (i = 1; i <= n; i++) printf " %.0f", ran[i]
	printf " ms; hog 0 ran %.0f ms (%.1f %%); all done %.0f ms after the start\n", ($4 - a[4]) / 1e6, ($4 - a[4]) / 1e4 / w, (t2 - a[1] + 2) * 1e3
	for (i = 1; i <= n; i++)
		if (!(ran[i] > 0) || ran[i] < total / n / 4) {
			printf "FAIL: spinner %d ran %.0f ms of the %.0f ms the %d got together under the RT hogs\n", i, ran[i], total, n
			bad = 1
		}
	exit bad
}' hogs.out || fail "a sched_ext task did not get its share under the RT hogs"

stop_scheduler "$log"
grep -iE 'exit|watchdog|stall' "$log" || true
# Enabled once: no ejection that a re-attach would have papered over.
enables=$(dmesg | grep -c 'sched_ext: BPF scheduler "scx_gamer.*" enabled' || true)
[ "$enables" -eq 1 ] || fail "scx_gamer was enabled $enables times, expected once"
assert_clean_kernel_log
echo "PASS rt"
