#!/usr/bin/env bash
# vm-qemu-opts: -device virtio-gpu-pci,xres=320,yres=240
# `--monitor --frame-log`: kmscube draws 40 frames through Mesa (softpipe, as
# in present.sh) onto virtio-gpu while two monitors log them, every frame
# (`--frame-log-frames all`) and the game's (`game`, kmscube named the game).
#  - each file is MangoHud's layout: its system-info pair, its 16 frame
#    columns, the 13 columns scx_gamer has no sensor for at 0;
#  - the rows are the frames the kernel delivered (drm_vblank_event_delivered),
#    within 1 %, less the first (it has no frame time), and each frame time
#    is the difference of the kernel's drm_vblank_event timestamps of two
#    consecutive deliveries, to the ns;
#  - `elapsed` steps by exactly the frame times, and the monitor says no
#    frame was lost;
#  - scripts/plot-frames.py draws the log.
. "$(dirname "$0")/lib.sh"
dmesg -C
log="$VM_WORK"/sched.log
T=/sys/kernel/tracing
cd "$VM_WORK"

command -v kmscube >/dev/null || fail "kmscube is not installed (scripts/setup-vm.sh installs it)"
load_virtio_gpu
mountpoint -q $T || mount -t tracefs none $T

start_scheduler "$log" --game-comm kmscube
wait_attached "$SCHED_PID"

"$SCX_GAMER" --monitor 1 --frame-log all.csv >mon-all.out 2>mon-all.err &
mon_all=$!
"$SCX_GAMER" --monitor 1 --frame-log game.csv --frame-log-frames game >mon-game.out 2>mon-game.err &
mon_game=$!
for _ in $(seq 1 40); do
	[ -s all.csv ] && [ -s game.csv ] && break
	sleep 0.25
done
[ -s all.csv ] && [ -s game.csv ] || { cat mon-*.err; fail "the monitors wrote no frame log header"; }

echo 0 >$T/tracing_on
echo >$T/trace
echo 1 >$T/events/drm/drm_vblank_event_delivered/enable
echo 1 >$T/events/drm/drm_vblank_event/enable
echo 1 >$T/tracing_on

note "kmscube: 40 frames"
mkfifo stdin && exec 9<>stdin
GALLIUM_DRIVER=softpipe MESA_SHADER_CACHE_DISABLE=true \
	kmscube -D /dev/dri/card0 -c 40 <&9 >kmscube.out 2>&1 || { cat kmscube.out; fail "kmscube failed"; }
echo 0 >$T/tracing_on
# The monitors read every 250 ms.
sleep 1.5
kill -TERM "$mon_all" "$mon_game"
wait "$mon_all" "$mon_game" 2>/dev/null || true
stop_scheduler "$log"
echo 0 >$T/events/drm/drm_vblank_event_delivered/enable
echo 0 >$T/events/drm/drm_vblank_event/enable
cp all.csv game.csv mon-*.err $T/trace "$VM_OUT"/ 2>/dev/null || true
head -5 all.csv

# The kernel's deliveries to a process (file != 0), with their vblank times.
grep -v 'drm_vblank_event_delivered: file=0000000000000000,' $T/trace |
	sed -n 's/.*drm_vblank_event_delivered: .*crtc=\([0-9]*\), seq=\([0-9]*\).*/\1 \2/p' | sort -u >delivered
sed -n 's/.*drm_vblank_event: crtc=\([0-9]*\), seq=\([0-9]*\), time=\([0-9]*\).*/\1 \2 \3/p' $T/trace | sort -u >vblank

/usr/bin/python3 - <<'PY' || fail "the frame logs do not match the kernel (above)"
import sys
delivered = [tuple(map(int, l.split())) for l in open("delivered")]
times = {(c, s): t for c, s, t in (map(int, l.split()) for l in open("vblank"))}
per_crtc = {}
for c, s in sorted(delivered):
    if (c, s) in times:
        per_crtc.setdefault(c, []).append(times[(c, s)])
kernel_ns = sorted(b - a for ts in per_crtc.values() for a, b in zip(ts, ts[1:]))
k = len(delivered)
print(f"kernel: {k} deliveries, {len(kernel_ns)} frame times from vblank timestamps")
ok = k >= 36
if not ok:
    print(f"FAIL: the tracepoint saw only {k} deliveries for 40 frames")

COLS = ("fps,frametime,cpu_load,cpu_power,gpu_load,cpu_temp,gpu_temp,gpu_core_clock,gpu_mem_clock,"
        "gpu_vram_used,gpu_power,ram_used,swap_used,process_rss,cpu_mhz,elapsed")
logged = {}
for name in ("all.csv", "game.csv"):
    lines = open(name).read().splitlines()
    checks = {
        "system-info header": lines[0] == "os,cpu,gpu,ram,kernel,driver,cpuscheduler",
        "system-info values": len(lines[1].split(",")) == 7 and lines[1].split(",")[4] != "",
        "frame columns": lines[2] == COLS,
    }
    rows = [l.split(",") for l in lines[3:]]
    checks["16 columns per row"] = all(len(r) == 16 for r in rows)
    checks["the columns without a sensor are 0"] = all(all(c == "0" for c in r[2:15]) for r in rows)
    ft_ns = [round(float(r[1]) * 1e6) for r in rows]
    el = [int(r[15]) for r in rows]
    checks["elapsed steps by the frame times"] = all(b - a == f for a, b, f in zip(el, el[1:], ft_ns[1:]))
    checks["fps is 1000 / frametime"] = all(abs(float(r[0]) - 1000 / float(r[1])) < 0.001 for r in rows)
    n = len(rows)
    checks[f"rows ({n}) = deliveries - 1 ({k - 1}) within 1 %"] = abs(n - (k - 1)) * 100 <= (k - 1)
    checks["frame times = the kernel's, to the ns"] = sorted(ft_ns) == kernel_ns
    for c, good in checks.items():
        print(("ok: " if good else "FAIL: ") + f"{name}: {c}")
        ok = ok and good
    logged[name] = ft_ns
same = logged["all.csv"] == logged["game.csv"]
print(("ok: " if same else "FAIL: ") + "kmscube, the only game, has the display's frame times")
sys.exit(0 if ok and same else 1)
PY

for f in mon-all.err mon-game.err; do
	grep -E 'frame log .*: [0-9]+ frames written, 0 lost' "$f" || { cat "$f"; fail "$f: no summary saying no frame was lost"; }
done

/usr/bin/python3 "$SCX_GAMER_SRC"/scripts/plot-frames.py all.csv -o all.svg || fail "plot-frames.py failed"
grep -q '<polyline points=' all.svg || fail "the plot has no frame-time line"
cp all.svg "$VM_OUT"/ 2>/dev/null || true
echo "ok: plot-frames.py drew the log"
assert_clean_kernel_log
echo "PASS frame_log"
