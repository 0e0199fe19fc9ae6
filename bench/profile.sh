#!/usr/bin/env bash
# One game under hackbench in one VM, as bench/run.sh's hackbench scenario
# runs it (144 Hz, 2 ms a frame, typed input, a GPU submit a frame), for
# looking into where a scheduler loses: the game's frames (gamesim), each
# of the scheduler's BPF programs' time per call, and every wait of the
# game's threads, from the kernel's sched_waking and sched_switch
# tracepoints. bench/run.sh is the benchmark; this is the microscope for
# one cell of it.
#
#   bench/profile.sh [--cpus N] [--llcs K] [--sched NAME] [--binary PATH]
#                    [--groups G] [--out DIR] [-- SCHEDULER FLAGS]
#
# Defaults: 8 vCPUs in 2 last-level caches, scx_gamer (this tree's release
# build, or --binary) with --game-comm gamesim, hackbench -g 16, out
# target/vm/profile. --sched scx_bpfland (or another peer) runs the pinned
# peer from the cache instead. Always on the virtual clock (-icount
# shift=2). Prints the summary (bench/profile.py) and keeps the trace, the
# bpftool snapshots and the game's JSON in DIR.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" = --guest ]; then
	# Inside the VM: $2 is the scheduler binary, the rest its flags.
	bin=$2
	shift 2
	cd "$VM_WORK"
	T=/sys/kernel/tracing
	modprobe vgem && modprobe uinput && modprobe evdev
	sysctl -qw kernel.bpf_stats_enabled=1
	"$bin" "$@" >sched.log 2>&1 &
	sp=$!
	for _ in $(seq 1 600); do
		[ "$(cat /sys/kernel/sched_ext/state)" = enabled ] && break
		sleep 0.5
	done
	[ "$(cat /sys/kernel/sched_ext/state)" = enabled ] || { cat sched.log; exit 1; }
	sleep 1
	mountpoint -q "$T" || mount -t tracefs nodev "$T"
	echo mono >"$T"/trace_clock
	echo 8192 >"$T"/buffer_size_kb
	f='comm == "render" || comm == "submit" || comm == "audio" || comm == "gamesim" || comm == "input"'
	echo "$f" >"$T"/events/sched/sched_waking/filter
	echo "${f//comm/prev_comm} || ${f//comm/next_comm}" >"$T"/events/sched/sched_switch/filter
	echo 1 >"$T"/events/sched/sched_switch/enable
	echo 1 >"$T"/events/sched/sched_waking/enable
	bpftool prog show >"$VM_OUT"/progs.before
	(
		end=$((SECONDS + 10))
		while [ $SECONDS -lt $end ]; do timeout 60 hackbench -g "$PROFILE_GROUPS" -l 5 >/dev/null 2>&1 || break; done
	) &
	lp=$!
	sleep 1
	"$PROFILE_GAMESIM" --hz 144 --work-ms 2 --seconds 6 --input --gpu-vgem --json >"$VM_OUT"/game.json &
	gp=$!
	sleep 2
	echo 1 >"$T"/tracing_on
	sleep 3
	echo 0 >"$T"/tracing_on
	cat "$T"/trace >"$VM_OUT"/sched.trace
	wait "$gp"
	wait "$lp"
	bpftool prog show >"$VM_OUT"/progs.after
	kill -INT "$sp"
	wait "$sp" || true
	cp sched.log "$VM_OUT"/sched.log
	exit 0
fi

cpus=8 llcs=2 sched=scx_gamer binary="" groups=16 out=$src/target/vm/profile
while [ $# -gt 0 ]; do
	case $1 in
	--cpus) cpus=$2; shift 2 ;;
	--llcs) llcs=$2; shift 2 ;;
	--sched) sched=$2; shift 2 ;;
	--binary) binary=$2; shift 2 ;;
	--groups) groups=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "profile: unknown option '$1'" >&2; exit 2 ;;
	esac
done
[ $((cpus % llcs)) -eq 0 ] || { echo "profile: --cpus $cpus does not split into --llcs $llcs" >&2; exit 2; }
CACHE=${SCX_GAMER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scx_gamer}
cargo build --release --locked -p scx_gamer -p gamesim
if [ "$sched" = scx_gamer ]; then
	binary=${binary:-$src/target/release/scx_gamer}
	[ $# -gt 0 ] || set -- --game-comm gamesim
else
	version=$(bench/setup-peers.sh --list | awk -v s="$sched" '$1 == s {print $2}')
	[ -n "$version" ] || { echo "profile: no such scheduler: $sched" >&2; exit 2; }
	bench/setup-peers.sh "$sched"
	binary=${binary:-$CACHE/peers/$sched-$version/bin/$sched}
fi
[ -x "$binary" ] || { echo "profile: no binary at $binary" >&2; exit 2; }
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
mkdir -p "$out"
"$src"/scripts/vm-run.sh --cpus "$cpus" --out "$out" \
	--qemu-opts "-icount shift=2,sleep=off -smp $cpus,sockets=$llcs,cores=$((cpus / llcs)),threads=1" \
	-- env PROFILE_GROUPS="$groups" PROFILE_GAMESIM="$src/target/release/gamesim" \
	bash "$src/bench/profile.sh" --guest "$binary" "$@"
python3 "$src/bench/profile.py" "$out"
