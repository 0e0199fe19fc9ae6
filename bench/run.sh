#!/usr/bin/env bash
# The game-under-load benchmark: scx_gamer against the kernel's default
# scheduler (EEVDF) and today's sched_ext peers, each boot a VM running
# every scheduler in rotated order, several boots side by side.
#
#   bench/run.sh            2 boots x 3 repetitions of every scenario under
#                           all seven schedulers
#   bench/run.sh --quick    2 boots x 1 repetition of 4 s games
#   bench/run.sh --smoke    EEVDF and scx_gamer, 2 boots x 1 short run under
#                           CPU hogs; proves the harness works on the
#                           virtual clock (part of the test suite)
#
# Options: --boots N, --reps N (per boot), --jobs N (VMs at once, default
# the host's CPU count), --cpus N (vCPUs per VM, default 2), --llcs K (the
# guest's last-level caches, default 1: K sockets of N/K cores each, whose
# caches the guest sees apart), --clock virtual|host, --shift N (the virtual
# clock's -icount shift, default 2), --scheds "eevdf scx_gamer ...",
# --scenarios "idle-60 cpu-hogs idle-144 hackbench build-storm", --out DIR
# (default results/). The real-renderer scenarios, kmscube-idle,
# kmscube-hogs, kmscube-hackbench and kmscube-build-storm (Debian's kmscube
# on a 320x240 virtio-gpu display under those loads, frames timed by the
# kernel's vblank tracepoints), run when asked for with --scenarios; only
# then do the VMs get the virtio-gpu device and an Intel CPU identity.
# The virtual clock (default) boots every VM with `-icount shift=N,sleep=off`:
# guest time is the guest's instruction count times 2^N ns, so host load
# and neighbouring VMs cannot reach it (docs/benchmarks.md says what it
# cannot show). --clock host runs on the host's clock, for KVM or real
# hardware. idle-60 and idle-144 run the frame loops with no load: the floor
# of frames the VM itself loses. scx_gamer runs with --game-comm gamesim
# and starts kmscube through `scx_gamer run --`, as a player starts a game;
# scx_gamer_nohint with no flags (kmscube unnamed, only the compositor) and
# scx_gamer_nopolicy with --no-policy.
# Writes DIR/results.jsonl (every run), DIR/<scenario>.md and .svg,
# DIR/spread.svg and DIR/summary.md. The peers come from
# bench/setup-peers.sh (built into the cache the first time they are used).
# Exits 1 when an scx_gamer variant failed to attach or was ejected.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
CACHE=${SCX_GAMER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scx_gamer}

args="$*"
boots=2 reps=3 secs="" out=$src/results jobs=$(nproc) clock=virtual shift=2 cpus=2 llcs=1
scheds="eevdf scx_gamer scx_bpfland scx_lavd scx_cake scx_cosmos scx_flash"
scenarios="idle-60 cpu-hogs idle-144 hackbench build-storm"
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) reps=1 secs=4; shift ;;
	--smoke) reps=1 secs=2 scheds="eevdf scx_gamer" scenarios="cpu-hogs"; shift ;;
	--boots) boots=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--clock) clock=$2; shift 2 ;;
	--shift) shift=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--llcs) llcs=$2; shift 2 ;;
	--scheds) scheds=$2; shift 2 ;;
	--scenarios) scenarios=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
for v in boots reps jobs cpus llcs; do
	case "${!v}" in '' | *[!0-9]* | 0) echo "bench: --$v takes a whole number >= 1" >&2; exit 2 ;; esac
done
case "$shift" in [0-9]) ;; *) echo "bench: --shift takes 0 to 9" >&2; exit 2 ;; esac
[ $((cpus % llcs)) -eq 0 ] || { echo "bench: --cpus $cpus does not split into --llcs $llcs equal caches" >&2; exit 2; }
case "$clock" in
virtual) qemu_opts="-icount shift=$shift,sleep=off"
	clock_label="virtual clock (QEMU -icount shift=$shift,sleep=off: $((1000000 >> shift)) guest instructions per guest ms, shared by the busy vCPUs)" ;;
host) qemu_opts="" clock_label="host clock (TCG, or KVM where usable)" ;;
*) echo "bench: --clock is virtual or host, not '$clock'" >&2; exit 2 ;;
esac
# Two or more caches: one socket each (QEMU's CPUID then gives each
# socket its own L3, which sysfs and scx_utils' topology show apart).
vm_label="$cpus-vCPU VMs"
if [ "$llcs" -gt 1 ]; then
	qemu_opts+="${qemu_opts:+ }-smp $cpus,sockets=$llcs,cores=$((cpus / llcs)),threads=1"
	vm_label="$cpus-vCPU VMs of $llcs last-level caches ($llcs sockets of $((cpus / llcs)) cores)"
fi
# Read once: a `--list | grep -q` pipe fails under pipefail whenever grep
# exits before the list is written out.
peer_list=$(bench/setup-peers.sh --list)
for s in $scheds; do
	case "$s" in eevdf | scx_gamer | scx_gamer_nohint | scx_gamer_nopolicy) ;;
	*) grep -q "^$s " <<<"$peer_list" || { echo "bench: unknown scheduler '$s'" >&2; exit 2; } ;;
	esac
done
for s in $scenarios; do
	case "$s" in idle-60 | cpu-hogs | idle-144 | hackbench | build-storm) ;;
	kmscube-idle | kmscube-hogs | kmscube-hackbench | kmscube-build-storm)
		# A small display, so that Mesa's software renderer keeps up. An
		# Intel CPU identity for TCG's "max" model: LLVM takes qemu's own
		# (AMD family 6) for a 32-bit CPU and llvmpipe aborts ("64-bit
		# code requested on a subtarget that doesn't support it").
		case " $qemu_opts " in *virtio-gpu*) ;;
		*) qemu_opts+="${qemu_opts:+ }-cpu max,vendor=GenuineIntel,family=6,model=158,stepping=9 -device virtio-gpu-pci,xres=320,yres=240" ;;
		esac
		;;
	*) echo "bench: unknown scenario '$s'" >&2; exit 2 ;;
	esac
done

started=$SECONDS
scripts/setup-vm.sh
cargo build --release --locked -p scx_gamer -p gamesim
# The binaries this run's VMs execute, inside this tree: another tree's
# run (a second worktree, a clone) must not swap them in the middle of ours.
bin=$src/target/bench-bin
rm -rf "$bin"
mkdir -p "$bin"
cp target/release/scx_gamer target/release/gamesim "$bin/"

mkdir -p "$out"
: >"$out/results.jsonl"
# A peer that does not build is a result: it stays in the table with the reason.
run_scheds=""
for s in $scheds; do
	version=$(bench/setup-peers.sh --list | awk -v s="$s" '$1 == s {print $2}')
	if [ -z "$version" ]; then run_scheds+=" $s"; continue; fi
	bench/setup-peers.sh "$s"
	if [ -x "$CACHE/peers/$s-$version/bin/$s" ]; then
		cp "$CACHE/peers/$s-$version/bin/$s" "$bin/"
		run_scheds+=" $s"
	else
		python3 -c 'import json, sys; print(json.dumps({"sched": sys.argv[1], "failed": "failed to build: " + sys.argv[2]}))' \
			"$s" "$(tr '\n' ' ' <"$CACHE/peers/$s-$version.failed" | cut -c 1-300)" >>"$out/results.jsonl"
	fi
done

vm_out=$src/target/vm/bench
rm -rf "$vm_out"
mkdir -p "$vm_out"
echo "bench: $boots boot(s) x $reps repetition(s) of [$scenarios] under [$run_scheds ], $jobs VM(s) at once, $clock_label" >&2
# The guest reads its script as it runs: a copy keeps an edit of the
# tree during a run from reaching the VMs.
cp bench/in-vm.sh "$vm_out/in-vm.sh"
vm_started=$SECONDS
boot_vm() {
	local b=$1
	scripts/vm-run.sh --cpus "$cpus" --out "$vm_out/boot$b" --timeout 7200 ${qemu_opts:+--qemu-opts "$qemu_opts"} -- \
		env BENCH_SCHEDS="$run_scheds" BENCH_SCENARIOS="$scenarios" BENCH_REPS="$reps" BENCH_BOOT="$b" \
		BENCH_SECONDS="$secs" BENCH_BIN="$bin" bash "$vm_out/in-vm.sh" >"$vm_out/boot$b.log" 2>&1
}
declare -A pid_of=()
failed_boots=""
reap() {
	local b
	for b in "${!pid_of[@]}"; do
		kill -0 "${pid_of[$b]}" 2>/dev/null && continue
		if wait "${pid_of[$b]}"; then
			echo "bench: boot $b done ($((SECONDS - vm_started)) s)" >&2
		else
			echo "bench: boot $b failed; the end of $vm_out/boot$b.log:" >&2
			tail -n 15 "$vm_out/boot$b.log" >&2
			failed_boots+=" $b"
		fi
		unset "pid_of[$b]"
	done
}
for b in $(seq 1 "$boots"); do
	while [ ${#pid_of[@]} -ge "$jobs" ]; do sleep 2; reap; done
	boot_vm "$b" &
	pid_of[$b]=$!
done
while [ ${#pid_of[@]} -gt 0 ]; do sleep 2; reap; done
[ -z "$failed_boots" ] || { echo "bench: boot(s)$failed_boots failed" >&2; exit 1; }
for b in $(seq 1 "$boots"); do cat "$vm_out/boot$b/results.jsonl" >>"$out/results.jsonl"; done

kernel=$(cat "$CACHE/kernel/version")
mmss() { printf '%d min %02d s' $(($1 / 60)) $(($1 % 60)); }
took="$(mmss $((SECONDS - started))) in all, $(mmss $((SECONDS - vm_started))) of it in the VMs"
rc=0
python3 bench/report.py "$out" --kernel "$kernel" --clock "$clock_label" --vm "$vm_label" \
	--command "bench/run.sh${args:+ $args}" --took "$took" \
	--host-load "$(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min load average at the end, on $(nproc) CPUs)" || rc=$?
echo "bench: took $took" >&2
# 3: the report is written, but scx_gamer's presentation events disagreed
# with the kernel's tracepoint in some kmscube run.
case $rc in 0) ;; 3) echo "bench: scx_gamer's presentation events disagree with the tracepoint (see $out/summary.md)" >&2; exit 1 ;; *) exit "$rc" ;; esac
if grep '"failed"' "$out/results.jsonl" | grep -q '"sched": "scx_gamer'; then
	echo "bench: an scx_gamer variant failed to attach or was ejected (see $out/summary.md)" >&2
	exit 1
fi
