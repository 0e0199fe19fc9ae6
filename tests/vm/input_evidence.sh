#!/usr/bin/env bash
# Input evidence means a person's input reaching the game, by exact id:
#  - hidraw: a reader of a uhid gamepad's /dev/hidrawN is input (via
#    hidraw-read); readers of a UPS and of a vendor-defined device, which
#    return as much data, are not;
#  - the game's input boost: a root daemon reading a streaming uinput
#    sensor is input itself but leaves the input-tier dispatch counter at 0
#    while the game runs; the game's own reader of that sensor moves it.
. "$(dirname "$0")/lib.sh"
dmesg -C
helpers=$(dirname "$0")/helpers
log="$VM_WORK"/sched.log
cd "$VM_WORK"

# The hooks attach to the modules present when the scheduler starts.
modprobe evdev && modprobe uinput && modprobe uhid && modprobe hid-generic ||
	fail "modprobe failed"

note "devices: uhid gamepad, UPS and vendor-defined; a uinput sensor"
pids=()
for kind in gamepad ups vendor; do
	/usr/bin/python3 "$helpers/uhid_device.py" "$kind" >"$kind.dev" &
	pids+=($!)
done
/usr/bin/python3 "$helpers/input_stream.py" source >sensor.dev &
pids+=($!)
node_of() {
	local i
	for i in $(seq 1 100); do
		grep -q "^$2=" "$1" && { sed -n "s/^$2=//p" "$1"; return 0; }
		sleep 0.1
	done
	fail "no $2 in $1"
}
for kind in gamepad ups vendor; do
	eval "${kind}_node=$(node_of "$kind.dev" hidraw)"
done
sensor=$(node_of sensor.dev node)
echo "gamepad=$gamepad_node ups=$ups_node vendor=$vendor_node sensor=$sensor"

# The game: a frame loop from the start; it reads the sensor itself only
# once the trigger file appears.
/usr/bin/python3 "$helpers/input_stream.py" game "$sensor" trigger 3 >game.out &
game_pid=$!

start_scheduler "$log" --log-classes --game-pid "$game_pid"
wait_attached "$SCHED_PID"
grep -q 'class hooks on:.*hidraw_read' "$log" || fail "the hidraw hook is not on"

note "hidraw readers, 2 s each, all at once"
for kind in gamepad ups vendor; do
	node_var=${kind}_node
	/usr/bin/python3 "$helpers/input_stream.py" read "${!node_var}" 2 >"$kind.read" &
	pids+=($!)
done
wait "${pids[@]: -3}" || fail "a hidraw reader failed"
for kind in gamepad ups vendor; do
	reads=$(sed -n 's/^reads=//p' "$kind.read")
	echo "$kind reader: tid $(sed -n 's/^tid=//p' "$kind.read"), $reads reads"
	[ "${reads:-0}" -ge 20 ] || fail "the $kind reader read almost nothing; the test would prove nothing"
done

note "a root daemon reads the streaming sensor for 3 s while the game runs"
/usr/bin/python3 "$helpers/input_stream.py" read "$sensor" 3 >daemon.read || fail "the daemon reader failed"
daemon=$(sed -n 's/^tid=//p' daemon.read)
[ "$(sed -n 's/^reads=//p' daemon.read)" -ge 20 ] || fail "the daemon read almost nothing"
tier_now() {
	timeout 5 "$SCX_GAMER" --monitor 1 --json 2>/dev/null | head -1 |
		/usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["dispatches"]["input-tier"]["count"])'
}
before=$(tier_now) || fail "could not read the stats through --monitor"
echo "input-tier dispatches after the daemon's reads: $before"

note "the game reads the sensor for 3 s"
touch trigger
wait "$game_pid" || fail "the game's reader failed"
gamer=$(sed -n 's/^tid=//p' game.out)
[ "$(sed -n 's/^reads=//p' game.out)" -ge 20 ] || fail "the game read almost nothing"
after=$(tier_now) || fail "could not read the stats through --monitor"
echo "input-tier dispatches after the game's reads: $after"

stop_scheduler "$log"
kill "${pids[@]}" 2>/dev/null || true
exit_totals "$log"

has_class() { grep -qE "class $1: tid $2 \(.*\) tgid [0-9]+ via $3" "$log"; }
tid_of() { sed -n 's/^tid=//p' "$1.read"; }
has_class input "$(tid_of gamepad)" hidraw-read || fail "the gamepad's hidraw reader is not input"
echo "ok: the gamepad's hidraw reader ($(tid_of gamepad)) is input"
for kind in ups vendor; do
	if grep -E "class [a-z-]+: tid $(tid_of $kind) " "$log"; then
		fail "the $kind device's hidraw reader ($(tid_of $kind)) was classified"
	fi
	echo "ok: the $kind device's hidraw reader ($(tid_of $kind)) has no class"
done
has_class input "$daemon" evdev-read || fail "the daemon's sensor reads were not seen (no input class)"
echo "ok: the daemon's reads were seen ($daemon is input)"
[ "$before" = 0 ] || fail "the daemon's input gave the game $before input-tier dispatches"
echo "ok: the daemon's input left the game's input boost off"
has_class input "$gamer" evdev-read || fail "the game's sensor reader is not input"
[ "$after" -gt 0 ] || fail "the game's own input gave no input-tier dispatch"
echo "ok: the game's own input ($gamer) raised the boost: $after input-tier dispatches"

assert_clean_kernel_log
echo "PASS input_evidence"
