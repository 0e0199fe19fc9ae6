#!/usr/bin/env bash
# No polling in an idle socket-activated session: uid 1000's
# /run/user/1000/pulse/native is held by a listener named `systemd` that
# never starts a server (what systemd's socket activation looks like until
# the first client). scx_gamer is traced with strace for 10 s: it must open
# no /proc file, connect to no socket, and wake no more often than its
# timers allow (the detection worker used to connect and read /proc every
# 5 ms). Then the
# "manager" starts its server, a child that holds the socket: the exec
# alone must make it an audio server.
. "$(dirname "$0")/lib.sh"
log="$VM_WORK"/sched.log
trace="$VM_WORK"/strace.log
detect_setup 1000
mkdir /run/user/1000/pulse
chown 1000:1000 /run/user/1000/pulse
cp /usr/bin/python3 "$VM_WORK/systemd"
cp /bin/sleep "$VM_WORK/pipewire-pulse"
chmod a+rx "$VM_WORK/systemd" "$VM_WORK/pipewire-pulse"
set_seat0 c1 1000

# The manager listens, waits for `go` to appear, then starts the server
# with the listening socket as its fd 3, as systemd does.
setpriv --reuid=1000 --regid=1000 --clear-groups "$VM_WORK/systemd" -c '
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind("/run/user/1000/pulse/native")
s.listen(8)
os.dup2(s.fileno(), 3)
print(os.getpid(), flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.2)
child = os.fork()
if child == 0:
    os.execv(sys.argv[2], ["pipewire-pulse", "30"])
print(child, flush=True)
time.sleep(30)
' "$VM_WORK/go" "$VM_WORK/pipewire-pulse" >manager.out &
for _ in $(seq 1 50); do [ -s manager.out ] && break; sleep 0.1; done
manager=$(head -1 manager.out)
[ -n "$manager" ] || fail "the manager did not start"

start_scheduler "$log" --log-classes
wait_attached "$SCHED_PID"
sleep 2

note "strace over 10 s of an idle socket-activated session"
timeout -s INT 10 strace -f -qq -tt -p "$SCHED_PID" -o "$trace" || true
cp "$trace" "$VM_OUT/strace.log"
# A call strace saw block is one line ending `<unfinished ...>` and one
# `<... resumed>`: count the calls, not the resumptions.
calls() { grep -v 'resumed>' "$trace" | grep -cE "$1" || true; }
total=$(grep -vc 'resumed>' "$trace" || true)
proc_opens=$(calls 'open(at)?\(.*"/proc')
epoll=$(calls 'epoll_(p)?wait\(')
timed_futex=$(grep -v 'resumed>' "$trace" | grep -E 'futex\(.*FUTEX_WAIT' | grep -cv ', NULL' || true)
connects=$(calls 'connect\(')
echo "10 s traced: $total syscalls, $proc_opens /proc opens, $epoll epoll waits, $timed_futex timed futex waits, $connects connects"
grep -E 'open(at)?\(.*"/proc' "$trace" | head -5 || true
[ "$proc_opens" -eq 0 ] || fail "$proc_opens /proc files opened while idle"
[ "$connects" -eq 0 ] || fail "$connects connects while idle: the socket was probed on a timer"
# The detection worker waits on futexes: its 1 s tick allows 10 timed
# waits in 10 s, 20 with slack; the old 5 ms retry made about 2000. The
# event loop's epoll waits are its 1 s tick and its idle drain timeout
# (MAX_DRAIN, 160 ms): 10 + 63, 80 with slack.
[ "$timed_futex" -le 20 ] || fail "$timed_futex timed futex waits in 10 s, bound 20"
[ "$epoll" -le 80 ] || fail "$epoll epoll waits in 10 s, bound 80"
echo "ok: idle: no /proc read, no connect, $epoll epoll and $timed_futex timed futex waits in 10 s"

note "the manager starts its server"
touch "$VM_WORK/go"
for _ in $(seq 1 50); do [ "$(wc -l <manager.out)" -ge 2 ] && break; sleep 0.1; done
server=$(sed -n 2p manager.out)
[ -n "$server" ] || fail "the manager started no server"
for _ in $(seq 1 50); do
	grep -qE "audio server up: tgid $server \(pulse\)" "$log" && break
	sleep 0.1
done
stop_scheduler "$log"
grep -E 'audio server|seat|logind' "$log" || true
grep -qE "audio server up: tgid $server \(pulse\) on /run/user/1000/pulse/native" "$log" ||
	fail "the socket-activated server $server was not seen from its exec"
echo "ok: the socket-activated server $server was found on its exec"
if grep -E "audio server up: tgid $manager " "$log"; then
	fail "the manager $manager was taken for the server"
fi
echo "ok: the manager $manager is not an audio server"
kill "$manager" 2>/dev/null || true
assert_clean_kernel_log
echo "PASS detect_idle"
