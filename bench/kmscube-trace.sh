#!/usr/bin/env bash
# Where a renderer's frames go, at the kernel's boundary: kmscube (llvmpipe,
# on virtio-gpu, as in the kmscube-* scenarios) under a load and this tree's
# scx_gamer, with every sched_switch, sched_waking and sched_wakeup and the
# DRM vblank events recorded for 8 s of the load, on the virtual clock.
#
#   bench/kmscube-trace.sh [--load cpu-hogs|build-storm] [--named] OUT_DIR
#
# --named starts kmscube through `scx_gamer run --` (the game); without it
# kmscube is unnamed (the compositor only). Writes OUT_DIR/trace.txt,
# OUT_DIR/threads.txt (kmscube's threads: tid comm) and OUT_DIR/report.txt
# (bench/kmscube_trace.py: per thread, its runs, its waits from wakeup and
# from preemption, and the longest uninterruptible sleeps with their waker).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" = --guest ]; then
	# Guest side: --guest LOAD NAMED
	load=$2 named=$3
	. "$SCX_GAMER_SRC/tests/vm/lib.sh"
	load_virtio_gpu
	T=/sys/kernel/tracing
	mountpoint -q $T || mount -t tracefs none $T
	bin=$SCX_GAMER_SRC/target/release
	"$bin/scx_gamer" >"$VM_OUT/sched.log" 2>&1 &
	sched=$!
	wait_attached "$sched"
	wrap=()
	[ "$named" = 0 ] || wrap=("$bin/scx_gamer" run --)
	echo 0 >$T/tracing_on
	echo >$T/trace
	echo 16384 >$T/buffer_size_kb
	echo mono >$T/trace_clock
	echo 1 >$T/events/drm/drm_vblank_event_delivered/enable
	echo 1 >$T/events/drm/drm_vblank_event/enable
	echo 1 >$T/tracing_on
	mkfifo "$VM_WORK/stdin"
	exec 9<>"$VM_WORK/stdin"
	GALLIUM_DRIVER=llvmpipe MESA_SHADER_CACHE_DISABLE=true \
		"${wrap[@]}" kmscube -D /dev/dri/card0 <&9 >"$VM_OUT/kmscube.log" 2>&1 &
	cube=$!
	# llvmpipe compiles its shaders first: wait for its first frames.
	for _ in $(seq 1 3000); do
		[ "$(grep -v 'file=0000000000000000' $T/trace | grep -c drm_vblank_event_delivered || true)" -lt 5 ] || break
		kill -0 "$cube" || fail "kmscube exited"
		sleep 0.1
	done
	echo 0 >$T/tracing_on
	echo >$T/trace
	for e in sched_switch sched_waking sched_wakeup; do echo 1 >$T/events/sched/$e/enable; done
	echo 1 >$T/tracing_on
	case "$load" in
	cpu-hogs) stress-ng --cpu $((4 * $(nproc))) --timeout 9s >/dev/null 2>&1 & ;;
	build-storm)
		(end=$((SECONDS + 9))
			for _ in $(seq 1 $((2 * $(nproc)))); do
				(while [ "$SECONDS" -lt "$end" ]; do
					/bin/sh -c 'i=0; while [ $i -lt 3000 ]; do i=$((i + 1)); done'
				done) &
			done
			wait) &
		;;
	esac
	loadpid=$!
	sleep 8
	echo 0 >$T/tracing_on
	for t in /proc/$cube/task/*; do echo "$(basename "$t") $(cat "$t/comm")"; done >"$VM_OUT/threads.txt"
	cat $T/trace >"$VM_OUT/trace.txt"
	wait "$loadpid" || true
	kill "$cube"
	wait "$cube" || true
	kill -INT "$sched"
	wait "$sched" || true
	exit 0
fi

load=cpu-hogs named=0 out=""
while [ $# -gt 0 ]; do
	case "$1" in
	--load) load=${2:-}; shift 2 ;;
	--named) named=1; shift ;;
	-*) echo "usage: $0 [--load cpu-hogs|build-storm] [--named] OUT_DIR" >&2; exit 2 ;;
	*) out=$1; shift ;;
	esac
done
[ -n "$out" ] || { echo "usage: $0 [--load cpu-hogs|build-storm] [--named] OUT_DIR" >&2; exit 2; }
case "$load" in cpu-hogs | build-storm) ;; *) echo "--load is cpu-hogs or build-storm, got '$load'" >&2; exit 2 ;; esac
[ -x "$src/target/release/scx_gamer" ] || { echo "build first: cargo build --release" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
# The kmscube scenarios' VM (bench/run.sh): LLVM needs an Intel identity.
"$src/scripts/vm-run.sh" --out "$out/vm" --timeout 3000 \
	--qemu-opts "-icount shift=2,sleep=off -cpu max,vendor=GenuineIntel,family=6,model=158,stepping=9 -device virtio-gpu-pci,xres=320,yres=240" \
	-- bash "$src/bench/kmscube-trace.sh" --guest "$load" "$named"
mv "$out/vm/trace.txt" "$out/vm/threads.txt" "$out/"
python3 "$src/bench/kmscube_trace.py" "$out/trace.txt" "$out/threads.txt" | tee "$out/report.txt"
