#!/usr/bin/env bash
# Only the user of seat0's active session gets game and audio detection.
# The VM has no logind, so its seat file is written where logind keeps it
# (/run/systemd/seats/seat0, in the guest's own /run), the way logind does
# (set_seat0 in lib.sh).
#  - uid 1000 is active: its Proton-style launch is a game; uid 1001's same
#    launch is not, and the PipeWire socket 1001 binds and listens on gets
#    no audio server;
#  - the seat switches to 1001: 1000's game ends, 1001's running game and
#    server are found at once, 1001's next launch is a game from its exec,
#    and 1000's next launch is not.
. "$(dirname "$0")/lib.sh"
log="$VM_WORK"/sched.log
detect_setup 1000 1001
make_fake_launch "$VM_WORK/launch1000"
make_fake_launch "$VM_WORK/launch1001"
set_seat0 c1 1000

start_scheduler "$log" --log-classes
wait_attached "$SCHED_PID"
grep -q "game and audio detection for uid 1000, the seat's active user" "$log" ||
	fail "the seat's user was not said at start"

note "uid 1000 (active) and uid 1001 launch the same game"
fake_proton_launch 1000 "$VM_WORK/launch1000" out/a.pid "sleep 20; true" &
fake_proton_launch 1001 "$VM_WORK/launch1001" out/b.pid "sleep 20; true" &
note "uid 1001 binds its own pipewire-0"
setpriv --reuid=1001 --regid=1001 --clear-groups /usr/bin/python3 -c '
import os, socket, time
s = socket.socket(socket.AF_UNIX)
s.bind("/run/user/1001/pipewire-0")
s.listen()
print(os.getpid(), flush=True)
time.sleep(20)
' >pw.out &
for _ in $(seq 1 100); do
	[ -s out/a.pid ] && [ -s out/b.pid ] && [ -s pw.out ] && break
	sleep 0.1
done
a=$(cat out/a.pid 2>/dev/null || true)
b=$(cat out/b.pid 2>/dev/null || true)
pw=$(head -1 pw.out)
[ -n "$a" ] && [ -n "$b" ] && [ -n "$pw" ] || fail "the launches ($a, $b) or the server ($pw) did not start"
# Detection takes milliseconds; TCG under load, longer.
sleep 2
grep -qE "game detected: tgid $a \(Game.exe\)" "$log" || fail "the active user's game $a was not detected"
echo "ok: the active user's game $a is a game"
if grep -E "game detected: tgid $b |audio server up: tgid $pw " "$log"; then
	fail "uid 1001, not active, got a game or an audio server"
fi
echo "ok: uid 1001's game $b and server $pw got nothing"

note "the seat switches to uid 1001"
set_seat0 c2 1001
for _ in $(seq 1 40); do
	grep -qE "audio server up: tgid $pw " "$log" && grep -qE "game detected: tgid $b " "$log" && break
	sleep 0.25
done
grep -q "seat changed: game and audio detection for uid 1001" "$log" || fail "the seat change was not seen"
grep -qE "game ended: tgid $a\b" "$log" || fail "uid 1000's game $a kept its class after the switch"
grep -qE "game detected: tgid $b \(Game.exe\)" "$log" || fail "uid 1001's running game $b was not found after the switch"
grep -qE "audio server up: tgid $pw \(pipewire\) on /run/user/1001/pipewire-0" "$log" ||
	fail "uid 1001's server $pw was not found after the switch"
echo "ok: after the switch, $a ended, $b is a game and $pw an audio server"

note "new launches after the switch"
fake_proton_launch 1001 "$VM_WORK/launch1001" out/c.pid "sleep 1; true"
fake_proton_launch 1000 "$VM_WORK/launch1000" out/d.pid "sleep 1; true"
c=$(cat out/c.pid)
d=$(cat out/d.pid)
sleep 1
stop_scheduler "$log"
grep -E 'game (detected|ended)|audio server|seat' "$log" || true
grep -qE "game detected: tgid $c \(Game.exe\) score [0-9]+, [0-9.]+ ms after its exec" "$log" ||
	fail "uid 1001's new launch $c was not detected from its exec"
echo "ok: uid 1001's new launch $c is a game, from its exec"
if grep -E "game detected: tgid $d " "$log"; then
	fail "uid 1000, no longer active, got a game"
fi
echo "ok: uid 1000's new launch $d is not a game"
kill "$pw" 2>/dev/null || true
game_pids=$(cat out/a.pid out/b.pid 2>/dev/null || true)
for p in $game_pids; do kill "$p" 2>/dev/null || true; done
assert_clean_kernel_log
echo "PASS detect_seat"
