#!/usr/bin/env bash
# Checks of the built binary that need no sched_ext kernel: on a machine
# without sched_ext it must refuse clearly, name the missing kernel option
# and the running kernel, and exit non-zero. The VM tests cover the rest.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
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

check "--help names every tunable with its unit" help_lists_units
if [ -d /sys/kernel/sched_ext ]; then
	echo "note: this kernel has sched_ext; its refusal path is covered by the unit tests only"
else
	check "refuses on a kernel without sched_ext, naming CONFIG_SCHED_CLASS_EXT and $(uname -r)" \
		no_sched_ext_refusal
fi
echo "host: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
