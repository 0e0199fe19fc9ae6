#!/usr/bin/env bash
# vm-qemu-opts: -device virtio-gpu-pci
# Thread classes from real kernel paths, checked by exact thread id:
#  - input: the thread reading a uinput keyboard through evdev, and the
#    thread it wakes through an eventfd (a sync chain), but not another
#    process it wakes through a pipe;
#  - audio: aplay playing to snd-dummy, woken by PCM period completions;
#  - game: a process named with --game-pid and the children it forks, and a
#    process that execs under the --game-comm name;
#  - negatives: a busy loop doing none of this, and unprivileged impostors
#    renamed kwin_wayland, pipewire and fakegame (the --game-comm name)
#    that read a HID device open to them (a UPS), issue the display's
#    ioctls on DRM nodes open to them while another process is the
#    display's master, try the sound card and bind audio-server sockets of
#    their own (tests/vm/helpers/impostor.py: a step that does nothing
#    fails the test) gain no class at all.
. "$(dirname "$0")/lib.sh"
dmesg -C
helpers=$(dirname "$0")/helpers
log="$VM_WORK"/sched.log
cd "$VM_WORK"

# The hooks attach to the modules present when the scheduler starts.
modprobe evdev && modprobe uinput && modprobe snd-dummy && modprobe uhid &&
	modprobe hid-generic || fail "modprobe failed"
[ -e /dev/snd/pcmC0D0p ] || fail "snd-dummy gave no playback device"
load_virtio_gpu

# The "game" forks a child every 100 ms and records each child's PID.
bash -c 'while :; do sleep 0.1 & echo $! >>"$VM_WORK"/game_children; wait; done' &
game_pid=$!
bash -c 'while :; do :; done' &
busy_pid=$!
# What an unprivileged user may open on a desktop: a HID device (a UPS),
# the display's card node while a root process is its master, and the GPU's
# render node.
/usr/bin/python3 "$helpers/uhid_device.py" ups >ups.dev &
ups_pid=$!
for _ in $(seq 1 100); do grep -q '^hidraw=' ups.dev && break; sleep 0.1; done
ups_node=$(sed -n 's/^hidraw=//p' ups.dev)
[ -n "$ups_node" ] || fail "the uhid UPS gave no hidraw node"
/usr/bin/python3 -c '
import fcntl, os, sys, time
fd = os.open("/dev/dri/card0", os.O_RDWR)
fcntl.ioctl(fd, (ord("d") << 8) | 0x1E)  # DRM_IOCTL_SET_MASTER
print("master", flush=True)
time.sleep(3600)' >master.out &
master_pid=$!
for _ in $(seq 1 100); do grep -q master master.out && break; sleep 0.1; done
grep -q master master.out || fail "root could not become the display's master"
chmod 0644 "$ups_node"
chmod 0666 /dev/dri/card0 /dev/dri/renderD128
impostors=()
for name in kwin_wayland pipewire fakegame; do
	mkdir "imp-$name" && chown 65534:65534 "imp-$name"
	setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 \
		"$helpers/impostor.py" "$name" "$ups_node" "$VM_WORK/imp-$name" >"imp-$name.out" 2>&1 &
	impostors+=($!)
done
for name in kwin_wayland pipewire fakegame; do
	for _ in $(seq 1 100); do grep -q '^ready\|^impostor' "imp-$name.out" && break; sleep 0.1; done
	cat "imp-$name.out"
	grep -q '^ready' "imp-$name.out" || fail "the $name impostor did not do its round (above)"
done

start_scheduler "$log" --log-classes --game-pid "$game_pid" --game-comm fakegame
wait_attached "$SCHED_PID"

note "input chain on a uinput keyboard"
/usr/bin/python3 "$helpers/input_chain.py" 3 >"$VM_WORK"/input.out || fail "input helper failed"
cat "$VM_WORK"/input.out
reader=$(sed -n 's/^reader_tid=//p' "$VM_WORK"/input.out)
gamet=$(sed -n 's/^game_tid=//p' "$VM_WORK"/input.out)
events=$(sed -n 's/^events_read=//p' "$VM_WORK"/input.out)
[ "${events:-0}" -gt 0 ] || fail "the reader read no input events"
other=$(sed -n 's/^other_pid=//p' "$VM_WORK"/input.out)
[ "$(sed -n 's/^other_wakeups=//p' "$VM_WORK"/input.out)" -gt 0 ] ||
	fail "the reader never woke the other process"

note "audio: aplay on snd-dummy"
aplay -q -D hw:0,0 -t raw -f S16_LE -c 2 -r 48000 -d 2 /dev/zero &
aplay_pid=$!
wait "$aplay_pid" || fail "aplay failed"

note "game: a process exec'd under the --game-comm name"
cp /bin/sleep "$VM_WORK"/fakegame
"$VM_WORK"/fakegame 0.5 &
fakegame_pid=$!
wait "$fakegame_pid"

sleep 0.5
stop_scheduler "$log"
for i in 0 1 2; do
	kill -0 "${impostors[$i]}" 2>/dev/null || { cat "$VM_WORK"/imp-*.out; fail "impostor ${impostors[$i]} stopped early (above)"; }
done
kill "$game_pid" "$busy_pid" "${impostors[@]}" "$ups_pid" "$master_pid" 2>/dev/null || true
grep '^\[INFO\] class' "$log" || true

expect() {
	grep -qE "$1" "$log" || fail "expected a line matching /$1/ in the scheduler log"
	echo "ok: $2"
}
refute_tid() {
	if grep -E "class [a-z-]+: tid $1 " "$log"; then
		fail "$2 (tid $1) was classified"
	fi
	echo "ok: $2 (tid $1) has no class"
}

expect "class input: tid $reader \(.*\) tgid [0-9]+ via evdev-read" "evdev reader $reader is input"
expect "class input: tid $gamet \(.*\) tgid [0-9]+ via wake-chain from tid $reader" \
	"thread $gamet woken by the reader is input through the chain"
expect "class audio: tid $aplay_pid \(aplay\) tgid $aplay_pid via pcm-period" "aplay $aplay_pid is audio"
expect "class game: tid $game_pid \(bash\) tgid $game_pid via game-tgid" "--game-pid $game_pid is game"
child=""
for c in $(cat "$VM_WORK"/game_children); do
	if grep -qE "class game: tid $c \(.*\) tgid $c via game-tgid" "$log"; then
		child=$c
		break
	fi
done
[ -n "$child" ] || fail "none of the processes the game forked was classed game"
echo "ok: process $child forked by the game is game"
expect "class game: tid $fakegame_pid \(fakegame\) tgid $fakegame_pid via game-tgid" \
	"a process exec'd as fakegame is game"
refute_tid "$busy_pid" "the busy loop"
refute_tid "$other" "another process woken by the input reader"
refute_tid "${impostors[0]}" "the unprivileged impostor renamed kwin_wayland"
refute_tid "${impostors[1]}" "the unprivileged impostor renamed pipewire"
refute_tid "${impostors[2]}" "the unprivileged impostor renamed fakegame"
# Exit totals' class rows: name, threads, cpu-ms, wakeups, boosts, rqwaits.
exit_totals "$log" | grep -qE '^  input +([2-9]|[1-9][0-9]+) +[0-9.]+ +[1-9]' ||
	fail "the exit totals show no input counters moving"
echo "ok: input counters moved"
exit_totals "$log" | grep -qE '^  audio +[1-9][0-9]* +[0-9.]+ +[1-9]' ||
	fail "the exit totals show no audio counters moving"
echo "ok: audio counters moved"

assert_clean_kernel_log
echo "PASS classify"
