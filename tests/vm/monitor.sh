#!/usr/bin/env bash
# vm-qemu-opts: -device virtio-gpu-pci
# The live stats of a running instance, read from outside while a workload
# runs: `scx_gamer --monitor 1 --json` attaches through the stats socket
# without loading anything, and the debug API answers on loopback. Both must
# show real, non-zero figures: frames from atomic commits on virtio-gpu,
# input threads from a uinput keyboard, dispatches, ring events.
. "$(dirname "$0")/lib.sh"
dmesg -C
helpers=$(dirname "$0")/helpers
log="$VM_WORK"/sched.log
cd "$VM_WORK"

modprobe evdev && modprobe uinput || fail "modprobe evdev uinput failed"
load_virtio_gpu

start_scheduler "$log" --stats 2 --debug-api 9123
wait_attached "$SCHED_PID"

note "a workload: frames on the display and keys typed"
# The frames keep coming while the monitor reads: the frame figures cover
# only the last seconds.
/usr/bin/python3 "$helpers/drm_commit.py" 100000 >commit.out &
commit=$!
/usr/bin/python3 "$helpers/input_chain.py" 4 >input.out || fail "input helper failed"
sleep 2.5

note "--monitor --json from another process"
timeout 6 "$SCX_GAMER" --monitor 1 --json >monitor.json 2>monitor.err || true
head -c 600 monitor.json; echo
[ -s monitor.json ] || { cat monitor.err; fail "--monitor printed nothing"; }
tail -1 monitor.json | /usr/bin/python3 -c '
import json, sys
m = json.load(sys.stdin)
checks = {
    "frames in the window": m["frames"] > 0,
    "frame p50 > 0": m["frame_p50_us"] > 0,
    "input threads": m["classes"]["input"]["threads"] > 0,
    "compositor threads": m["classes"]["compositor"]["threads"] > 0,
    "shared dispatches": m["dispatches"]["shared"]["count"] > 0,
    "input ring events": m["rings"]["input"]["events"] > 0,
    "frame ring events": m["rings"]["frame"]["events"] > 0,
    # The class stream (the first class of each thread) is a ring like the rest.
    "class ring events": m.get("rings", {}).get("class", {}).get("events", 0) > 0,
    "a drop count per input ring": len(m["input_ring_drops"]) == 16,
    "stats channel sent": m["channels"]["stats"]["sent"] > 0,
}
for name, ok in checks.items():
    print(("ok: " if ok else "FAIL: ") + name)
sys.exit(0 if all(checks.values()) else 1)
' || fail "--monitor showed zeros (above)"

note "the debug API"
/usr/bin/python3 - <<'PY' || fail "the debug API check failed"
import json, urllib.request
health = urllib.request.urlopen("http://127.0.0.1:9123/health", timeout=5)
assert health.status == 200, health.status
m = json.load(urllib.request.urlopen("http://127.0.0.1:9123/metrics", timeout=5))
# The frame figures cover the last 10 s; the totals cover the whole run.
assert m["rings"]["frame"]["events"] > 0, m["rings"]
assert m["dispatches"]["shared"]["count"] > 0, m["dispatches"]
print("ok: /health 200, /metrics frame events", m["rings"]["frame"]["events"])
PY

kill "$commit" 2>/dev/null
wait "$commit" 2>/dev/null || true
stop_scheduler "$log"
grep -qE '^scx_gamer up ' "$log" || fail "--stats printed no block"
grep -qE '^  frames   [1-9][0-9]* in [0-9]+s  avg [0-9.]+ fps' "$log" || fail "no --stats block showed frames"
echo "ok: --stats printed its block, with frames"
assert_clean_kernel_log
echo "PASS monitor"
