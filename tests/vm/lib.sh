# Helpers for the VM tests. Each test is a bash script that runs as root
# inside the guest (see scripts/vm-run.sh), with $VM_WORK as a fresh tmpfs, and
# exits non-zero with a FAIL line when what it checks does not hold.
set -euo pipefail

SCX_GAMER=${SCX_GAMER:-$SCX_GAMER_SRC/target/release/scx_gamer}
SCHED_EXT=/sys/kernel/sched_ext

fail() {
	echo "FAIL: $*"
	exit 1
}

note() { echo "--- $*"; }

# One of several checks a test makes at its end: evaluate the condition $1,
# print ok or FAIL with the description $2, and go on, so that one run shows
# every check that broke. checks_passed then fails the test with $1 if any did.
CHECKS_FAILED=0
check() {
	if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; CHECKS_FAILED=1; fi
}
checks_passed() {
	[ "$CHECKS_FAILED" -eq 0 ] || fail "$1"
}

sched_state() { cat "$SCHED_EXT/state"; }
sched_ops() { cat "$SCHED_EXT/root/ops" 2>/dev/null || true; }

# Wait until scx_gamer (pid $1) is the attached scheduler. Under TCG the
# verifier alone can take a minute, hence the generous bound.
wait_attached() {
	local pid=$1 i
	for i in $(seq 1 240); do
		if [ "$(sched_state)" = enabled ]; then
			case "$(sched_ops)" in scx_gamer*) return 0 ;; esac
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			[ -z "${SCHED_LOG:-}" ] || cat "$SCHED_LOG"
			fail "scx_gamer (pid $pid) exited before attaching"
		fi
		sleep 0.5
	done
	fail "scx_gamer not attached after 120 s (state=$(sched_state) ops=$(sched_ops))"
}

assert_attached() {
	[ "$(sched_state)" = enabled ] || fail "sched_ext state is $(sched_state), expected enabled ($*)"
	case "$(sched_ops)" in
	scx_gamer*) ;;
	*) fail "root/ops is '$(sched_ops)', expected scx_gamer ($*)" ;;
	esac
}

# Wait for the kernel's default scheduler to be back.
wait_detached() {
	local i
	for i in $(seq 1 40); do
		[ "$(sched_state)" = disabled ] && return 0
		sleep 0.25
	done
	fail "sched_ext state still $(sched_state) 10 s after detach"
}

# Load virtio-gpu and wait for its /dev/dri/card0 (the commit helper drives
# card0, so it must come before any other DRM driver, such as vgem).
load_virtio_gpu() {
	modprobe virtio-gpu || fail "modprobe virtio-gpu failed"
	for _ in $(seq 1 40); do [ -e /dev/dri/card0 ] && break; sleep 0.25; done
	[ -e /dev/dri/card0 ] || fail "virtio-gpu gave no /dev/dri/card0"
}

# The kernel log since the test began must hold no oops, warning, stall or
# scheduler error. The test clears the log first with `dmesg -C`.
assert_clean_kernel_log() {
	local bad
	bad=$(dmesg | grep -E 'BUG:|WARNING:|\bstall|sched_ext:.*(error|ERROR)|runnable task' || true)
	if [ -n "$bad" ]; then
		echo "$bad"
		fail "the kernel log has errors (above)"
	fi
}

# Start scx_gamer in the background with its log in $1; sets SCHED_PID
# and SCHED_LOG.
start_scheduler() {
	SCHED_LOG=$1
	shift
	"$SCX_GAMER" "$@" >"$SCHED_LOG" 2>&1 &
	SCHED_PID=$!
}

# The game: a shell that runs each command line in_game gives it as its
# child, so that everything it starts is the game (--game-pid covers
# children); its pid in GAME_PID. It holds its fifo open for reading and
# writing the whole time. Reopened for each line, a read could open the
# fifo while in_game's writer, its line written, had not closed it yet,
# and see end of file at that close: the shell exited, and the next
# in_game blocked forever opening a fifo that had no reader.
start_game_shell() {
	GAME_FIFO=$VM_WORK/game.fifo
	mkfifo "$GAME_FIFO"
	bash -c 'exec 3<>"$0"; while read -r cmd <&3; do eval "$cmd" 3<&- & done' "$GAME_FIFO" &
	GAME_PID=$!
}

# Have the game shell run the command line given; fails, rather than
# hanging, when the shell is gone.
in_game() {
	kill -0 "$GAME_PID" 2>/dev/null || fail "the game shell (pid $GAME_PID) is gone"
	timeout 10 bash -c 'echo "$1" >"$2"' in_game "$*" "$GAME_FIFO" ||
		fail "the game shell (pid $GAME_PID) took no command in 10 s"
}

# Wait until COUNT (default 1) processes are named NAME: a helper that
# names itself (probe.py) has started its loop. A phase timed from the
# command that starts one measured only part of it on a busy host: Python
# starts slowly even on the instruction-count clock (the guest reads the
# host's root through virtiofs, and its clock skips ahead while it waits).
wait_comm() {
	local name=$1 count=${2:-1} n
	for _ in $(seq 1 300); do
		n=$(pgrep -xc "$name" || true)
		[ "$n" -lt "$count" ] || return 0
		sleep 0.1
	done
	fail "$n of $count processes named $name running after 30 s"
}

# Stop scx_gamer with SIGINT and require exit code 0.
stop_scheduler() {
	local log=$1 rc=0
	kill -INT "$SCHED_PID"
	wait "$SCHED_PID" || rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$log"
		fail "scx_gamer exited with $rc after SIGINT, expected 0"
	fi
}

# The exit summary in scheduler log $1: the stats block of the run's totals
# it logs when it stops, its title line and the indented lines under it.
exit_totals() {
	awk '/scx_gamer totals after /{on=1; print; next} on && /^  /{print; next} {on=0}' "$1"
}

# The bogo ops stress-ng's log ($1) reports for stressor $2.
stress_ops() {
	awk -v s="$2" '$0 ~ "stress-ng: (info|metrc): +\\[[0-9]+\\] +" s " " {print $5; exit}' "$1"
}

# stress-ng's log ($1) must show that each named stressor did real work
# (bogo ops above 0): a stress-ng that cannot write its working directory,
# or whose workers fail to start, exits 0 having done nothing.
assert_stress_work() {
	local log=$1 s ops
	shift
	for s in "$@"; do
		ops=$(stress_ops "$log" "$s")
		[ -n "$ops" ] && [ "${ops%%.*}" -gt 0 ] || fail "stressor $s did no work (bogo ops '$ops')"
	done
}

# A fake Steam launch tree in $1: a renamed bash `reaper` and a copy of bash
# as `steamapps/common/Fake Game/Game.exe`.
make_fake_launch() {
	local dir=$1
	mkdir -p "$dir/steamapps/common/Fake Game"
	cp /bin/bash "$dir/reaper"
	cp /bin/bash "$dir/steamapps/common/Fake Game/Game.exe"
	chmod -R a+rx "$dir"
}

# Run the launch made in $2 as uid $1, with Steam's environment: reaper
# starts Game.exe, which runs the shell commands $4 and exits (end them
# with `; true`, or bash execs the last one in place of Game.exe). The game's
# pid is written to $3 (a path uid $1 may write).
fake_proton_launch() {
	local uid=$1 dir=$2 pidfile=$3 body=$4
	setpriv --reuid="$uid" --regid="$uid" --clear-groups env SteamAppId=620 SteamGameId=620 \
		"$dir/reaper" -c '"$0" -c "$2" & echo $! >"$1"; wait' \
		"$dir/steamapps/common/Fake Game/Game.exe" "$pidfile" "$body"
}

# Write logind's seat0 file as logind does (a temporary name, then a
# rename): session $1 of uid $2 is active. The VM runs no logind, but its
# tmpfiles make /run/systemd/seats, which scx_gamer takes for logind's.
set_seat0() {
	local seats=/run/systemd/seats
	mkdir -p "$seats"
	printf '# This is private data. Do not parse.\nIS_SEAT0=1\nACTIVE=%s\nACTIVE_UID=%s\n' \
		"$1" "$2" >"$seats/.#seat0tmp"
	mv "$seats/.#seat0tmp" "$seats/seat0"
}

# The start of a detection test: a clean kernel log, $VM_WORK readable by
# every user with a world-writable out/ in it as the working dir, and a
# runtime dir /run/user/<uid> owned by each uid given.
detect_setup() {
	local uid
	dmesg -C
	cd "$VM_WORK"
	chmod 755 "$VM_WORK"
	mkdir -m 1777 "$VM_WORK/out"
	for uid in "$@"; do
		mkdir -p /run/user/$uid
		chown $uid:$uid /run/user/$uid
		chmod 700 /run/user/$uid
	done
}

# Watch the tasks with the pids given for $1 windows of $2 seconds each,
# the scheduler attached throughout: a task whose CPU time
# (/proc/PID/schedstat's first field) did not grow in a window did not run
# in it. Prints a line per window; STALLED is the count of task-windows
# without a run.
count_stalled() {
	local windows=$1 secs=$2 w p now n
	shift 2
	local -A before
	for p in "$@"; do read -r before[$p] _ <"/proc/$p/schedstat"; done
	STALLED=0
	for w in $(seq 1 "$windows"); do
		sleep "$secs"
		assert_attached "window $w"
		n=0
		for p in "$@"; do
			read -r now _ <"/proc/$p/schedstat" || fail "task $p exited"
			[ "$now" -gt "${before[$p]}" ] || n=$((n + 1))
			before[$p]=$now
		done
		echo "window $w: $n of $# tasks did not run"
		STALLED=$((STALLED + n))
	done
}

# sched_switch and sched_waking of the tasks whose name matches GLOB, into
# the trace buffer from now on (tracefs mounted if it is not).
sched_trace_start() {
	local t=/sys/kernel/tracing
	mountpoint -q "$t" || mount -t tracefs nodev "$t" || fail "no tracefs"
	echo 0 >"$t"/tracing_on
	echo mono >"$t"/trace_clock
	echo 8192 >"$t"/buffer_size_kb
	echo "prev_comm ~ \"$1\" || next_comm ~ \"$1\"" >"$t"/events/sched/sched_switch/filter
	echo "comm ~ \"$1\"" >"$t"/events/sched/sched_waking/filter
	echo 1 >"$t"/events/sched/sched_switch/enable
	echo 1 >"$t"/events/sched/sched_waking/enable
	echo >"$t"/trace
	echo 1 >"$t"/tracing_on
}

# Stop recording; the buffer keeps what it holds.
sched_trace_pause() { echo 0 >/sys/kernel/tracing/tracing_on; }

# Stop recording, write the buffer to FILE and turn the two events off.
sched_trace_stop() {
	local t=/sys/kernel/tracing
	sched_trace_pause
	cat "$t"/trace >"$1"
	echo 0 >"$t"/events/sched/sched_switch/enable
	echo 0 >"$t"/events/sched/sched_waking/enable
}

# "CPU LLC" lines, one per online CPU: LLC is the CPU list sharing that
# CPU's last-level cache (the highest cache index sysfs lists), the same
# key scx_utils' topology groups CPUs by.
llc_map() {
	local c idx
	for c in /sys/devices/system/cpu/cpu[0-9]*; do
		[ -d "$c/cache" ] || continue
		idx=$(ls -d "$c"/cache/index[0-9]* 2>/dev/null | sort -V | tail -n 1)
		[ -n "$idx" ] || continue
		echo "${c##*/cpu} $(cat "$idx/shared_cpu_list")"
	done | sort -n
}
