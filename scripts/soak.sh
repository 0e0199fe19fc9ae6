#!/usr/bin/env bash
# The long soak: tests/vm/soak.sh in a sched_ext VM for as long as asked,
# where the test suite runs it for 60 s. Its output and the guest's kernel
# log land in target/vm/soak-<N>min/.
#
#   scripts/soak.sh --minutes 10 [--cpus N]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)

minutes="" cpus=2
while [ $# -gt 0 ]; do
	case "$1" in
	--minutes) minutes=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	-h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "soak: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$minutes" in
'' | *[!0-9]* | 0) echo "soak: --minutes takes a whole number of minutes, 1 or more" >&2; exit 2 ;;
esac
case "$cpus" in
'' | *[!0-9]* | 0 | 1) echo "soak: --cpus must be 2 or more (CPU hotplug needs a second CPU)" >&2; exit 2 ;;
esac

secs=$((minutes * 60))
out=$src/target/vm/soak-${minutes}min
rm -rf "$out"
echo "=== soak: ${minutes} min on $cpus CPUs; logs in $out"
start=$(date +%s)
# The load runs for $secs; a hotplug cycle started before the end finishes
# with its re-attaches (up to 4 min each), and the VM needs time to boot.
rc=0
"$here/vm-run.sh" --cpus "$cpus" --timeout $((secs + 1200)) --out "$out" -- \
	env SOAK_SECS="$secs" bash "$src/tests/vm/soak.sh" || rc=$?
echo "=== soak: $([ "$rc" -eq 0 ] && echo ok || echo FAILED) ($(($(date +%s) - start)) s)"
exit "$rc"
