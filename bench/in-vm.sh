#!/usr/bin/env bash
# The guest half of bench/run.sh: in one VM boot, for each repetition, each
# scenario and each scheduler (rotated each repetition so none always goes
# first), attach the scheduler, start the background load, run gamesim, and
# record gamesim's numbers with the load's own throughput.
#
# Reads from the environment (set by bench/run.sh):
#   BENCH_SCHEDS     e.g. "eevdf scx_gamer scx_bpfland scx_lavd"
#   BENCH_SCENARIOS  e.g. "cpu-hogs hackbench build-storm"
#   BENCH_REPS       repetitions
#   BENCH_SECONDS    gamesim seconds per run, or empty for each scenario's own
#   BENCH_BIN        directory holding scx_gamer, gamesim, scx_bpfland, scx_lavd
# Writes $VM_OUT/results.jsonl, one JSON object per run.
set -euo pipefail
. "$SCX_GAMER_SRC/tests/vm/lib.sh"

ncpu=$(nproc)
results=$VM_OUT/results.jsonl
: >"$results"
dmesg -C
modprobe uinput && modprobe evdev || fail "modprobe uinput evdev failed"
mkdir -p "$VM_WORK/load" && cd "$VM_WORK/load"

# scenario -> "hz work_ms seconds": the frame loops of the project's targets.
scenario_game() {
	case "$1" in
	cpu-hogs) echo "60 4 8" ;;
	hackbench) echo "144 2 6" ;;
	build-storm) echo "60 4 8" ;;
	*) fail "unknown scenario $1" ;;
	esac
}

# Start the scenario's load for $2 seconds in the background; its
# throughput (operations per second) ends up in $VM_WORK/load.ops.
start_load() {
	local scenario=$1 secs=$2
	rm -f "$VM_WORK/load.ops"
	case "$scenario" in
	cpu-hogs)
		# Hogs at 4 per CPU: 8 on the 2-CPU VM of the targets.
		(stress-ng --cpu $((4 * ncpu)) --timeout "${secs}s" --metrics-brief >"$VM_WORK/load.log" 2>&1
			awk '/metrc:.* cpu / {print $9; exit}' "$VM_WORK/load.log" >"$VM_WORK/load.ops") &
		;;
	hackbench)
		# hackbench -g 4 (messaging between 4 groups of 40 tasks) in short
		# runs back to back until time is up, so the load lasts the whole
		# window; throughput is message loops completed per second.
		(end=$((SECONDS + secs)) loops=0 start=$(date +%s.%N)
			while [ "$SECONDS" -lt "$end" ]; do
				timeout 60 hackbench -g 4 -l 5 >/dev/null 2>&1 || break
				loops=$((loops + 5))
			done
			awk -v l="$loops" -v s="$start" -v e="$(date +%s.%N)" \
				'BEGIN {printf "%.3f\n", l / (e - s)}' >"$VM_WORK/load.ops") &
		;;
	build-storm)
		# A parallel build's shape: short processes forked and exec'd
		# without pause, 2 per CPU.
		(stress-ng --exec $((2 * ncpu)) --timeout "${secs}s" --metrics-brief >"$VM_WORK/load.log" 2>&1
			awk '/metrc:.* exec / {print $9; exit}' "$VM_WORK/load.log" >"$VM_WORK/load.ops") &
		;;
	esac
	LOAD_PID=$!
}

sched_prefix() {
	case "$1" in
	scx_gamer | scx_gamer_nohint | scx_gamer_nopolicy) echo scx_gamer ;;
	scx_bpfland) echo bpfland ;;
	scx_lavd) echo lavd ;;
	esac
}

# Attach scheduler $1 (eevdf: none) and wait until root/ops names it.
attach() {
	local s=$1 i prefix
	SCHED_PID=""
	[ "$s" = eevdf ] && return 0
	prefix=$(sched_prefix "$s")
	# scx_gamer is told which process is the game, as a user with
	# --game-comm (or the launch detection) would; the other two variants
	# show what it does without that hint and without its policy.
	case "$s" in
	scx_gamer) "$BENCH_BIN/scx_gamer" --game-comm gamesim >"$VM_WORK/$s.log" 2>&1 & ;;
	scx_gamer_nohint) "$BENCH_BIN/scx_gamer" >"$VM_WORK/$s.log" 2>&1 & ;;
	scx_gamer_nopolicy) "$BENCH_BIN/scx_gamer" --no-policy >"$VM_WORK/$s.log" 2>&1 & ;;
	*) "$BENCH_BIN/$s" >"$VM_WORK/$s.log" 2>&1 & ;;
	esac
	SCHED_PID=$!
	for i in $(seq 1 360); do
		if [ "$(sched_state)" = enabled ]; then
			case "$(sched_ops)" in "$prefix"*) return 0 ;; esac
		fi
		kill -0 "$SCHED_PID" 2>/dev/null || { cat "$VM_WORK/$s.log"; fail "$s exited before attaching"; }
		sleep 0.5
	done
	fail "$s not attached after 180 s"
}

detach() {
	local s=$1
	if [ -n "$SCHED_PID" ]; then
		kill -INT "$SCHED_PID"
		wait "$SCHED_PID" || true
	fi
	wait_detached
	[ "$s" = eevdf ] || grep -q 'unregistered from user space' "$VM_WORK/$s.log" ||
		{ cat "$VM_WORK/$s.log"; fail "$s did not detach cleanly (ejected by the kernel?)"; }
}

read -r -a scheds <<<"$BENCH_SCHEDS"
read -r -a scenarios <<<"$BENCH_SCENARIOS"
for rep in $(seq 1 "$BENCH_REPS"); do
	# Rotate the order by one each repetition.
	shift_by=$(((rep - 1) % ${#scheds[@]}))
	order=("${scheds[@]:shift_by}" "${scheds[@]:0:shift_by}")
	for scenario in "${scenarios[@]}"; do
		read -r hz work secs <<<"$(scenario_game "$scenario")"
		secs=${BENCH_SECONDS:-$secs}
		for s in "${order[@]}"; do
			t0=$SECONDS
			attach "$s"
			start_load "$scenario" $((secs + 2))
			sleep 1
			game=$(timeout $((secs + 60)) "$BENCH_BIN/gamesim" --hz "$hz" --work-ms "$work" \
				--seconds "$secs" --input --json) || fail "gamesim failed or hung under $s"
			wait "$LOAD_PID" || true
			ops=$(cat "$VM_WORK/load.ops" 2>/dev/null || true)
			[ -n "$ops" ] || fail "the $scenario load reported no throughput under $s"
			detach "$s"
			echo "{\"scenario\":\"$scenario\",\"sched\":\"$s\",\"rep\":$rep,\"wall_s\":$((SECONDS - t0)),\"load_ops_per_s\":$ops,\"game\":$game}" |
				tee -a "$results"
		done
	done
done
assert_clean_kernel_log
echo "bench: done"
