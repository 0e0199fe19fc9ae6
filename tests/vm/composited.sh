#!/usr/bin/env bash
# vm-qemu-opts: -icount shift=2,sleep=off -device virtio-gpu-pci,xres=320,yres=240
# A game drawing through a compositor: its frame times from its GPU submits.
# The compositor (drm_commit.py, DRM master on virtio-gpu) flips once per
# vblank; the game (vblank_game.py, named with --game-comm) waits N vblanks
# and submits through vgem, for N = 1 and N = 2. Measured against the
# kernel's own boundaries: the drm_vblank_event(_delivered) tracepoints for
# the presentations and dma_fence_init for the game's submits.
#  - the presentations scx_gamer credits with a new game frame are the ones
#    the rule picks from the tracepoints (a game submit after the previous
#    presentation's vblank, up to this one's), within 5 %, and so are the
#    game frame times between them;
#  - the game's median frame time is N vblank periods of the display
#    (within 10 %), in the events and in --stats's game frames line.
# On the virtual clock (-icount), so that the compositor and the game keep
# up with the 75 Hz vblank whatever the host's load: on the host's clock a
# loaded host made the compositor itself skip vblanks.
. "$(dirname "$0")/lib.sh"
dmesg -C
log="$VM_WORK"/sched.log
T=/sys/kernel/tracing
helpers=$SCX_GAMER_SRC/tests/vm/helpers
export LC_ALL=C
cd "$VM_WORK"

load_virtio_gpu
modprobe vgem || fail "modprobe vgem failed"
mountpoint -q $T || mount -t tracefs none $T
# The game is a program file of its own name, for --game-comm.
cp /usr/bin/python3 "$VM_WORK/fakegame"

start_scheduler "$log" --watch-events frame --game-comm fakegame --stats 1
wait_attached "$SCHED_PID"
grep -q 'class hooks on:.*send_vblank_event' "$log" || fail "the presentation hook is not on"

echo 0 >$T/tracing_on
# The tracepoints' vblank times are CLOCK_MONOTONIC: so is the trace clock.
echo mono >$T/trace_clock
echo 8192 >$T/buffer_size_kb
for e in drm/drm_vblank_event drm/drm_vblank_event_delivered dma_fence/dma_fence_init; do
	echo 1 >$T/events/$e/enable
done

for n in 1 2; do
	note "game every $n vblank(s) through the compositor"
	echo >$T/trace
	echo 1 >$T/tracing_on
	from=$(wc -l <"$log")
	python3 "$helpers/drm_commit.py" 360 >comp.out &
	comp=$!
	sleep 1
	"$VM_WORK/fakegame" "$helpers/vblank_game.py" "$n" $((200 / n)) >game.out ||
		{ cat game.out; fail "the game failed"; }
	wait "$comp" || { cat comp.out; fail "the compositor failed"; }
	echo 0 >$T/tracing_on
	sleep 1
	game=$(sed -n 's/^pid=//p' game.out)
	comp=$(sed -n 's/^pid=//p' comp.out)
	[ -n "$game" ] && [ -n "$comp" ] || fail "no pids: $(cat game.out comp.out)"

	# The compositor's presentations (crtc seq vblank-ns) and the game's
	# submits (ns), from the tracepoints.
	grep -v 'drm_vblank_event_delivered: file=0000000000000000,' $T/trace |
		sed -n 's/.*drm_vblank_event_delivered: .*crtc=\([0-9]*\), seq=\([0-9]*\).*/\1:\2/p' | sort -u >delivered
	sed -n 's/.*drm_vblank_event: crtc=\([0-9]*\), seq=\([0-9]*\), time=\([0-9]*\).*/\1:\2 \3/p' $T/trace |
		sort -u -k1,1 >vblanks
	join delivered vblanks | tr ':' ' ' | sort -k3,3n >presents
	awk -v p="$game" '$1 ~ "-" p "$" && / dma_fence_init: / {
		for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) { sub(":", "", $i); printf "%.0f\n", $i * 1e9; break } }' \
		$T/trace >submits
	# The rule on the kernel's data: a presentation carries a new game frame
	# when a submit falls after the previous presentation's vblank and up
	# to its own; the game frame time is between two such presentations.
	awk 'NR == FNR { s[++ns] = $1; next }
		{ if (prev != "") { while (j < ns && s[j + 1] <= prev) j++
			if (j < ns && s[j + 1] <= $3) { if (last != "") print $2, $3 - last; last = $3 } }
		  prev = $3 }' submits presents | sort >expected
	tail -n +"$((from + 1))" "$log" |
		sed -n "s/.* frame crtc=[0-9]* seq=\([0-9]*\) present-ns=[0-9]* tgid=$comp .* game-frame-of=$game game-frame-interval=\([0-9.]*\)us.*/\1 \2/p" |
		awk '$2 > 0 { printf "%s %.0f\n", $1, $2 * 1000 }' | sort >ours
	cp presents submits expected ours "$VM_OUT/" 2>/dev/null || true
	e=$(wc -l <expected)
	o=$(wc -l <ours)
	same=$(join expected ours | awk '{ d = $2 - $3; if (d < 0) d = -d; if (d < 1000) k++ } END { print k + 0 }')
	# The display's vblank period, from the first and last vblank traced.
	vb=$(tr ':' ' ' <vblanks | sort -k2,2n | awk 'NR == 1 { s = $2; t = $3 } END { printf "%.0f\n", ($3 - t) / ($2 - s) }')
	p50=$(awk '{ print $2 }' ours | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] + 0 }')
	echo "N=$n: $(wc -l <presents) presentations, $(wc -l <submits) game submits; game frames: rule $e, scx_gamer $o, same $same; vblank period ${vb} ns, game frame p50 ${p50} ns"
	[ "$e" -ge $((100 / n)) ] || fail "N=$n: only $e game frames by the tracepoints' rule"
	awk -v e="$e" -v o="$o" -v s="$same" 'BEGIN { exit !(s * 100 >= e * 95 && o * 100 <= e * 105) }' ||
		fail "N=$n: scx_gamer's game frames ($o, $same the same) differ from the tracepoints' $e by more than 5 %"
	awk -v p="$p50" -v v="$vb" -v n="$n" 'BEGIN { exit !(p >= 0.9 * n * v && p <= 1.1 * n * v) }' ||
		fail "N=$n: the game's median frame time $p50 ns is not $n vblank period(s) of $vb ns"
	if tail -n +"$((from + 1))" "$log" | grep -E " frame .* tgid=$game "; then
		fail "N=$n: the game, which presents nothing, got a presentation of its own"
	fi
	echo "ok: N=$n, the game's frames are every $n vblank(s), as the tracepoints say"
	# --stats: the window still holds the earlier run's frames, so only N=1.
	if [ "$n" = 1 ]; then
		sleep 1
		gf=$(tail -n +"$((from + 1))" "$log" | grep -E '^  game frames  [0-9]+ ' | tail -1 || true)
		echo "--stats:$gf"
		sp50=$(echo "$gf" | sed -n 's|.* p50/p99 \([0-9.]*\)/.*|\1|p')
		awk -v p="$sp50" -v v="$vb" 'BEGIN { exit !(p * 1e6 >= 0.9 * v && p * 1e6 <= 1.1 * v) }' ||
			fail "--stats shows a game frame p50 of '$sp50' ms, not one vblank ($vb ns)"
		echo "ok: --stats shows the composited game's frame times"
	fi
done

stop_scheduler "$log"
for e in drm/drm_vblank_event drm/drm_vblank_event_delivered dma_fence/dma_fence_init; do
	echo 0 >$T/events/$e/enable
done
echo local >$T/trace_clock
assert_clean_kernel_log
echo "PASS composited"
