#!/usr/bin/env bash
# Measure QEMU's instruction-count clock against the host: for each
# `-icount shift=N`, how many instructions a guest millisecond holds and how
# many guest milliseconds pass per wall millisecond, with one and with both
# guest CPUs busy. The basis for the shift bench/run.sh uses.
#
#   bench/calibrate/run.sh [--shifts "1 2 3"] [--iters N]
#
# The busy loop (spin.c) runs an exact instruction count. Guest time comes
# from the guest's CLOCK_MONOTONIC; wall time from the host's own clock,
# read off the modification times of marker files the guest creates in the
# shared directory (virtiofsd creates them on the host, with host time), so
# VM boot time does not count. Prints one table row per shift and CPU count.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
shifts="1 2 3" iters=200000000
while [ $# -gt 0 ]; do
	case "$1" in
	--shifts) shifts=$2; shift 2 ;;
	--iters) iters=$2; shift 2 ;;
	-h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "calibrate: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$iters" in '' | *[!0-9]* | 0) echo "calibrate: --iters takes a whole number >= 1" >&2; exit 2 ;; esac
for n in $shifts; do
	case "$n" in [0-9]) ;; *) echo "calibrate: a shift is 0 to 9, not '$n'" >&2; exit 2 ;; esac
done

out=$src/target/calibrate
mkdir -p "$out"
clang-19 -O2 -o "$out/spin" "$src/bench/calibrate/spin.c"
insns=$((2 * iters))
host_ms=$("$out/spin" "$iters")
echo "host: $insns instructions in $host_ms ms (load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "| shift | busy guest CPUs | instructions per guest ms, per busy CPU | guest ms per wall ms |"
echo "|---|---|---|---|"
for n in $shifts; do
	d=$out/shift$n
	rm -rf "$d"
	# One loop alone, then one per guest CPU at once; markers around each.
	scripts/vm-run.sh --out "$d" --qemu-opts "-icount shift=$n,sleep=off" -- bash -c '
		spin=$1 iters=$2
		: >"$VM_OUT/m1.start"; "$spin" "$iters" >"$VM_OUT/one.ms"; : >"$VM_OUT/m1.end"
		: >"$VM_OUT/m2.start"
		"$spin" "$iters" >"$VM_OUT/two.a.ms" & "$spin" "$iters" >"$VM_OUT/two.b.ms"; wait
		: >"$VM_OUT/m2.end"' _ "$out/spin" "$iters" >/dev/null
	wall() { echo "($(stat -c %.Y "$d/$1.end") - $(stat -c %.Y "$d/$1.start")) * 1000" | bc -l; }
	w1=$(wall m1) w2=$(wall m2)
	g1=$(cat "$d/one.ms") g2=$(cat "$d/two.a.ms")
	awk -v n="$n" -v i="$insns" -v g1="$g1" -v g2="$g2" -v w1="$w1" -v w2="$w2" 'BEGIN {
		printf "| %d | 1 | %.0f | %.3f |\n", n, i / g1, g1 / w1
		printf "| %d | 2 | %.0f | %.3f |\n", n, i / g2, g2 / w2 }'
done
