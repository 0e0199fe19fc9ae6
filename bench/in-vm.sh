#!/usr/bin/env bash
# The guest half of bench/run.sh: in one VM boot, for each repetition and
# each scheduler (rotated each repetition so none always goes first), attach
# the scheduler once, then for each scenario start the background load, run
# gamesim, and record gamesim's numbers with the load's own throughput.
# Attaching once per repetition matters under TCG, where scx_lavd takes
# about a minute to pass the verifier.
#
# Reads from the environment (set by bench/run.sh):
#   BENCH_SCHEDS     e.g. "eevdf scx_gamer scx_bpfland scx_lavd"
#   BENCH_SCENARIOS  e.g. "idle-60 cpu-hogs idle-144 hackbench build-storm"
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
# The game's submit thread ends each frame with a real GPU submit (vgem).
modprobe vgem || fail "modprobe vgem failed"
mkdir -p "$VM_WORK/load" && cd "$VM_WORK/load"

# scenario -> "hz work_ms seconds": the frame loops of the project's targets.
scenario_game() {
	case "$1" in
	idle-60 | cpu-hogs) echo "60 4 8" ;;
	idle-144 | hackbench) echo "144 2 6" ;;
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
	idle-*)
		# No load: the frame loop alone, to show what the VM itself
		# costs the game. Under TCG a vCPU can stall for milliseconds
		# while the host runs something else, and every scheduler misses
		# the frames that land on such a stall.
		(echo null >"$VM_WORK/load.ops") &
		;;
	cpu-hogs)
		# Hogs at 4 per CPU: 8 on the 2-CPU VM of the targets.
		(stress-ng --cpu $((4 * ncpu)) --timeout "${secs}s" --metrics-brief >"$VM_WORK/load.log" 2>&1
			awk '/metrc:.* cpu / {print $9; exit}' "$VM_WORK/load.log" >"$VM_WORK/load.ops") &
		;;
	hackbench)
		# hackbench -g 2N on N CPUs (messaging within groups of 40
		# tasks; -g 4 on the 2-CPU VM of the targets) in short runs back
		# to back until time is up, so the load lasts the whole window;
		# throughput is message loops completed per second.
		(end=$((SECONDS + secs)) loops=0 start=$(date +%s.%N)
			while [ "$SECONDS" -lt "$end" ]; do
				timeout 60 hackbench -g $((2 * ncpu)) -l 5 >/dev/null 2>&1 || break
				loops=$((loops + 5))
			done
			awk -v l="$loops" -v s="$start" -v e="$(date +%s.%N)" \
				'BEGIN {printf "%.3f\n", l / (e - s)}' >"$VM_WORK/load.ops") &
		;;
	build-storm)
		# A parallel build's shape: 2 jobs per CPU, each running short
		# compiler-like processes back to back (fork, exec, a burst of
		# CPU, exit). Throughput is processes finished per second.
		# (stress-ng --exec refuses to run as root.)
		(end=$((SECONDS + secs)) start=$(date +%s.%N)
			rm -f "$VM_WORK"/storm.*
			for j in $(seq 1 $((2 * ncpu))); do
				(n=0
					while [ "$SECONDS" -lt "$end" ]; do
						/bin/sh -c 'i=0; while [ $i -lt 3000 ]; do i=$((i + 1)); done' || exit 1
						n=$((n + 1))
					done
					echo "$n" >"$VM_WORK/storm.$j") &
			done
			wait
			cat "$VM_WORK"/storm.* | awk -v s="$start" -v e="$(date +%s.%N)" \
				'{ n += $1 } END { if (n > 0) printf "%.3f\n", n / (e - s) }' >"$VM_WORK/load.ops") &
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
	scx_gamer) "$BENCH_BIN/scx_gamer" --game-comm gamesim >"$VM_OUT/$s.log" 2>&1 & ;;
	scx_gamer_nohint) "$BENCH_BIN/scx_gamer" >"$VM_OUT/$s.log" 2>&1 & ;;
	scx_gamer_nopolicy) "$BENCH_BIN/scx_gamer" --no-policy >"$VM_OUT/$s.log" 2>&1 & ;;
	*) "$BENCH_BIN/$s" >"$VM_OUT/$s.log" 2>&1 & ;;
	esac
	SCHED_PID=$!
	for i in $(seq 1 360); do
		if [ "$(sched_state)" = enabled ]; then
			case "$(sched_ops)" in "$prefix"*) return 0 ;; esac
		fi
		kill -0 "$SCHED_PID" 2>/dev/null || { cat "$VM_OUT/$s.log"; fail "$s exited before attaching"; }
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
	[ "$s" = eevdf ] || grep -q 'unregistered from user space' "$VM_OUT/$s.log" ||
		{ cat "$VM_OUT/$s.log"; fail "$s did not detach cleanly (ejected by the kernel?)"; }
}

read -r -a scheds <<<"$BENCH_SCHEDS"
read -r -a scenarios <<<"$BENCH_SCENARIOS"
for rep in $(seq 1 "$BENCH_REPS"); do
	# Rotate the order by one each repetition.
	shift_by=$(((rep - 1) % ${#scheds[@]}))
	order=("${scheds[@]:shift_by}" "${scheds[@]:0:shift_by}")
	for s in "${order[@]}"; do
		t0=$SECONDS
		attach "$s"
		echo "bench: rep $rep: $s attached in $((SECONDS - t0)) s" >&2
		for scenario in "${scenarios[@]}"; do
			read -r hz work secs <<<"$(scenario_game "$scenario")"
			secs=${BENCH_SECONDS:-$secs}
			t0=$SECONDS
			start_load "$scenario" $((secs + 2))
			sleep 1
			game=$(timeout $((secs + 60)) "$BENCH_BIN/gamesim" --hz "$hz" --work-ms "$work" \
				--seconds "$secs" --input --gpu-vgem --json) || fail "gamesim failed or hung under $s"
			case "$game" in *'"gpu_submits":0}'*) fail "gamesim made no GPU submits under $s" ;; esac
			wait "$LOAD_PID" || true
			ops=$(cat "$VM_WORK/load.ops" 2>/dev/null || true)
			[ -n "$ops" ] || fail "the $scenario load reported no throughput under $s"
			# A run the kernel's default scheduler took over is not $s's.
			if [ "$s" != eevdf ]; then
				case "$(sched_state) $(sched_ops)" in "enabled $(sched_prefix "$s")"*) ;;
				*) cat "$VM_OUT/$s.log"; fail "$s was no longer attached after $scenario" ;; esac
			fi
			echo "{\"scenario\":\"$scenario\",\"sched\":\"$s\",\"rep\":$rep,\"wall_s\":$((SECONDS - t0)),\"load_ops_per_s\":$ops,\"game\":$game}" |
				tee -a "$results"
		done
		detach "$s"
		# scx_gamer saw the frame chain's submits on the real vgem path.
		case "$s" in scx_gamer | scx_gamer_nohint)
			grep -q 'class gpu-submit: threads=[1-9]' "$VM_OUT/$s.log" ||
				{ cat "$VM_OUT/$s.log"; fail "$s classed no GPU-submit thread"; } ;;
		esac
	done
done
assert_clean_kernel_log
echo "bench: done"
