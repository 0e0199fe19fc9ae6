#!/usr/bin/env bash
# vm-qemu-opts: -icount shift=2,sleep=off
# Tasks that waited too long run out of turn, but after the critical queue,
# not before it. On 2 CPUs, 4 nice-19 CPU hogs behind 2 nice-0 ones wait
# past half of --max-wait-ms (50 ms here), so the aged scan moves nice-19
# hogs out of turn all the time, while a game thread wakes every 8 ms. (Few
# enough for the bound to hold: a slice ends at a tick, 4 ms, so the 4 run
# once in 8 ms, inside the other half.)
#  - the game thread's wakeups run within GAME_MED_US (median), measured
#    from the kernel's sched_waking to sched_switch. With aged tasks served
#    ahead of critical ones, each of its wakeups waits behind the batch of
#    hogs the last scan moved;
#  - every hog runs in every window of WINDOW_S seconds (its schedstat run
#    time grows), the aged counter shows the scan moved tasks, and no
#    nice-19 hog waited over --max-wait-ms.
. "$(dirname "$0")/lib.sh"
dmesg -C
helpers=$(dirname "$0")/helpers
log="$VM_WORK"/sched.log
MAX_WAIT_MS=50
WINDOWS=3
WINDOW_S=2
GAME_MED_US=300

start_game_shell
game=$GAME_PID
start_scheduler "$log" --game-pid "$game" --max-wait-ms "$MAX_WAIT_MS"
wait_attached "$SCHED_PID"

cp /usr/bin/yes "$VM_WORK"/ahog
cp /usr/bin/yes "$VM_WORK"/nhog
hogs=()
for _ in $(seq 1 4); do nice -n 19 "$VM_WORK"/ahog >/dev/null & hogs+=($!); done
for _ in 1 2; do "$VM_WORK"/nhog >/dev/null & hogs+=($!); done
in_game "exec /usr/bin/python3 $helpers/probe.py agame 8 1000 30"
wait_comm agame
# Past the probe's start, which makes it a hog for a few wakeups.
sleep 1

sched_trace_start "a*"
count_stalled "$WINDOWS" "$WINDOW_S" "${hogs[@]}"
sched_trace_pause
kill "${hogs[@]}" 2>/dev/null || true
wait "${hogs[@]}" 2>/dev/null || true
pkill -x agame || true
sched_trace_stop "$VM_WORK"/aged.trace
read -r gn gmed gp99 gmax < <(python3 "$helpers/sched_waits.py" "$VM_WORK"/aged.trace agame)
read -r hn hmed hp99 hmax < <(python3 "$helpers/sched_waits.py" "$VM_WORK"/aged.trace ahog)
echo "game wakeups: n=$gn median=${gmed}us p99=${gp99}us max=${gmax}us"
echo "nice-19 hog waits: n=$hn median=${hmed}us p99=${hp99}us max=${hmax}us"

assert_attached "after the load"
stop_scheduler "$log"
[ -z "${VM_OUT:-}" ] || cp "$log" "$VM_OUT"/sched.log
aged=$(exit_totals "$log" | grep -o ' aged [0-9]*' | awk '{print $2}')
echo "aged: ${aged:-none}"
wait_detached
kill "$game" 2>/dev/null || true
assert_clean_kernel_log

check '[ "${aged:-0}" -ge 100 ]' "the scan moved hogs out of turn (aged ${aged:-none}, at least 100)"
check '[ "$gn" -ge 300 ] && [ "$gmed" -le "$GAME_MED_US" ]' \
	"the game's wakeups go ahead of the aged hogs (n=$gn, median ${gmed} us <= $GAME_MED_US)"
check '[ "$STALLED" -eq 0 ]' "every hog ran in every window ($STALLED hog-windows without)"
check '[ "$hn" -ge 100 ] && [ "$hmax" -le $((MAX_WAIT_MS * 1000)) ]' \
	"no nice-19 hog waited over --max-wait-ms (n=$hn, max ${hmax} us <= $((MAX_WAIT_MS * 1000)))"
checks_passed "the aged queue's order failed (above)"
echo "aged: ok"
