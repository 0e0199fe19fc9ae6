#!/usr/bin/env bash
# vm-qemu-opts: -device virtio-gpu-pci
# The scx_stats client tooling reads scx_gamer's stats socket
# (/var/run/scx/root/stats), with real frames on virtio-gpu behind the
# figures: scxstats_to_openmetrics.py, the script the scx_stats 1.1.4 crate
# ships (the release scx_gamer links), turns the snapshot into OpenMetrics
# gauges under scx_gamer's names and labels, the frame count non-zero; the
# lists of game and audio-server processes it skips, saying so.
. "$(dirname "$0")/lib.sh"
dmesg -C
helpers=$(dirname "$0")/helpers
log="$VM_WORK"/sched.log
cd "$VM_WORK"
om=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/scx_stats-1.1.4/scripts/scxstats_to_openmetrics.py 2>/dev/null | head -1)
[ -n "$om" ] || fail "scx_stats 1.1.4's scxstats_to_openmetrics.py is not in the cargo registry (cargo fetch)"
/usr/bin/python3 -c 'import prometheus_client' || fail "python3-prometheus-client is missing (scripts/setup-vm.sh installs it)"

load_virtio_gpu
start_scheduler "$log"
wait_attached "$SCHED_PID"
/usr/bin/python3 "$helpers/drm_commit.py" 100000 >commit.out &
commit=$!
sleep 3

note "scxstats_to_openmetrics.py ($om)"
# It polls forever: stopped once it has written a full export (python and
# prometheus_client take a while to start under TCG).
/usr/bin/python3 "$om" -i 1 >om.txt 2>om.err &
exporter=$!
for _ in $(seq 1 120); do
	grep -q '^scx_gamer_uptime_ms ' om.txt 2>/dev/null && break
	kill -0 "$exporter" 2>/dev/null || break
	sleep 0.5
done
sleep 1
kill "$exporter" 2>/dev/null
wait "$exporter" 2>/dev/null || true
head -20 om.txt
/usr/bin/python3 - <<'PY' || { cat om.err; fail "the OpenMetrics export lacks scx_gamer's metrics (above)"; }
import re, sys
text = open("om.txt").read()
def value(pattern):
    m = re.search(r"^" + pattern + r" ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else None
checks = {
    "scx_gamer_uptime_ms > 0": (value(r"scx_gamer_uptime_ms") or 0) > 0,
    "scx_gamer_frames > 0 (virtio-gpu commits)": (value(r"scx_gamer_frames") or 0) > 0,
    # Rows keyed by name are gauges of their own struct (no prefix), labelled.
    "a per-class gauge labelled class=\"game\"": re.search(r'^class_threads\{class="game"\} ', text, re.M) is not None,
    "a per-ring gauge labelled ring=\"frame\"": re.search(r'^ring_events\{ring="frame"\} ', text, re.M) is not None,
}
for name, ok in checks.items():
    print(("ok: " if ok else "FAIL: ") + name)
sys.exit(0 if all(checks.values()) else 1)
PY

# What it cannot read, in its own words: lists of structs (the game and
# audio-server processes) have no OpenMetrics form in this script.
grep -F '[INFO] field ".games" has unsupported type, skipping' om.err ||
	fail "the exporter's skip of .games changed (docs/stats.md quotes it)"
kill "$commit" 2>/dev/null
wait "$commit" 2>/dev/null || true
stop_scheduler "$log"
assert_clean_kernel_log
echo "PASS scx_stats_client"
