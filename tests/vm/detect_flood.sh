#!/usr/bin/env bash
# Bounded work for untrusted execs: uid 1000, the seat's active user (the
# eligible one, whose candidate execs BPF reports: the worst case), execs a
# program named `x.exe` $FLOOD_N times (1000 unless set) in a tight loop (a static one that
# only exits, spawned with posix_spawn, so that TCG gets through it in
# seconds; BPF sees the same exec and exit as for any program). Each exec and exit is a candidate BPF
# reports. Afterwards:
#  - every reported event was read or counted as dropped;
#  - scx_gamer's CPU time over the flood (utime+stime, /proc/<pid>/stat) and
#    its peak RSS growth (VmHWM, /proc/<pid>/status) stay under the bounds
#    below;
#  - a real Proton-style launch by the same user is still a game.
. "$(dirname "$0")/lib.sh"
log="$VM_WORK"/sched.log
detect_setup 1000
gcc -static -nostdlib -O2 -o "$VM_WORK/x.exe" -x c - <<'C' || fail "building x.exe"
void _start(void) { __asm__ volatile("mov $231, %eax; xor %edi, %edi; syscall"); }
C
gcc -O2 -o "$VM_WORK/spawn" -x c - <<'C' || fail "building the spawner"
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
int main(int argc, char **argv)
{
	char *args[] = { argv[1], NULL }, *env[] = { NULL };
	int i, n = atoi(argv[2]);
	pid_t pid;

	for (i = 0; i < n; i++) {
		if (posix_spawn(&pid, argv[1], NULL, NULL, args, env) || waitpid(pid, NULL, 0) != pid)
			return 1;
	}
	return 0;
}
C
chmod a+rx "$VM_WORK/x.exe" "$VM_WORK/spawn"
make_fake_launch "$VM_WORK/user"
set_seat0 c1 1000
# Under TCG each exec and the work it causes take some 50 ms: 1000 keep the
# test near a minute; the bounds below are per exec.
N=${FLOOD_N:-1000}

start_scheduler "$log"
wait_attached "$SCHED_PID"
sleep 1

# utime + stime in clock ticks, fields 14 and 15 after the comm.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
cpu0=$(cpu_ticks "$SCHED_PID")
hwm0=$(hwm_kb "$SCHED_PID")

note "$N execs of x.exe by uid 1000"
t0=$(date +%s.%N)
setpriv --reuid=1000 --regid=1000 --clear-groups "$VM_WORK/spawn" "$VM_WORK/x.exe" "$N" ||
	fail "the flood failed"
t1=$(date +%s.%N)
# Let the worker catch up with what was queued.
sleep 3
cpu1=$(cpu_ticks "$SCHED_PID")
hwm1=$(hwm_kb "$SCHED_PID")
rss1=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SCHED_PID/status")
flood_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')
grow_kb=$((hwm1 - hwm0))
echo "flood: $N execs in $flood_s s; scx_gamer used $cpu_s s of CPU; VmHWM $hwm0 -> $hwm1 kB (+$grow_kb), VmRSS $rss1 kB"

note "a real launch after the flood"
fake_proton_launch 1000 "$VM_WORK/user" "$VM_WORK/out/game.pid" "sleep 2; true"
game=$(cat out/game.pid)
sleep 1
stop_scheduler "$log"
grep -E 'game detected|events:|channel detect|not reported' "$log" || true

grep -qE "game detected: tgid $game \(Game.exe\)" "$log" || fail "the launch after the flood ($game) was not detected"
echo "ok: the launch after the flood ($game) is a game"

# Each x.exe gives an exec and an exit event.
line=$(grep -E 'events: .* exec=[0-9]+ \(dropped [0-9]+\)' "$log") || fail "no event counts in the log"
proc=$(sed -n 's/.* exec=\([0-9]*\) (dropped \([0-9]*\)).*/\1/p' <<<"$line")
dropped=$(sed -n 's/.* exec=\([0-9]*\) (dropped \([0-9]*\)).*/\2/p' <<<"$line")
[ $((proc + dropped)) -ge $((2 * N)) ] ||
	fail "proc events read $proc + dropped $dropped < $((2 * N)) produced: some went uncounted"
echo "ok: $proc proc events read, $dropped dropped and counted, of at least $((2 * N))"

# Bounds: an exec and an exit event, each a ring wakeup, and a capped read
# of the process and its parents (4 KiB of command line, 64 KiB of
# environment, parents without theirs) took 25 ms of CPU per exec under a
# loaded TCG host: 60 ms per exec is the bound. Nothing is kept per exec,
# so the peak RSS may grow by 16 MiB at most (allocator slack, buffers).
cpu_bound=$((N * 60 / 1000))
awk -v c="$cpu_s" -v b="$cpu_bound" 'BEGIN { exit !(c < b) }' ||
	fail "scx_gamer used $cpu_s s of CPU over the flood, bound $cpu_bound s"
[ "$grow_kb" -lt 16384 ] || fail "scx_gamer's peak RSS grew by $grow_kb kB, bound 16384 kB"
echo "ok: CPU $cpu_s s (bound $cpu_bound s), peak RSS +$grow_kb kB (bound 16384 kB)"

assert_clean_kernel_log
echo "PASS detect_flood"
