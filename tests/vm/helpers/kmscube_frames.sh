#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# A real renderer as a benchmark scenario, guest side: Debian's kmscube draws
# through Mesa onto virtio-gpu's display, and its frame times are taken from
# the kernel's presentation timestamps, never from kmscube's output. Under
# any scheduler (it needs nothing of scx_gamer).
#
#   kmscube_frames.sh [--frames N | --seconds S [--start-file FILE]] [--warmup N]
#                     [--renderer softpipe|llvmpipe] [--card DEV] [--wrap CMD] OUT_DIR
#
# --frames N: kmscube draws N frames (default 300) and stops. --seconds S:
# kmscube draws until S seconds (the guest's clock) have passed and is then
# stopped, so that a run under load lasts as long as the load, however many
# frames the scheduler lets it draw. --start-file FILE (with --seconds): once
# the --warmup frames are on screen (llvmpipe compiles its shaders for many
# seconds first), create FILE, so that the caller starts its load, wait 1 s,
# and only then start the S seconds measured: the figures cover the frames
# presented in that window, and none of the warm-up. --wrap CMD: start
# kmscube through CMD (words split on spaces), as a player starts a game
# through a launcher, e.g. `--wrap "scx_gamer run --"`; CMD must exec
# kmscube, so that kmscube.pid still names kmscube's process (checked).
#
# Needs root, virtio-gpu loaded with nothing else holding the display, and
# tracefs. The drm_vblank_event_delivered tracepoint gives each flip
# completion delivered to a process (crtc, vblank sequence); drm_vblank_event
# gives each vblank's kernel timestamp. A frame's presentation time is the
# timestamp of the vblank its completion was delivered at.
#
# Writes OUT_DIR/frames.txt (crtc seq present_ns, one presented frame a line)
# OUT_DIR/kmscube.pid (kmscube's process id, to match other records of its
# frames against these) and OUT_DIR/summary.txt, key=value lines over the
# frames after the first --warmup ones (default 10: Mesa compiles its shaders
# during the first frames, which take up to seconds): frames, intervals (frame
# times measured), frame_p50_us, frame_p99_us, frame_p999_us, fps_avg,
# fps_1pct_low (the FPS of the slowest 1 % of frame times), vblanks_missed
# (vblanks between the first and last measured frame that presented none),
# kmscube_rc; `frames` counts every presented frame, the warm-up included.
# Exits non-zero when kmscube fails, no frame was presented, or (with
# --seconds) fewer than --warmup + 2 were.
set -euo pipefail
export LC_ALL=C

frames=300 seconds="" start_file="" warmup=10 renderer=softpipe card=/dev/dri/card0 wrap="" out=""
usage() {
	echo "usage: $0 [--frames N | --seconds S [--start-file FILE]] [--warmup N] [--renderer softpipe|llvmpipe] [--card DEV] [--wrap CMD] OUT_DIR" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--frames) frames=${2:-}; shift 2 ;;
	--seconds) seconds=${2:-}; shift 2 ;;
	--start-file) start_file=${2:-}; shift 2 ;;
	--warmup) warmup=${2:-}; shift 2 ;;
	--renderer) renderer=${2:-}; shift 2 ;;
	--card) card=${2:-}; shift 2 ;;
	--wrap) wrap=${2:-}; [ -n "$wrap" ] || usage; shift 2 ;;
	-*) usage ;;
	*) [ -z "$out" ] || usage; out=$1; shift ;;
	esac
done
[ -n "$out" ] || usage
case "$frames" in '' | *[!0-9]*) echo "--frames needs a number, got '$frames'" >&2; exit 2 ;; esac
case "$warmup" in '' | *[!0-9]*) echo "--warmup needs a number, got '$warmup'" >&2; exit 2 ;; esac
case "$seconds" in '' | [1-9] | [1-9][0-9] | [1-9][0-9][0-9]) ;; *) echo "--seconds takes 1 to 999, got '$seconds'" >&2; exit 2 ;; esac
[ "$frames" -ge $((warmup + 2)) ] || { echo "--frames must be at least --warmup + 2" >&2; exit 2; }
[ -z "$start_file" ] || [ -n "$seconds" ] || { echo "--start-file needs --seconds" >&2; exit 2; }
# With --seconds the clock ends the run; the frame count only has to be out of reach.
[ -z "$seconds" ] || frames=1000000
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
read -r -a wrap_cmd <<<"$wrap"
GALLIUM_DRIVER=$renderer MESA_SHADER_CACHE_DISABLE=true \
	"${wrap_cmd[@]}" kmscube -D "$card" -c "$frames" <&9 >"$out/kmscube.log" 2>&1 &
cube=$!
echo "$cube" >"$out/kmscube.pid"
if [ -n "$wrap" ]; then
	# The wrapper execs kmscube in the same process: wait for that exec.
	for _ in $(seq 1 100); do
		[ "$(cat /proc/$cube/comm 2>/dev/null)" != kmscube ] || break
		sleep 0.1
	done
	[ "$(cat /proc/$cube/comm 2>/dev/null)" = kmscube ] ||
		{ echo "--wrap '$wrap' did not exec kmscube in process $cube" >&2; kill "$cube" 2>/dev/null; exit 1; }
fi
# Frames delivered to a process so far.
delivered() { grep -v 'drm_vblank_event_delivered: file=0000000000000000,' $T/trace | grep -c 'drm_vblank_event_delivered:' || true; }
first_seq=""
if [ -n "$start_file" ]; then
	# Guest seconds: under load the warm-up takes several times as long.
	end=$(($(date +%s%N) + 300 * 1000000000))
	while kill -0 "$cube" 2>/dev/null && [ "$(delivered)" -lt "$warmup" ]; do
		[ "$(date +%s%N)" -lt "$end" ] || { echo "kmscube presented fewer than $warmup frames in 300 s" >&2; kill "$cube"; exit 1; }
		sleep 0.2
	done
	touch "$start_file"
	sleep 1
	# The window starts after the latest vblank so far.
	first_seq=$(sed -n 's/.*drm_vblank_event: crtc=[0-9]*, seq=\([0-9]*\),.*/\1/p' $T/trace | tail -n 1)
fi
if [ -n "$seconds" ]; then
	# Guest seconds, polled: kmscube is ended by the clock, not by its count.
	end=$(($(date +%s%N) + seconds * 1000000000))
	while kill -0 "$cube" 2>/dev/null && [ "$(date +%s%N)" -lt "$end" ]; do sleep 0.1; done
	kill -0 "$cube" 2>/dev/null && stopped=1 || stopped=0
	kill -TERM "$cube" 2>/dev/null || true
	wait "$cube" || rc=$?
	# Ended by the clock, as asked: not a failure.
	[ "$stopped" = 0 ] || rc=0
else
	wait "$cube" || rc=$?
fi
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
# With --start-file, the frames of the measured window alone.
if [ -n "$first_seq" ]; then
	awk -v f="$first_seq" '$2 > f' "$out/frames.txt" >"$work/measured"
	skip=0
else
	cp "$out/frames.txt" "$work/measured"
	skip=$warmup
fi
awk -v w="$skip" 'NR > w + 1 && $1 == c { printf "%.1f\n", ($3 - t) / 1000; m += $2 - q - 1 } { c = $1; q = $2; t = $3 }
	END { print m + 0 >"/dev/stderr" }' "$work/measured" 2>"$work/missed" | sort -n >"$work/intervals"
{
	echo "frames=$(wc -l <"$out/frames.txt")"
	echo "intervals=$(wc -l <"$work/intervals")"
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
		printf "frame_p999_us=%.0f\n", iv[int((n * 999 + 999) / 1000)]
		printf "fps_avg=%.2f\nfps_1pct_low=%.2f\n", n * 1e6 / sum, slow * 1e6 / ssum
	}' "$work/intervals"
} >"$out/summary.txt"
cat "$out/summary.txt"
[ "$rc" -eq 0 ] || { echo "kmscube failed ($rc); see $out/kmscube.log" >&2; exit 1; }
[ -s "$out/frames.txt" ] || { echo "no frame was presented" >&2; exit 1; }
[ "$(wc -l <"$work/intervals")" -ge 1 ] ||
	{ echo "no frame time measured: fewer than two frames presented after the warm-up" >&2; exit 1; }
