#!/usr/bin/env bash
# Launch detection from BPF exec/exit events and inotify, by exact process:
#  - a fake Proton-style launch by a logged-in user (uid 1000 with its
#    /run/user/1000): a renamed bash `reaper` with Steam's environment starts
#    `Game.exe` from a Steam library folder; the game is detected within
#    50 ms of its exec, its threads are classed game, and its exit clears it;
#  - the same launch by a system account (uid 999, no runtime dir) is not a
#    game (without logind's /run/systemd/seats, removed here from the VM's
#    own /run, the fallback rule applies: every user with a runtime dir of
#    their own; it is said once);
#  - a fake PipeWire: a process of uid 1000 listening on
#    /run/user/1000/pipewire-0 is registered as an audio server within
#    50 ms of the socket accepting connections, is classed audio, and is removed when
#    its socket goes.
. "$(dirname "$0")/lib.sh"
log="$VM_WORK"/sched.log
rm -rf /run/systemd/seats
detect_setup 1000

make_fake_launch "$VM_WORK/user"
make_fake_launch "$VM_WORK/system"

start_scheduler "$log" --log-classes
wait_attached "$SCHED_PID"

note "a game launched by a logged-in user"
fake_proton_launch 1000 "$VM_WORK/user" "$VM_WORK/out/game.pid" "sleep 1; sleep 1; true"
game=$(cat out/game.pid)

note "the same launch by a system account"
fake_proton_launch 999 "$VM_WORK/system" "$VM_WORK/out/sysgame.pid" "sleep 1; true"
sysgame=$(cat out/sysgame.pid)

note "a PipeWire socket owner"
setpriv --reuid=1000 --regid=1000 --clear-groups /usr/bin/python3 -c '
import os, socket, time
path = "/run/user/1000/pipewire-0"
s = socket.socket(socket.AF_UNIX)
s.bind(path)
bound = time.monotonic()
s.listen()
print(f"bound={bound:.6f}", flush=True)
print(f"listening={time.monotonic():.6f}", flush=True)
for _ in range(20):
    time.sleep(0.1)
os.unlink(path)
print(f"unlinked={time.monotonic():.6f}", flush=True)
time.sleep(1)
print(f"pid={os.getpid()}", flush=True)
' >pw.out
cat pw.out
pw=$(sed -n 's/^pid=//p' pw.out)
bound=$(sed -n 's/^bound=//p' pw.out)
listening=$(sed -n 's/^listening=//p' pw.out)

sleep 1
stop_scheduler "$log"
grep -E 'game (detected|ended)|audio server' "$log" || true

line=$(grep -E "game detected: tgid $game \(Game.exe\) score [0-9]+, [0-9.]+ ms after its exec" "$log") ||
	fail "the game $game was not detected"
ms=$(sed -n 's/.*, \([0-9.]*\) ms after its exec.*/\1/p' <<<"$line")
awk -v m="$ms" 'BEGIN { exit !(m < 50) }' || fail "detected $ms ms after the exec, bound 50 ms"
echo "ok: game $game detected $ms ms after its exec"
grep -qE "class game: tid $game \(.*\) tgid $game via game-tgid" "$log" || fail "game $game was not classed game"
echo "ok: game $game classed game"
grep -qE "game ended: tgid $game\b" "$log" || fail "the game's exit was not seen"
echo "ok: game $game cleared on exit"
if grep -E "game detected: tgid $sysgame " "$log"; then
	fail "the system account's launch $sysgame was taken for a game"
fi
echo "ok: the system account's launch $sysgame is not a game"

line=$(grep -E "audio server up: tgid $pw \(pipewire\) on /run/user/1000/pipewire-0, at [0-9.]+" "$log") ||
	fail "the PipeWire socket owner $pw was not registered"
at=$(sed -n 's/.*, at \([0-9.]*\)$/\1/p' <<<"$line")
# A socket appears at bind() but names its server only once it listens:
# the bound runs from then. Under TCG everything is many times slower than
# on hardware, the time from bind is printed for the record.
ms=$(awk -v a="$at" -v b="$listening" 'BEGIN { printf "%.1f", (a - b) * 1000 }')
from_bind=$(awk -v a="$at" -v b="$bound" 'BEGIN { printf "%.1f", (a - b) * 1000 }')
awk -v m="$ms" 'BEGIN { exit !(m < 50) }' || fail "registered $ms ms after the socket listened, bound 50 ms"
echo "ok: audio server $pw registered $ms ms after its socket listened ($from_bind ms after it appeared)"
grep -qE "class audio: tid $pw \(python3\) tgid $pw via audio-server" "$log" || fail "audio server $pw was not classed audio"
echo "ok: audio server $pw classed audio"
grep -qE "audio server gone: tgid $pw\b" "$log" || fail "the audio server's removal was not seen"
echo "ok: audio server $pw removed when its socket went"

[ "$(grep -c 'no logind seats at /run/systemd/seats' "$log")" -eq 1 ] ||
	fail "the fallback without logind was not said once"
echo "ok: without logind, every user with a runtime dir is eligible, said once"

assert_clean_kernel_log
echo "PASS detect"
