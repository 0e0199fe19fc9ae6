#!/usr/bin/env bash
# vm-qemu-opts: -device virtio-gpu-pci
# Upstream's scxtop 1.1.4 (bench/setup-peers.sh --tools) reads scx_gamer's
# stats socket (/var/run/scx/root/stats), with real frames on virtio-gpu
# behind the figures, through its MCP server (`scxtop mcp`, JSON-RPC on
# stdin, no BPF of its own in one-shot mode): its stats://scheduler/raw
# resource returns scx_gamer's snapshot and stats_meta, tagged as
# scx_gamer's. Not part of scripts/test.sh (scxtop is a 400-crate build);
# run it with scripts/vm-run.sh --qemu-opts "-device virtio-gpu-pci" --
# bash "$PWD/tests/tools/scxtop.sh" (docs/stats.md).
. "$(dirname "$0")/../vm/lib.sh"
dmesg -C
helpers=$(dirname "$0")/../vm/helpers
log="$VM_WORK"/sched.log
cd "$VM_WORK"
cache=${SCX_GAMER_CACHE:-$HOME/.cache/scx_gamer}
scxtop=${SCXTOP:-$cache/tools/scxtop-1.1.4/bin/scxtop}
[ -x "$scxtop" ] || fail "no $scxtop: build it with bench/setup-peers.sh --tools"

load_virtio_gpu
start_scheduler "$log"
wait_attached "$SCHED_PID"
/usr/bin/python3 "$helpers/drm_commit.py" 100000 >commit.out &
commit=$!
sleep 3

note "scxtop mcp: stats://scheduler/raw"
printf '%s\n' \
	'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"scx_gamer-test","version":"1"}}}' \
	'{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"stats://scheduler/raw"}}' |
	timeout 60 "$scxtop" mcp >mcp.out 2>mcp.err || { cat mcp.err; fail "scxtop mcp failed"; }
head -c 600 mcp.out; echo
/usr/bin/python3 - <<'PY' || { cat mcp.err; fail "scxtop did not read scx_gamer's socket (above)"; }
import json, sys
replies = {r.get("id"): r for r in map(json.loads, open("mcp.out").read().splitlines())}
res = replies[2]["result"]
# MCP wraps a resource's content as text.
raw = json.loads(res["contents"][0]["text"])
stats, meta = raw["stats"], raw["stats_meta"]
top = [m for m in meta.values() if isinstance(m, dict) and m.get("top") is not None]
checks = {
    "no error from the socket": "error" not in stats and "error" not in meta,
    "the snapshot's uptime": stats.get("uptime_ms", 0) > 0,
    "frames presented": stats.get("frames", 0) > 0,
    "per-class rows": "game" in stats.get("classes", {}),
    "stats_meta tags the top struct as scx_gamer's": bool(top) and top[0].get("user", {}).get("_scheduler") == "scx_gamer",
}
for name, ok in checks.items():
    print(("ok: " if ok else "FAIL: ") + name)
sys.exit(0 if all(checks.values()) else 1)
PY

kill "$commit" 2>/dev/null
wait "$commit" 2>/dev/null || true
stop_scheduler "$log"
assert_clean_kernel_log
echo "PASS scxtop"
