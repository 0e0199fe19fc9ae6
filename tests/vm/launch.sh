#!/usr/bin/env bash
# `scx_gamer run -- COMMAND`, the launch wrapper of Steam's launch options:
#  - a native game started through it by uid 1000, the user of seat0's
#    active session, is marked the game before it execs (strace: the
#    scheduler's "ok" is read before the execve), gets the game class, and
#    the wrapper's exit code is the game's;
#  - uid 1001, logged in (a runtime dir of its own, as an SSH session has)
#    but not at the seat, is refused with one line saying why; its game
#    runs unmarked with its own exit code, and nothing of it or of anyone
#    else is marked; once the seat switches to uid 1001, its wrapper marks
#    its own process and no other;
#  - a caller that is gone by the time it is served is refused;
#  - with no scheduler running, COMMAND still runs, with one line saying so.
. "$(dirname "$0")/lib.sh"
detect_setup 1000 1001
set_seat0 c1 1000
log=$VM_WORK/sched.log
sock=/run/scx_gamer/launch
as_user() { local uid=$1; shift; setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"; }

# The game: a plain native program that burns a little CPU and exits 7.
cat >game.sh <<'GAME'
#!/bin/sh
i=0
while [ $i -lt 2000 ]; do i=$((i + 1)); done
exit 7
GAME
chmod 755 game.sh

start_scheduler "$log" --log-classes
wait_attached "$SCHED_PID"
[ -S "$sock" ] || fail "no launch socket at $sock"
[ "$(stat -c %a "$sock")" = 666 ] || fail "the launch socket is mode $(stat -c %a "$sock"), not 666"

note "a native game through the wrapper, as uid 1000"
# Someone else's process, running all along: it must never be marked.
as_user 1001 sleep 60 &
bystander=$!
rc=0
strace -f -ttt -e trace=connect,recvfrom,execve -o trace.txt \
	setpriv --reuid=1000 --regid=1000 --clear-groups "$SCX_GAMER" run -- "$VM_WORK"/game.sh || rc=$?
[ "$rc" -eq 7 ] || { cat trace.txt; fail "the wrapper exited with $rc, not the game's 7"; }
game=$(awk '/execve\("[^"]*game.sh"/ {print $1; exit}' trace.txt)
[ -n "$game" ] || { cat trace.txt; fail "strace saw no execve of the game"; }
ok_at=$(awk -v p="$game" '$1 == p && /recvfrom\(.*"ok/ {print $2; exit}' trace.txt)
exec_at=$(awk -v p="$game" '$1 == p && /execve\("[^"]*game.sh"/ {print $2; exit}' trace.txt)
conn_at=$(awk -v p="$game" '$1 == p && /connect\(.*scx_gamer\/launch/ {print $2; exit}' trace.txt)
[ -n "$ok_at" ] && [ -n "$conn_at" ] || { cat trace.txt; fail "the wrapper (pid $game) read no ok from the scheduler"; }
awk -v a="$ok_at" -v b="$exec_at" 'BEGIN {exit !(a < b)}' || fail "the game was exec'd at $exec_at, before the mark at $ok_at"
echo "figure: connect to answer $(awk -v a="$conn_at" -v b="$ok_at" 'BEGIN {printf "%.1f", (b - a) * 1000}') ms, answer to exec $(awk -v a="$ok_at" -v b="$exec_at" 'BEGIN {printf "%.1f", (b - a) * 1000}') ms (strace, TCG)"
grep -q "game marked by scx_gamer run: tgid $game\$" "$log" || { cat "$log"; fail "the scheduler did not log the mark of tgid $game"; }
grep -qE "class game: tid [0-9]+ \(.*\) tgid $game via game-tgid" "$log" ||
	{ cat "$log"; fail "the wrapped game (tgid $game) never ran with the game class"; }

note "uid 1001, not at the seat, is refused; its game runs unmarked"
rc=0
as_user 1001 "$SCX_GAMER" run -- /bin/sh -c 'echo $$ >"$0"; exit 5' "$VM_WORK"/out/refused.pid 2>refused.err || rc=$?
[ "$rc" -eq 5 ] || { cat refused.err; fail "uid 1001's refused wrapper exited with $rc, not the game's 5"; }
refused=$(cat out/refused.pid)
cat refused.err
[ "$(wc -l <refused.err)" -eq 1 ] &&
	grep -q "^scx_gamer run: the scheduler refused: uid 1001 is not the seat's active user (uid 1000 is): only the user at the seat gets the game class; starting /bin/sh without the game class\$" refused.err ||
	fail "uid 1001's wrapper did not say in one line why it was refused"
grep -q "refused a mark: uid 1001 is not the seat's active user" "$log" || { cat "$log"; fail "the scheduler did not log the refusal"; }
if grep -qE "game marked by scx_gamer run: tgid $refused\$|tgid $refused via game-tgid" "$log"; then
	cat "$log"
	fail "uid 1001's process (tgid $refused) was marked while uid 1000 holds the seat"
fi

note "after a seat switch to uid 1001, its wrapper marks its own process, and no other"
set_seat0 c2 1001
rc=0
as_user 1001 "$SCX_GAMER" run -- /bin/sh -c 'echo $$ >"$0"' "$VM_WORK"/out/other.pid 2>other.err || rc=$?
[ "$rc" -eq 0 ] && [ ! -s other.err ] || { cat other.err; fail "uid 1001's wrapper at the seat exited with $rc"; }
other=$(cat out/other.pid)
grep -q "game marked by scx_gamer run: tgid $other\$" "$log" || fail "uid 1001's own process was not marked once it held the seat"
if grep -qE "tgid $bystander( |\$)" "$log"; then grep -E "tgid $bystander( |\$)" "$log"; fail "uid 1001's sleeper (tgid $bystander) was touched"; fi
kill "$bystander" 2>/dev/null || true

note "a caller gone before it is served is refused"
kill -STOP "$SCHED_PID"
/usr/bin/python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print(__import__("os").getpid())' "$sock" >gone.pid
kill -CONT "$SCHED_PID"
gone=$(cat gone.pid)
for _ in $(seq 1 40); do grep -q "refused a mark: process $gone is gone" "$log" && break; sleep 0.25; done
grep -q "refused a mark: process $gone is gone" "$log" || { cat "$log"; fail "a mark for the gone pid $gone was not refused"; }
if grep -q "game marked by scx_gamer run: tgid $gone\$" "$log"; then fail "the gone pid $gone was marked"; fi

assert_attached "after the launches"
stop_scheduler "$log"
wait_detached
[ ! -e "$sock" ] || fail "the launch socket outlived the scheduler"

note "no scheduler running: the game still starts, with one line saying so"
rc=0
as_user 1000 "$SCX_GAMER" run -- /bin/sh -c 'exit 3' 2>alone.err || rc=$?
[ "$rc" -eq 3 ] || { cat alone.err; fail "without a scheduler the wrapper exited with $rc, not the game's 3"; }
[ "$(wc -l <alone.err)" -eq 1 ] && grep -q 'no scx_gamer scheduler is running' alone.err ||
	{ cat alone.err; fail "without a scheduler the wrapper did not say so in one line"; }
rc=0
as_user 1000 "$SCX_GAMER" run -- /no/such/game 2>missing.err || rc=$?
[ "$rc" -eq 127 ] && grep -q 'cannot start /no/such/game' missing.err ||
	{ cat missing.err; fail "a missing command gave $rc, not 127 with a message"; }

assert_clean_kernel_log
echo "PASS launch"
