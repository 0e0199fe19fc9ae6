#!/usr/bin/env bash
# Topology-aware CPU choice, proven by steering it. The VM's CPUs are alike,
# so with no flag scx_gamer must say so and prefer none; with --fast-cpus N,
# a game's threads (here a game-shaped Python process named with --game-pid,
# sampled by another process)
# must run on cpu N for at least 75 % of the samples, for N = 1 and then
# N = 0, while they would otherwise stay wherever they last ran.
. "$(dirname "$0")/lib.sh"
dmesg -C
helpers=$(cd "$(dirname "$0")" && pwd)/helpers
cd "$VM_WORK"

log=$VM_WORK/sched-none.log
start_scheduler "$log"
wait_attached "$SCHED_PID"
grep -q 'CPUs alike (from core capacity and type): no fast or slow CPU preference' "$log" ||
	{ cat "$log"; fail "like CPUs did not give 'no preference'"; }
stop_scheduler "$log"
wait_detached
echo "ok: like CPUs, no preference"

for fast in 1 0; do
	go=$VM_WORK/go-$fast
	/usr/bin/python3 "$helpers"/placement.py game "$go" 6 &
	game=$!
	log=$VM_WORK/sched-$fast.log
	start_scheduler "$log" --game-pid "$game" --fast-cpus "$fast"
	wait_attached "$SCHED_PID"
	grep -q "fast CPUs $fast (from --fast-cpus)" "$log" || { cat "$log"; fail "--fast-cpus $fast not taken"; }
	touch "$go"
	sleep 0.5
	/usr/bin/python3 "$helpers"/placement.py sample "$game" 5 >"$VM_WORK/placement-$fast.out"
	wait "$game" || fail "the game-shaped process failed"
	stop_scheduler "$log"
	wait_detached
	out=$(cat "$VM_WORK/placement-$fast.out")
	on=$(echo "$out" | tr ' ' '\n' | sed -n "s/^cpu$fast=//p")
	all=$(echo "$out" | tr ' ' '\n' | sed 's/^cpu[0-9]*=//' | paste -sd+ | bc)
	[ -n "$on" ] || on=0
	[ "$all" -gt 100 ] || fail "only $all samples with --fast-cpus $fast: $out"
	echo "figure: --fast-cpus $fast: $out ($((100 * on / all)) % on cpu$fast)"
	[ $((100 * on)) -ge $((75 * all)) ] || { cat "$log"; fail "game threads on cpu$fast for only $on of $all samples"; }
done

# Bad lists are refused before anything loads.
for bad in 7 "0-" x; do
	out=$("$SCX_GAMER" --fast-cpus "$bad" 2>&1) && fail "--fast-cpus $bad was accepted"
	echo "$out" | grep -qE "CPU|list" || fail "--fast-cpus $bad: unclear message: $out"
	[ "$(sched_state)" = disabled ] || fail "--fast-cpus $bad left sched_ext $(sched_state)"
	echo "ok: --fast-cpus $bad refused: $(echo "$out" | head -1)"
done
assert_clean_kernel_log
echo "PASS topology"
