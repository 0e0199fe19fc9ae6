#!/usr/bin/env bash
# vm-qemu-opts: -device virtio-gpu-pci
# The event streams reach userspace from real kernel paths, each checked by
# the exact thread or process that caused it (`--watch-events` prints them):
#  - input: events typed on a uinput keyboard, as the evdev reader got them,
#    with their type, code and value and a plausible latency;
#  - frame: atomic commits on virtio-gpu's display, one event per flip
#    presented;
#  - gpu-submit: fence submits through vgem, naming the submitting thread,
#    which is also classed gpu-submit;
#  - runq-wait: a game thread starved on purpose by a real-time hog on
#    its CPU;
#  - exec: a .exe exec'd and exiting.
. "$(dirname "$0")/lib.sh"
dmesg -C
helpers=$(dirname "$0")/helpers
log="$VM_WORK"/sched.log
cd "$VM_WORK"
chmod 755 "$VM_WORK"
# Exec events are reported for the users detection serves: with no logind
# seats, those who own their /run/user dir (docs/detection.md).
rm -rf /run/systemd/seats
mkdir -p /run/user/1000 && chown 1000:1000 /run/user/1000 && chmod 700 /run/user/1000

modprobe evdev && modprobe uinput || fail "modprobe evdev uinput failed"
load_virtio_gpu
modprobe vgem || fail "modprobe vgem failed"

start_scheduler "$log" --watch-events input,frame,gpu-submit,runq-wait,exec \
	--log-classes --game-comm victim
wait_attached "$SCHED_PID"
grep -q 'class hooks on:.*vgem_fence_attach_ioctl' "$log" || fail "the vgem submit hook is not on"

note "input: a uinput keyboard read through evdev"
/usr/bin/python3 "$helpers/input_chain.py" 2 >input.out || fail "input helper failed"
reader=$(sed -n 's/^reader_tid=//p' input.out)
[ -n "$reader" ] || fail "the input helper printed no reader tid"

note "frames: atomic commits on virtio-gpu"
/usr/bin/python3 "$helpers/drm_commit.py" 20 >commit.out || fail "drm_commit.py failed"
comp=$(sed -n 's/^pid=//p' commit.out)

note "gpu-submit: fences through vgem"
/usr/bin/python3 "$helpers/vgem_submit.py" 20 >vgem.out || fail "vgem_submit.py failed"
submitter=$(sed -n 's/^tid=//p' vgem.out)
[ "$(sed -n 's/^submits=//p' vgem.out)" = 20 ] || fail "not all 20 vgem submits succeeded"

note "runq-wait: a game thread behind a real-time hog on CPU 1"
cp /bin/bash victim
taskset -c 1 ./victim -c 'while :; do :; done' &
victim=$!
sleep 1
chrt -f 50 taskset -c 1 /usr/bin/python3 -c '
import time
end = time.monotonic() + 0.5
while time.monotonic() < end:
    pass'
sleep 0.5
kill "$victim"

note "exec: a Windows program starting and ending"
cp /bin/true Game.exe && chmod 755 Game.exe
setpriv --reuid=1000 --regid=1000 --clear-groups ./Game.exe &
exe_pid=$!
wait "$exe_pid"

sleep 1
stop_scheduler "$log"

count() { grep -cE "$1" "$log" || true; }
expect_at_least() {
	local n
	n=$(count "$2")
	[ "$n" -ge "$1" ] || fail "expected >= $1 lines matching /$2/, got $n"
	echo "ok: $3 ($n events)"
}

# Each key press is a key event and a SYN; the reader reads them all.
expect_at_least 20 "input event[0-9]+ type=1 code=30 value=1 tid=$reader " \
	"key presses reached userspace from reader $reader"
expect_at_least 20 "input event[0-9]+ type=0 code=0 value=0 tid=$reader " "SYN reports too"
lat=$(grep -E "input event[0-9]+ .* tid=$reader " "$log" | sed -n 's/.*latency=\([0-9.]*\)us$/\1/p' | sort -n)
max=$(echo "$lat" | tail -1)
min=$(echo "$lat" | head -1)
echo "input latency: min ${min}us max ${max}us"
awk -v a="$min" -v b="$max" 'BEGIN { exit !(a > 0 && b < 1000000) }' ||
	fail "input latencies ${min}..${max}us are not plausible (0 < latency < 1 s)"

# The committing thread comes from the commit ioctl's return (fexit), and
# the first flip can be presented before that ioctl has returned: that one
# frame may say tid=0. Every later one names the thread that committed it.
frame="frame crtc=[0-9]+ seq=[0-9]+ present-ns=[0-9]+ tgid=$comp tid=($comp|0) game=0"
expect_at_least 20 "$frame interval=" "20 presented frames of compositor $comp"
expect_at_least 19 "frame crtc=[0-9]+ seq=[0-9]+ present-ns=[0-9]+ tgid=$comp tid=$comp game=0 interval=[1-9][0-9.]*us" \
	"all but the first carry an interval and the committing thread"

expect_at_least 20 "gpu-submit tid=$submitter tgid=[0-9]+ driver=vgem kind=fence" \
	"20 vgem submits from thread $submitter"
grep -qE "class gpu-submit: tid $submitter \(.*\) tgid [0-9]+ via gpu-ioctl" "$log" ||
	fail "vgem submitter $submitter was not classed gpu-submit"
echo "ok: vgem submitter $submitter is classed gpu-submit"

miss=$(grep -E "runq-wait tid=$victim tgid=$victim comm=victim class=[a-z+-]*game" "$log" |
	sed -n 's/.* wait=\([0-9.]*\)us .*/\1/p' | sort -n | tail -1)
[ -n "$miss" ] || fail "no runq-wait event named the starved thread $victim"
awk -v m="$miss" 'BEGIN { exit !(m >= 300000) }' || fail "the starved thread's longest wait is ${miss}us, expected >= 300 ms"
echo "ok: starved thread $victim reported, waited ${miss}us"

expect_at_least 1 "exec pid=$exe_pid ppid=[0-9]+ uid=1000 comm=Game.exe file=.*/Game.exe" "exec of Game.exe"
expect_at_least 1 "exit pid=$exe_pid " "exit of Game.exe"

exit_totals "$log"
# "watch N" with no "(D dropped)" after it.
exit_totals "$log" | grep -qE '^  channels( .*)? watch [1-9][0-9]*(  |$)' || fail "the watch channel dropped events"
assert_clean_kernel_log
echo "PASS events"
