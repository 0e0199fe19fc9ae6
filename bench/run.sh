#!/usr/bin/env bash
# The game-under-load benchmark: scx_gamer against the kernel's default
# scheduler (EEVDF), scx_bpfland and scx_lavd, all in one VM boot, with the
# order rotated between repetitions, medians reported.
#
#   bench/run.sh            3 repetitions of every scenario (12 to 13 min on
#                           2 cores)
#   bench/run.sh --quick    1 repetition, 4 s games
#   bench/run.sh --smoke    EEVDF and scx_gamer only, one short run each;
#                           proves the harness works (part of the test suite)
#
# Options: --reps N, --scheds "eevdf scx_gamer ...", --scenarios "idle-60
# cpu-hogs idle-144 hackbench build-storm", --out DIR (default results/).
# idle-60 and idle-144 run the two frame loops with no load: the floor of
# frames the VM itself loses, whatever the scheduler. scx_gamer runs with
# --game-comm gamesim (the game named, as a user or the launch detection
# would); scx_gamer_nohint runs with no flags, and scx_gamer_nopolicy with
# --no-policy, to measure what the hint and the policy each add.
# Writes DIR/results.jsonl (every run), DIR/<scenario>.md and .svg (medians),
# and DIR/summary.md. The peers are installed from crates.io with
# `cargo install` into the cache the first time (a few minutes each).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
CACHE=${SCX_GAMER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scx_gamer}
PEER_VERSION=1.1.4

args="$*"
reps=3 secs="" out=$src/results
scheds="eevdf scx_gamer scx_bpfland scx_lavd"
scenarios="idle-60 cpu-hogs idle-144 hackbench build-storm"
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) reps=1 secs=4; shift ;;
	--smoke) reps=1 secs=2 scheds="eevdf scx_gamer" scenarios="cpu-hogs"; shift ;;
	--reps) reps=$2; shift 2 ;;
	--scheds) scheds=$2; shift 2 ;;
	--scenarios) scenarios=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$reps" in '' | *[!0-9]* | 0) echo "bench: --reps takes a whole number >= 1" >&2; exit 2 ;; esac
for s in $scheds; do
	case "$s" in eevdf | scx_gamer | scx_gamer_nohint | scx_gamer_nopolicy | scx_bpfland | scx_lavd) ;;
	*) echo "bench: unknown scheduler '$s'" >&2; exit 2 ;; esac
done
for s in $scenarios; do
	case "$s" in idle-60 | cpu-hogs | idle-144 | hackbench | build-storm) ;;
	*) echo "bench: unknown scenario '$s'" >&2; exit 2 ;; esac
done

started=$SECONDS
scripts/setup-vm.sh
cargo build --release --locked -p scx_gamer -p gamesim
bin=$CACHE/bench-bin
mkdir -p "$bin"
cp target/release/scx_gamer target/release/gamesim "$bin/"
for peer in scx_bpfland scx_lavd; do
	case " $scheds " in *" $peer "*) ;; *) continue ;; esac
	if [ ! -x "$CACHE/peers/bin/$peer" ]; then
		echo "bench: installing $peer $PEER_VERSION from crates.io (once)" >&2
		BPF_CLANG=${BPF_CLANG:-clang-19} cargo install --locked --root "$CACHE/peers" "$peer@$PEER_VERSION"
	fi
	cp "$CACHE/peers/bin/$peer" "$bin/"
done

mkdir -p "$out"
vm_out=$src/target/vm/bench
rm -rf "$vm_out"
echo "bench: $reps repetition(s) of [$scenarios] under [$scheds]" >&2
vm_started=$SECONDS
scripts/vm-run.sh --out "$vm_out" --timeout 3000 -- \
	env BENCH_SCHEDS="$scheds" BENCH_SCENARIOS="$scenarios" BENCH_REPS="$reps" \
	BENCH_SECONDS="$secs" BENCH_BIN="$bin" bash "$src/bench/in-vm.sh"
cp "$vm_out/results.jsonl" "$out/results.jsonl"
kernel=$(cat "$CACHE/kernel/version")
mmss() { printf '%d min %02d s' $(($1 / 60)) $(($1 % 60)); }
took="$(mmss $((SECONDS - started))) in all, $(mmss $((SECONDS - vm_started))) of it in the VM"
/usr/bin/python3 bench/report.py "$out" --kernel "$kernel" --command "bench/run.sh${args:+ $args}" --took "$took"
echo "bench: took $took" >&2
