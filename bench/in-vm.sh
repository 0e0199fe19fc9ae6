#!/usr/bin/env bash
# The guest half of bench/run.sh, one VM boot: for each repetition and each
# scheduler (rotated by boot and repetition so none always goes first),
# attach the scheduler once, then for each scenario start the background
# load, run the game (gamesim, or for the kmscube-* scenarios Debian's
# kmscube on virtio-gpu, timed by tests/vm/helpers/kmscube_frames.sh from
# the kernel's presentation tracepoints), and record its numbers with the
# load's own throughput, what the scheduler cost (bench/sched-cost.py) and,
# for gamesim, its threads' moves across last-level caches.
# Attaching once per repetition matters under TCG, where scx_lavd takes
# about a minute to pass the verifier.
#
# Reads from the environment (set by bench/run.sh):
#   BENCH_SCHEDS     e.g. "eevdf scx_gamer scx_bpfland scx_lavd"
#   BENCH_SCENARIOS  e.g. "idle-60 cpu-hogs idle-144 hackbench build-storm"
#   BENCH_REPS       repetitions in this boot
#   BENCH_BOOT       this boot's number (1, 2, ...), recorded and used to
#                    rotate the order
#   BENCH_SECONDS    game seconds per run, or empty for each scenario's own
#   BENCH_BIN        directory holding scx_gamer, gamesim and the peers
# Writes $VM_OUT/results.jsonl, one JSON object per run; a scheduler that
# does not attach, or is ejected, gets a record with "failed" holding the
# reason, and the run goes on with the next one.
set -euo pipefail
. "$SCX_GAMER_SRC/tests/vm/lib.sh"

ncpu=$(nproc)
results=$VM_OUT/results.jsonl
: >"$results"
dmesg -C
# Per-program run time and count in each prog fd's fdinfo (sched-cost.py).
sysctl -qw kernel.bpf_stats_enabled=1 || fail "cannot enable kernel.bpf_stats_enabled"
modprobe uinput && modprobe evdev || fail "modprobe uinput evdev failed"
# The real renderer draws onto virtio-gpu's display (bench/run.sh adds the
# device when a kmscube-* scenario is asked for); it must be card0, so it
# comes before vgem.
case " $BENCH_SCENARIOS " in *" kmscube-"*) load_virtio_gpu ;; esac
# The game's submit thread ends each frame with a real GPU submit (vgem).
modprobe vgem || fail "modprobe vgem failed"
mkdir -p "$VM_WORK/load" && cd "$VM_WORK/load"

# scenario -> "game hz work_ms seconds load": the frame loops of the
# project's targets (gamesim), or kmscube drawing as fast as it can
# (hz and work_ms unused), and the background load beside it.
scenario_game() {
	case "$1" in
	idle-60) echo "gamesim 60 4 8 idle" ;;
	cpu-hogs) echo "gamesim 60 4 8 cpu-hogs" ;;
	idle-144) echo "gamesim 144 2 6 idle" ;;
	hackbench) echo "gamesim 144 2 6 hackbench" ;;
	build-storm) echo "gamesim 60 4 8 build-storm" ;;
	kmscube-idle) echo "kmscube - - 10 idle" ;;
	kmscube-hogs) echo "kmscube - - 10 cpu-hogs" ;;
	kmscube-hackbench) echo "kmscube - - 10 hackbench" ;;
	kmscube-build-storm) echo "kmscube - - 10 build-storm" ;;
	*) fail "unknown scenario $1" ;;
	esac
}

# Start load $1 for $2 seconds in the background; its throughput
# (operations per second) ends up in $VM_WORK/load.ops.
start_load() {
	local kind=$1 secs=$2
	rm -f "$VM_WORK/load.ops"
	case "$kind" in
	idle)
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

# kmscube (llvmpipe) under scheduler $2 and load $3: once its warm-up frames
# are on screen (llvmpipe compiles its shaders for tens of guest seconds
# first), start the load for $1 + 2 seconds and measure the $1 seconds from
# 1 s into it, timed from the kernel's presentation tracepoints. Writes the
# run's "game" JSON to $VM_WORK/kmscube.json; LOAD_PID is the load's. Where
# the scheduler is scx_gamer (run with --watch-events frame), its own
# presentation events for kmscube are matched against the tracepoint's
# frames (crtc, vblank sequence and timestamp, to the nanosecond) and the
# match goes in as "present_check".
run_kmscube() {
	local secs=$1 s=$2 kind=$3 dir=$VM_WORK/kmscube from cube wrap=()
	rm -rf "$dir" "$VM_WORK/kmscube.start"
	# scx_gamer is given its game as a player gives it: kmscube is started
	# through the launch wrapper. scx_gamer_nohint keeps it unnamed.
	[ "$s" != scx_gamer ] || wrap=(--wrap "$BENCH_BIN/scx_gamer run --")
	from=0
	[ ! -e "$VM_OUT/$s.log" ] || from=$(wc -l <"$VM_OUT/$s.log")
	bash "$SCX_GAMER_SRC/tests/vm/helpers/kmscube_frames.sh" --renderer llvmpipe --warmup 5 "${wrap[@]}" \
		--seconds "$secs" --start-file "$VM_WORK/kmscube.start" "$dir" >"$VM_WORK/kmscube.out" 2>&1 &
	cube=$!
	# The helper gives up by itself after 300 s of warm-up.
	while [ ! -e "$VM_WORK/kmscube.start" ] && kill -0 "$cube" 2>/dev/null; do sleep 0.1; done
	[ -e "$VM_WORK/kmscube.start" ] || { wait "$cube" || true; cat "$VM_WORK/kmscube.out"; fail "kmscube did not warm up under $s"; }
	start_load "$kind" $((secs + 2))
	wait "$cube" || { cat "$VM_WORK/kmscube.out"; fail "kmscube_frames.sh failed under $s"; }
	case "$s" in scx_gamer*)
		# The event printer runs behind the kernel: let it catch up.
		sleep 1
		tail -n +"$((from + 1))" "$VM_OUT/$s.log" |
			sed -n "s/.* frame crtc=\([0-9]*\) seq=\([0-9]*\) present-ns=\([0-9]*\) tgid=$(cat "$dir/kmscube.pid") .*/\1 \2 \3/p" |
			sort >"$dir/sched.frames"
		;;
	esac
	python3 - "$dir" >"$VM_WORK/kmscube.json" <<'PY'
import json, os, sys
d = sys.argv[1]
kv = dict(line.strip().split("=", 1) for line in open(os.path.join(d, "summary.txt")) if "=" in line)
n, m = int(kv["intervals"]), int(kv["vblanks_missed"])
ms = lambda k: int(kv[k]) / 1000
game = {"renderer": "kmscube", "frames": int(kv["frames"]), "intervals": n, "vblanks_missed": m,
        # The share of display refreshes between the first and the last
        # measured frame that showed no new frame.
        "missed_ratio": m / (n + m) if n + m else 0.0,
        "p50_ms": ms("frame_p50_us"), "p99_ms": ms("frame_p99_us"), "p999_ms": ms("frame_p999_us"),
        "fps_avg": float(kv["fps_avg"]), "one_percent_low_fps": float(kv["fps_1pct_low"])}
sched = os.path.join(d, "sched.frames")
if os.path.exists(sched):
    kernel = {tuple(line.split()) for line in open(os.path.join(d, "frames.txt")) if line.strip()}
    ours = [tuple(line.split()) for line in open(sched) if line.strip()]
    game["present_check"] = {"tracepoint": len(kernel), "scheduler": len(ours),
                             "same": len(kernel & set(ours))}
print(json.dumps(game))
PY
}

# The game's CPU changes, from the kernel's sched_migrate_task tracepoint,
# so that every scheduler is counted alike: gamesim's threads are the ones
# of its names. Each move is cross-LLC when sysfs puts its two CPUs in
# different last-level caches (llc_map).
GAME_COMMS="gamesim render submit audio input"
TRACE=/sys/kernel/tracing
mountpoint -q "$TRACE" || mount -t tracefs nodev "$TRACE" || fail "no tracefs"
llc_map >"$VM_WORK/llc.txt"
migrate_trace_start() {
	local filter="" c
	for c in $GAME_COMMS; do filter+="${filter:+ || }comm == \"$c\""; done
	echo 0 >"$TRACE"/tracing_on
	echo 4096 >"$TRACE"/buffer_size_kb
	echo "$filter" >"$TRACE"/events/sched/sched_migrate_task/filter
	echo 1 >"$TRACE"/events/sched/sched_migrate_task/enable
	echo >"$TRACE"/trace
	MIGRATE_T0=$(date +%s.%N)
	echo 1 >"$TRACE"/tracing_on
}
# The JSON of what was seen since migrate_trace_start; "lost" counts events
# the trace buffer overwrote (then "all" and "cross_llc" are short).
migrate_trace_stop() {
	local t1 lost
	echo 0 >"$TRACE"/tracing_on
	t1=$(date +%s.%N)
	echo 0 >"$TRACE"/events/sched/sched_migrate_task/enable
	lost=$(cat "$TRACE"/per_cpu/cpu*/stats | awk '/^overrun:/ {n += $2} END {print n + 0}')
	awk -v t0="$MIGRATE_T0" -v t1="$t1" -v lost="$lost" '
		FNR == NR { llc[$1] = $2; next }
		/sched_migrate_task:/ {
			match($0, /orig_cpu=[0-9]+/); from = substr($0, RSTART + 9, RLENGTH - 9)
			match($0, /dest_cpu=[0-9]+/); to = substr($0, RSTART + 9, RLENGTH - 9)
			all++
			if (llc[from] != llc[to]) cross++
		}
		END { s = t1 - t0; printf "{\"all\":%d,\"cross_llc\":%d,\"lost\":%d,\"seconds\":%.3f,\"cross_llc_per_s\":%.3f}\n", all, cross, lost, s, cross / s }
	' "$VM_WORK/llc.txt" "$TRACE"/trace
}

# One line of JSON for a run that could not be made: scheduler $1, reason $2.
record_failure() {
	python3 -c 'import json, sys; print(json.dumps({"sched": sys.argv[1], "boot": int(sys.argv[2]), "rep": int(sys.argv[3]), "failed": sys.argv[4]}))' \
		"$1" "$BENCH_BOOT" "$rep" "$2" | tee -a "$results"
}

# Scheduler $1's own reason from its log: the kernel's exit line (the scx
# crates print "EXIT: <reason>" after a dump of counters) when there is one,
# else the last line that says anything.
log_reason() {
	local why i
	# An ejected scheduler prints the kernel's reason as it exits, after
	# the ejection itself: give it that long, or the last line read is
	# whatever it logged before.
	for i in $(seq 1 20); do
		grep -q 'EXIT: ' "$VM_OUT/$1.log" 2>/dev/null && break
		[ -n "${SCHED_PID:-}" ] && kill -0 "$SCHED_PID" 2>/dev/null || break
		sleep 0.5
	done
	why=$(grep -E 'EXIT: ' "$VM_OUT/$1.log" 2>/dev/null | tail -n 1)
	[ -n "$why" ] || why=$(grep -v '^[[:space:]]*$' "$VM_OUT/$1.log" 2>/dev/null | tail -n 1)
	# Without the colour codes some peers log with.
	printf '%s\n' "$why" | sed 's/\x1b\[[0-9;]*m//g' | cut -c 1-200
}

# Attach scheduler $1 (eevdf: none) and wait until sched_ext is enabled
# with it; its ops name (root/ops) goes to SCHED_OPS, to check later that it
# is still the one attached. sched_ext is disabled before each attach, so
# the first ops name seen while the process lives is its own.
# Returns 1, with the reason in ATTACH_FAILED, when it does not attach.
attach() {
	local s=$1 i
	SCHED_PID="" SCHED_OPS="" ATTACH_FAILED=""
	[ "$s" = eevdf ] && return 0
	# scx_gamer is told which process is the game, as a user with
	# --game-comm (or the launch detection) would; the other two variants
	# show what it does without that hint and without its policy.
	case "$s" in
	# With kmscube in the run, scx_gamer also prints its presentation
	# events, to cross-check them against the kernel's tracepoint.
	scx_gamer) "$BENCH_BIN/scx_gamer" --game-comm gamesim $WATCH >"$VM_OUT/$s.log" 2>&1 & ;;
	scx_gamer_nohint) "$BENCH_BIN/scx_gamer" $WATCH >"$VM_OUT/$s.log" 2>&1 & ;;
	scx_gamer_nopolicy) "$BENCH_BIN/scx_gamer" --no-policy $WATCH >"$VM_OUT/$s.log" 2>&1 & ;;
	*) "$BENCH_BIN/$s" >"$VM_OUT/$s.log" 2>&1 & ;;
	esac
	SCHED_PID=$!
	# Guest seconds: on the virtual clock the verifier's work is priced
	# in instructions, and scx_lavd's takes about a minute of them.
	for i in $(seq 1 600); do
		if [ "$(sched_state)" = enabled ] && kill -0 "$SCHED_PID" 2>/dev/null; then
			SCHED_OPS=$(sched_ops)
			[ -z "$SCHED_OPS" ] || return 0
		fi
		if ! kill -0 "$SCHED_PID" 2>/dev/null; then
			wait "$SCHED_PID" 2>/dev/null || true
			ATTACH_FAILED="failed to attach: exited: $(log_reason "$s")"
			SCHED_PID=""
			wait_detached
			return 1
		fi
		sleep 0.5
	done
	ATTACH_FAILED="failed to attach: not attached after 300 s: $(log_reason "$s")"
	kill -INT "$SCHED_PID" 2>/dev/null || true
	wait "$SCHED_PID" 2>/dev/null || true
	SCHED_PID=""
	wait_detached
	return 1
}

# Detach scheduler $1; returns 1 when the kernel, not user space, ended it.
detach() {
	local s=$1
	if [ -n "$SCHED_PID" ]; then
		kill -INT "$SCHED_PID" 2>/dev/null || true
		wait "$SCHED_PID" || true
	fi
	wait_detached
	[ "$s" = eevdf ] || grep -q 'unregistered from user space' "$VM_OUT/$s.log"
}

WATCH=""
case " $BENCH_SCENARIOS " in *" kmscube-"*) WATCH="--watch-events frame" ;; esac
read -r -a scheds <<<"$BENCH_SCHEDS"
read -r -a scenarios <<<"$BENCH_SCENARIOS"
for rep in $(seq 1 "$BENCH_REPS"); do
	# Rotate the order by one each repetition, and each boot by as many
	# as it has repetitions, so the boots do not repeat each other's orders.
	shift_by=$((((BENCH_BOOT - 1) * BENCH_REPS + rep - 1) % ${#scheds[@]}))
	order=("${scheds[@]:shift_by}" "${scheds[@]:0:shift_by}")
	for s in "${order[@]}"; do
		t0=$SECONDS
		if ! attach "$s"; then
			record_failure "$s" "$ATTACH_FAILED"
			continue
		fi
		echo "bench: boot $BENCH_BOOT rep $rep: $s attached as ${SCHED_OPS:-EEVDF} in $((SECONDS - t0)) s (guest time)" >&2
		ejected="" gamesim_ran=""
		for scenario in "${scenarios[@]}"; do
			read -r prog hz work secs kind <<<"$(scenario_game "$scenario")"
			secs=${BENCH_SECONDS:-$secs}
			t0=$SECONDS
			cost=null migrations=null
			[ -z "$SCHED_PID" ] || python3 "$SCX_GAMER_SRC/bench/sched-cost.py" "$SCHED_PID" >"$VM_WORK/cost.before"
			if [ "$prog" = kmscube ]; then
				run_kmscube "$secs" "$s" "$kind"
				game=$(cat "$VM_WORK/kmscube.json")
			else
				start_load "$kind" $((secs + 2))
				sleep 1
				gamesim_ran=1
				migrate_trace_start
				game=$(timeout $((secs + 60)) "$BENCH_BIN/gamesim" --hz "$hz" --work-ms "$work" \
					--seconds "$secs" --input --gpu-vgem --json) || fail "gamesim failed or hung under $s"
				migrations=$(migrate_trace_stop)
				case "$game" in *'"gpu_submits":0}'*) fail "gamesim made no GPU submits under $s" ;; esac
			fi
			wait "$LOAD_PID" || true
			ops=$(cat "$VM_WORK/load.ops" 2>/dev/null || true)
			# A load that did nothing measured nothing: that cell is a
			# failure in the table, and the boot goes on with the next.
			if [ -z "$ops" ]; then
				record_failure "$s" "$scenario: the load reported no throughput"
				continue
			fi
			# A run the kernel's default scheduler took over is not $s's.
			if [ "$s" != eevdf ]; then
				case "$(sched_state) $(sched_ops)" in "enabled $SCHED_OPS") ;;
				*)
					ejected="ejected during $scenario: $(log_reason "$s")"
					break
					;;
				esac
				cost=$(python3 "$SCX_GAMER_SRC/bench/sched-cost.py" "$SCHED_PID" --since "$VM_WORK/cost.before")
			fi
			echo "{\"scenario\":\"$scenario\",\"load\":\"$kind\",\"sched\":\"$s\",\"boot\":$BENCH_BOOT,\"rep\":$rep,\"guest_s\":$((SECONDS - t0)),\"load_ops_per_s\":$ops,\"cost\":$cost,\"migrations\":$migrations,\"game\":$game}" |
				tee -a "$results"
		done
		if ! detach "$s" && [ -z "$ejected" ]; then
			ejected="ejected by the kernel: $(log_reason "$s")"
		fi
		if [ -n "$ejected" ]; then
			record_failure "$s" "$ejected"
			continue
		fi
		# scx_gamer saw the frame chain's submits on the real vgem path
		# (gamesim's; kmscube draws on the CPU and submits nothing).
		[ -n "$gamesim_ran" ] || continue
		case "$s" in scx_gamer | scx_gamer_nohint)
			exit_totals "$VM_OUT/$s.log" | grep -qE '^  gpu-submit +[1-9]' ||
				{ cat "$VM_OUT/$s.log"; fail "$s classed no GPU-submit thread"; } ;;
		esac
	done
done
# A scheduler the kernel ejected leaves its reason in the kernel log; that
# is a result (recorded above), so only the other kinds of trouble fail here.
if dmesg | grep -v 'sched_ext:' | grep -E 'BUG:|WARNING:|Oops|RCU stall|soft lockup|hung_task'; then
	fail "the kernel log shows trouble (above)"
fi
echo "bench: done"
