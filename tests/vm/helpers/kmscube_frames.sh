#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A real renderer as a benchmark scenario, guest side: Debian's kmscube draws
# through Mesa onto virtio-gpu's display, and its frame times are taken from
# the kernel's presentation timestamps, never from kmscube's output. Under
# any scheduler (it needs nothing of scx_gamer).
#
#   kmscube_frames.sh [--frames N] [--warmup N] [--renderer softpipe|llvmpipe] [--card DEV] OUT_DIR
#
# Needs root, virtio-gpu loaded with nothing else holding the display, and
# tracefs. The drm_vblank_event_delivered tracepoint gives each flip
# completion delivered to a process (crtc, vblank sequence); drm_vblank_event
# gives each vblank's kernel timestamp. A frame's presentation time is the
# timestamp of the vblank its completion was delivered at.
#
# Writes OUT_DIR/frames.txt (crtc seq present_ns, one presented frame a line)
# and OUT_DIR/summary.txt, key=value lines over the frames after the first
# --warmup ones (default 10: Mesa compiles its shaders during the first
# frames, which take up to seconds): frames, frame_p50_us,
# frame_p99_us, fps_avg, fps_1pct_low (the FPS of the slowest 1 % of frame
# times), vblanks_missed (vblanks between the first and last frame that
# presented none), kmscube_rc; `frames` counts every presented frame, the
# warm-up included. Exits non-zero when kmscube fails or no frame
# was presented.
set -euo pipefail
export LC_ALL=C

frames=300 warmup=10 renderer=softpipe card=/dev/dri/card0 out=""
usage() {
	echo "usage: $0 [--frames N] [--warmup N] [--renderer softpipe|llvmpipe] [--card DEV] OUT_DIR" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--frames) frames=${2:-}; shift 2 ;;
	--warmup) warmup=${2:-}; shift 2 ;;
	--renderer) renderer=${2:-}; shift 2 ;;
	--card) card=${2:-}; shift 2 ;;
	-*) usage ;;
	*) [ -z "$out" ] || usage; out=$1; shift ;;
	esac
done
[ -n "$out" ] || usage
case "$frames" in '' | *[!0-9]*) echo "--frames needs a number, got '$frames'" >&2; exit 2 ;; esac
case "$warmup" in '' | *[!0-9]*) echo "--warmup needs a number, got '$warmup'" >&2; exit 2 ;; esac
[ "$frames" -ge $((warmup + 2)) ] || { echo "--frames must be at least --warmup + 2" >&2; exit 2; }
case "$renderer" in softpipe | llvmpipe) ;; *) echo "--renderer is softpipe or llvmpipe, got '$renderer'" >&2; exit 2 ;; esac
command -v kmscube >/dev/null || { echo "kmscube is not installed (scripts/setup-vm.sh installs it)" >&2; exit 1; }
[ -e "$card" ] || { echo "no DRM device $card (is virtio-gpu loaded?)" >&2; exit 1; }

T=/sys/kernel/tracing
mountpoint -q $T || mount -t tracefs none $T
mkdir -p "$out"
work=$(mktemp -d)
# It reads "7 (expanded: 1408)" until the buffer was first used.
old_size=$(sed 's/.*expanded: \([0-9]*\).*/\1/' $T/buffer_size_kb)
cleanup() {
	echo 0 >$T/events/drm/drm_vblank_event_delivered/enable
	echo 0 >$T/events/drm/drm_vblank_event/enable
	echo "$old_size" >$T/buffer_size_kb
	rm -rf "$work"
}
trap cleanup EXIT

echo 0 >$T/tracing_on
echo >$T/trace
# About 80 bytes per event at a few hundred vblanks a second: room for minutes.
echo 8192 >$T/buffer_size_kb
echo 1 >$T/events/drm/drm_vblank_event_delivered/enable
echo 1 >$T/events/drm/drm_vblank_event/enable
echo 1 >$T/tracing_on

# kmscube stops when its stdin is readable (EOF included): give it a pipe
# that never is.
mkfifo "$work/stdin"
exec 9<>"$work/stdin"
rc=0
GALLIUM_DRIVER=$renderer MESA_SHADER_CACHE_DISABLE=true \
	kmscube -D "$card" -c "$frames" <&9 >"$out/kmscube.log" 2>&1 || rc=$?
exec 9<&-
echo 0 >$T/tracing_on

# Deliveries to a process (the kernel's own commits get completions with no
# file), joined with their vblank's timestamp.
grep -v 'drm_vblank_event_delivered: file=0000000000000000,' $T/trace |
	sed -n 's/.*drm_vblank_event_delivered: .*crtc=\([0-9]*\), seq=\([0-9]*\).*/\1:\2/p' |
	sort -u >"$work/delivered"
sed -n 's/.*drm_vblank_event: crtc=\([0-9]*\), seq=\([0-9]*\), time=\([0-9]*\).*/\1:\2 \3/p' $T/trace |
	sort -u -k1,1 >"$work/vblanks"
join "$work/delivered" "$work/vblanks" | tr ':' ' ' | sort -k1,1n -k2,2n >"$out/frames.txt"

# Frame times (µs) between consecutive frames on one CRTC, and the vblanks
# that passed without a frame, after the warm-up.
awk -v w="$warmup" 'NR > w + 1 && $1 == c { printf "%.1f\n", ($3 - t) / 1000; m += $2 - q - 1 } { c = $1; q = $2; t = $3 }
	END { print m + 0 >"/dev/stderr" }' "$out/frames.txt" 2>"$work/missed" | sort -n >"$work/intervals"
{
	echo "frames=$(wc -l <"$out/frames.txt")"
	echo "warmup=$warmup"
	echo "kmscube_rc=$rc"
	echo "vblanks_missed=$(cat "$work/missed")"
	# Nearest-rank percentiles; 1 % low: the slowest ceil(n/100) frame times.
	awk '{ iv[NR] = $1; sum += $1 }
	END {
		n = NR
		if (n == 0) exit
		slow = int((n + 99) / 100)
		for (i = n - slow + 1; i <= n; i++) ssum += iv[i]
		printf "frame_p50_us=%.0f\nframe_p99_us=%.0f\n", iv[int((n * 50 + 99) / 100)], iv[int((n * 99 + 99) / 100)]
		printf "fps_avg=%.2f\nfps_1pct_low=%.2f\n", n * 1e6 / sum, slow * 1e6 / ssum
	}' "$work/intervals"
} >"$out/summary.txt"
cat "$out/summary.txt"
[ "$rc" -eq 0 ] || { echo "kmscube failed ($rc); see $out/kmscube.log" >&2; exit 1; }
[ -s "$out/frames.txt" ] || { echo "no frame was presented" >&2; exit 1; }
