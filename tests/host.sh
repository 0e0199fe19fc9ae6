#!/usr/bin/env bash
# Checks of the built binary that need no sched_ext kernel: bad flags are
# refused with exit 2 and a message naming the flag and the fault, and on a
# machine without sched_ext it must refuse clearly, name the missing kernel
# option and the running kernel, and exit non-zero. The VM tests cover the
# rest (tests/vm/refusals.sh for refusals that need sched_ext).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${SCX_GAMER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scx_gamer}
bin=${SCX_GAMER:-$src/target/release/scx_gamer}
passed=0 failed=0

check() {
	local name=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok: $name"
	else
		failed=$((failed + 1))
		echo "FAIL: $name"
	fi
}

no_sched_ext_refusal() {
	local rc=0 out
	out=$("$bin" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || { echo "exit code 0"; return 1; }
	grep -q CONFIG_SCHED_CLASS_EXT <<<"$out" || { echo "$out"; return 1; }
	grep -qF "$(uname -r)" <<<"$out" || { echo "$out"; return 1; }
}

help_lists_units() {
	local out
	out=$("$bin" --help)
	grep -q -- '--slice-us' <<<"$out" && grep -q -- '--slice-lag-us' <<<"$out"
}

# The diagnostic runs before any sched_ext check: a fake game (bash copied
# into a Steam library as Game.exe, started with Steam's keys) must be listed
# with its reasons, and the command must exit 0.
lists_game_candidates() {
	local tmp game pid out rc=0
	tmp=$(mktemp -d)
	mkdir -p "$tmp/steamapps/common/Fake Game"
	game="$tmp/steamapps/common/Fake Game/Game.exe"
	cp /bin/bash "$game"
	SteamAppId=4242 bash -c 'exec -a "Z:\\games\\Game.exe" "$0" -c "sleep 30 & wait"' "$game" &
	pid=$!
	sleep 0.2
	out=$("$bin" --list-game-candidates) || rc=$?
	pkill -P "$pid" sleep
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -rf "$tmp"
	[ "$rc" -eq 0 ] || { echo "exit code $rc"; return 1; }
	grep -E "^ *$pid .*Game.exe .*Windows program \(.exe\), executable in a Steam library, Steam game environment" <<<"$out" >/dev/null ||
		{ echo "$out"; return 1; }
}

# Bad flags are refused while parsing, before anything reads or touches the
# system, so these hold on any machine: exit 2 and a message naming the flag
# and what is wrong with it.
refused_at_parse() {
	local pattern=$1 rc=0 out
	shift
	out=$("$bin" "$@" 2>&1) || rc=$?
	[ "$rc" -eq 2 ] || { echo "exit $rc, expected 2: $out"; return 1; }
	grep -qE -- "$pattern" <<<"$out" || { echo "no /$pattern/ in: $out"; return 1; }
}

check "--help names every tunable with its unit" help_lists_units
check "the test-only fault flag is hidden from --help" \
	bash -c '! "$1" --help | grep -q -- --test-bpf-error-after-ms' _ "$bin"
while IFS='|' read -r pattern args; do
	read -ra argv <<<"$args"
	check "refuses '$args'" refused_at_parse "$pattern" "${argv[@]}"
done <<'CASES'
--class-window-ms <CLASS_WINDOW_MS>': 9 is not in 10..=10000|--class-window-ms 9
--chain-window-us <CHAIN_WINDOW_US>': 2000000 is not in 100..=1000000|--chain-window-us 2000000
--chain-max-depth <CHAIN_MAX_DEPTH>': 9 is not in 1..=8|--chain-max-depth 9
--input-boost-ms <INPUT_BOOST_MS>': 1001 is not in 0..=1000|--input-boost-ms 1001
--game-idle-ms <GAME_IDLE_MS>': 99 is not in 100..=60000|--game-idle-ms 99
--restart-on-error <COUNT>': 101 is not in 0..=100|--restart-on-error 101
invalid value '-5' for '--slice-us <SLICE_US>'|--slice-us=-5
--game-pid <PID>': invalid digit found in string|--game-pid 12abc
--game-comm <NAME>': the name is empty|--game-comm=
a value is required for '--slice-us <SLICE_US>'|--slice-us
the argument '--slice-us <SLICE_US>' cannot be used multiple times|--slice-us 500 --slice-us 600
unexpected value 'yes' for '--log-classes'|--log-classes=yes
unrecognized subcommand 'now'|now
the following required arguments were not provided|run
CASES
check "--list-game-candidates lists a fake game without needing sched_ext" lists_game_candidates

# `scx_gamer run` with no scheduler: the command runs anyway, its exit code
# comes back, and one line says why it is unmarked.
run_without_scheduler() {
	local rc=0 err
	err=$("$bin" --launch-socket "$(mktemp -u)" run -- sh -c 'exit 3' 2>&1) || rc=$?
	[ "$rc" -eq 3 ] || { echo "exit $rc, expected the command's 3: $err"; return 1; }
	[ "$(wc -l <<<"$err")" -eq 1 ] && grep -q 'no scx_gamer scheduler is running' <<<"$err" ||
		{ echo "expected one line saying no scheduler runs, got: $err"; return 1; }
}
check "scx_gamer run without a scheduler still runs the command, saying so" run_without_scheduler

# The event path's benchmark, briefly: the producer's events must all be
# accounted for (read by the loop, or dropped and counted by BPF), and some
# must have been read. Needs BPF (root), not sched_ext.
event_bench_accounts_for_every_event() {
	local out
	out=$("$src/target/release/scx_gamer_eventbench" --seconds 1 --json) || return 1
	echo "$out"
	python3 -c '
import json, sys
m = json.loads(sys.argv[1])
sys.exit(0 if m["consumed"] > 0 and m["consumed"] + m["bpf_drops"] == m["produced"] else 1)
' "$out"
}
check "event benchmark: every produced event is read or counted as dropped" event_bench_accounts_for_every_event
# The benchmark's report: ranges in every cell, "better" only where ranges
# do not overlap, a failed peer kept with its reason, the clock named.
bench_report_unit_tests() {
	python3 "$src/bench/test_report.py" 2>&1 | tail -n 3
	return "${PIPESTATUS[0]}"
}
check "benchmark report: ranges, verdicts, failures, clock" bench_report_unit_tests
bench_compare_unit_tests() {
	python3 "$src/bench/test_compare.py" 2>&1 | tail -n 3
	return "${PIPESTATUS[0]}"
}
check "benchmark comparison: a moved median or a swapped ranking fails" bench_compare_unit_tests
# The profiler refuses a layout it cannot boot, and a flag it does not
# know, with exit 2 and the reason, before it builds or boots anything.
profile_refuses_bad_input() {
	local rc=0 out
	out=$("$src/bench/profile.sh" --cpus 3 --llcs 2 2>&1) || rc=$?
	[ "$rc" -eq 2 ] && grep -q "does not split" <<<"$out" || { echo "rc $rc: $out"; return 1; }
	rc=0
	out=$("$src/bench/profile.sh" --bogus 2>&1) || rc=$?
	[ "$rc" -eq 2 ] && grep -q "unknown option '--bogus'" <<<"$out" || { echo "rc $rc: $out"; return 1; }
}
check "bench/profile.sh refuses bad input before booting" profile_refuses_bad_input
# The frame-log plot: every frame drawn, ours and MangoHud's logs read, a
# file that is no log refused.
plot_frames_unit_tests() {
	python3 "$src/scripts/test_plot_frames.py" 2>&1 | tail -n 3
	return "${PIPESTATUS[0]}"
}
check "frame-log plot: a point per frame, a histogram holding them all" plot_frames_unit_tests
# The VM tests' game shell (tests/vm/lib.sh) takes every command in_game
# gives it, even after a writer that held its fifo open a moment past its
# line: one that opened its fifo anew per line saw end of file there and
# exited, and the next in_game waited forever (tests/vm/policy.sh hung).
game_shell_survives_a_slow_writer() {
	local work rc=0
	work=$(mktemp -d)
	(
		VM_WORK=$work SCX_GAMER_SRC=$src
		. "$src/tests/vm/lib.sh"
		start_game_shell
		trap 'kill "$GAME_PID" 2>/dev/null' EXIT
		{ echo "echo one >>'$work/ran'"; sleep 0.5; } >"$GAME_FIFO"
		sleep 0.3
		in_game "echo two >>'$work/ran'"
		sleep 0.3
		[ "$(cat "$work/ran")" = "$(printf 'one\ntwo')" ]
	) || rc=$?
	rm -rf "$work"
	return "$rc"
}
check "the VM tests' game shell outlives a writer that holds its fifo" game_shell_survives_a_slow_writer
# vm-run.sh boots once more when QEMU itself fails before the guest script
# starts, and never once the command has started: a stand-in vng that
# prints a QEMU assertion and exits, with the real kernel from the cache.
vm_run_retries_only_a_crash_before_start() {
	local fake rc=0
	fake=$(mktemp -d)
	(
		mkdir -p "$fake/venv/bin" "$fake/a" "$fake/b"
		ln -s "$CACHE/kernel" "$fake/kernel"
		cat >"$fake/venv/bin/vng" <<'VNG'
#!/bin/bash
last=${!#}; out=$(dirname "${last#bash }")
echo x >>"$out/calls"
[ "${FAKE_STARTED:-0}" = 1 ] && : >"$out/started"
echo "qemu-system-x86_64: hw/pci/msix.c:228: msix_table_mmio_write: Assertion failed."
exit 134
VNG
		chmod +x "$fake/venv/bin/vng"
		if SCX_GAMER_CACHE=$fake "$src/scripts/vm-run.sh" --out "$fake/a" -- true 2>/dev/null; then exit 1; fi
		[ "$(wc -l <"$fake/a/calls")" -eq 2 ] || exit 1
		[ -f "$fake/a/console.1.log" ] || exit 1
		if FAKE_STARTED=1 SCX_GAMER_CACHE=$fake "$src/scripts/vm-run.sh" --out "$fake/b" -- true 2>/dev/null; then exit 1; fi
		[ "$(wc -l <"$fake/b/calls")" -eq 1 ] || exit 1
	) || rc=$?
	rm -rf "$fake"
	return "$rc"
}
if [ -d "$CACHE/kernel" ]; then
	check "vm-run.sh boots again after a QEMU crash before the guest starts, not after" \
		vm_run_retries_only_a_crash_before_start
else
	echo "note: no VM kernel in $CACHE (scripts/setup-vm.sh); vm-run.sh's retry not checked"
fi
if [ -d /sys/kernel/sched_ext ]; then
	echo "note: this kernel has sched_ext; its refusal path is covered by the unit tests only"
else
	check "refuses on a kernel without sched_ext, naming CONFIG_SCHED_CLASS_EXT and $(uname -r)" \
		no_sched_ext_refusal
fi
echo "host: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
