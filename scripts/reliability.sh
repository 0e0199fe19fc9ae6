#!/usr/bin/env bash
# The reliability suite in one command (docs/reliability.md): bad input on
# the host and in the VM, faults (SIGKILL, a BPF error and its restart), CPU
# hotplug, stress, the 60 s mixed-load soak, and the classification
# tests an unprivileged impostor must fail. With --soak-minutes N it ends
# with the long soak too (scripts/soak.sh).
#
#   scripts/reliability.sh [--soak-minutes N]
#
# The VM kernel must be set up (scripts/setup-vm.sh, which scripts/test.sh
# runs). Takes about 12 minutes on 2 cores without KVM, plus the long soak.
set -euo pipefail
cd "$(dirname "$0")/.."

soak_minutes=""
while [ $# -gt 0 ]; do
	case "$1" in
	--soak-minutes) soak_minutes=$2; shift 2 ;;
	-h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "reliability: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done

vm_tests=(refusals faults hotplug stress upstream_stress nobtf soak classify classify_display)
failed=()
step() { printf '\n### %s\n' "$*"; }

step "build"
cargo build --release --locked

step "bad input refused while parsing, and with no sched_ext (host)"
tests/host.sh || failed+=(host)

step "VM tests: ${vm_tests[*]}"
scripts/test-vm.sh "${vm_tests[@]}" || failed+=(vm)

if [ -n "$soak_minutes" ]; then
	step "long soak: $soak_minutes min"
	scripts/soak.sh --minutes "$soak_minutes" || failed+=(soak-${soak_minutes}min)
fi

step "figures"
for t in faults soak ${soak_minutes:+soak-${soak_minutes}min}; do
	grep -h '^figure:' "target/vm/$t/output.log" 2>/dev/null | sed "s/^/$t: /" || true
done

if [ "${#failed[@]}" -eq 0 ]; then
	echo "reliability: all passed"
else
	echo "reliability: failed: ${failed[*]}"
	exit 1
fi
