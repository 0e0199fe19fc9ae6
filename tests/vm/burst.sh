#!/usr/bin/env bash
# vm-qemu-opts: -icount shift=2,sleep=off
# A game thread that runs longer than a slice per wakeup (a CPU-heavy main
# thread: 12 ms of work every 40 ms) is demoted to the shared queue, but
# still takes a CPU from a background hog when it wakes. On 2 CPUs, 3
# nice-0 CPU hogs (background while the game runs: two-slice turns); the
# game thread is not critical, and only critical wakeups kicked before:
#  - the game thread's wakeups run within BURST_MED_US (median), from the
#    kernel's sched_waking to sched_switch. Without the kick they wait for
#    a hog's turn to end: 7.0, 7.1 and 7.8 ms in three boots of the code
#    before (the last with only the sampler fix of preempt.bpf.c);
#  - every hog runs in every window of WINDOW_S seconds (its schedstat run
#    time grows): the kicks do not starve them.
. "$(dirname "$0")/lib.sh"
dmesg -C
helpers=$(dirname "$0")/helpers
log="$VM_WORK"/sched.log
WINDOWS=3
WINDOW_S=2
BURST_MED_US=1000

start_game_shell
game=$GAME_PID
start_scheduler "$log" --game-pid "$game"
wait_attached "$SCHED_PID"

cp /usr/bin/yes "$VM_WORK"/bhog
hogs=()
for _ in 1 2 3; do "$VM_WORK"/bhog >/dev/null & hogs+=($!); done
in_game "exec /usr/bin/python3 $helpers/probe.py aburst 40 12000 30"
wait_comm aburst
# Past the probe's start, and long enough for its runtime average to
# settle over a slice (it is demoted from then on).
sleep 1

sched_trace_start "aburst"
count_stalled "$WINDOWS" "$WINDOW_S" "${hogs[@]}"
sched_trace_pause
kill "${hogs[@]}" 2>/dev/null || true
wait "${hogs[@]}" 2>/dev/null || true
pkill -x aburst || true
sched_trace_stop "$VM_WORK"/burst.trace
# Its wakeups alone: a burst also crosses two slice ends, switched out
# runnable, and those waits are not what this test is about.
read -r wn wmed _ < <(python3 "$helpers/sched_waits.py" "$VM_WORK"/burst.trace aburst --wakeups)
echo "game wakeups: n=$wn median=${wmed}us"

assert_attached "after the load"
stop_scheduler "$log"
[ -z "${VM_OUT:-}" ] || cp "$log" "$VM_OUT"/sched.log
wait_detached
kill "$game" 2>/dev/null || true
assert_clean_kernel_log

check '[ "$wn" -ge 100 ] && [ "$wmed" -le "$BURST_MED_US" ]' \
	"the demoted game thread's wakeups take a CPU from a background hog (n=$wn, median ${wmed} us <= $BURST_MED_US)"
check '[ "$STALLED" -eq 0 ]' "every hog ran in every window ($STALLED hog-windows without)"
checks_passed "a demoted game thread waited behind background hogs (above)"
echo "burst: ok"
