#!/usr/bin/env bash
# Run the VM tests: each tests/vm/<name>.sh in its own freshly booted
# sched_ext VM, so one test's leftovers cannot make another pass or fail.
#
#   scripts/test-vm.sh            all of them
#   scripts/test-vm.sh load       only tests/vm/load.sh
#
# Each test's output, the guest's kernel log and the VM console are kept
# under target/vm/<name>/. A test that needs extra qemu devices says so in a
# header line: `# vm-qemu-opts: -device virtio-gpu-pci`. One that must run
# on other CPU counts than the default 2 lists them, `# vm-cpus: 2 4`, and
# runs once per count, as <name>-<N>cpu. One whose VM may need more wall
# time than vm-run.sh's default 900 s (an instruction-count clock runs
# slower in wall time on a busy host, its guest time unchanged) says so:
# `# vm-timeout: 1800`.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)

if [ $# -gt 0 ]; then
	tests=("$@")
else
	tests=()
	for f in "$src"/tests/vm/*.sh; do
		name=$(basename "$f" .sh)
		[ "$name" = lib ] || tests+=("$name")
	done
fi

passed=0 failed=0 failures=()
for t in "${tests[@]}"; do
	script=$src/tests/vm/$t.sh
	if [ ! -f "$script" ]; then
		echo "test-vm: no such test: $t" >&2
		exit 2
	fi
	qemu_opts=$(sed -n 's/^# vm-qemu-opts: //p' "$script" | head -1)
	cpu_counts=$(sed -n 's/^# vm-cpus: //p' "$script" | head -1)
	vm_timeout=$(sed -n 's/^# vm-timeout: //p' "$script" | head -1)
	for cpus in ${cpu_counts:-2}; do
		name=$t
		[ -z "$cpu_counts" ] || name=$t-${cpus}cpu
		out=$src/target/vm/$name
		rm -rf "$out"
		echo "=== vm test: $name"
		start=$(date +%s)
		if "$here/vm-run.sh" --cpus "$cpus" --timeout "${vm_timeout:-900}" --out "$out" --qemu-opts "$qemu_opts" -- bash "$script"; then
			passed=$((passed + 1))
			echo "=== $name: ok ($(($(date +%s) - start)) s)"
		else
			failed=$((failed + 1))
			failures+=("$name")
			echo "=== $name: FAILED ($(($(date +%s) - start)) s); logs in $out"
		fi
	done
done

[ "$failed" -eq 0 ] || echo "failed: ${failures[*]}"
echo "vm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
