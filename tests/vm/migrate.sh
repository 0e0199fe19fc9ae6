#!/usr/bin/env bash
# The migrate stream on a guest of two last-level caches: a game thread
# moved by taskset across CPUs of the same and of the other cache gives one
# migrate event per move the kernel's sched_migrate_task tracepoint shows,
# with the same tid, from and to CPUs, and a cross-LLC flag that matches
# the caches sysfs lists; --stats counts the game's cross-LLC moves.
# vm-cpus: 4
# vm-qemu-opts: -smp 4,sockets=2,cores=2,threads=1
. "$SCX_GAMER_SRC/tests/vm/lib.sh"
dmesg -C
cd "$VM_WORK"

llc_map >llc.txt
cat llc.txt
[ "$(cut -d' ' -f2 llc.txt | sort -u | wc -l)" -eq 2 ] || fail "the guest does not show two last-level caches"
llc_of() { awk -v c="$1" '$1 == c {print $2}' llc.txt; }
# Two CPUs of each cache.
read -r a1 a2 < <(awk -v l="$(llc_of 0)" '$2 == l {print $1}' llc.txt | head -2 | xargs)
read -r b1 b2 < <(awk -v l="$(llc_of 0)" '$2 != l {print $1}' llc.txt | head -2 | xargs)
[ -n "$a2" ] && [ -n "$b2" ] || fail "not two CPUs in each cache"

t=/sys/kernel/tracing
mountpoint -q "$t" || mount -t tracefs nodev "$t" || fail "no tracefs"
echo 0 >"$t"/tracing_on
echo 'comm == "mig-game"' >"$t"/events/sched/sched_migrate_task/filter
echo 1 >"$t"/events/sched/sched_migrate_task/enable
echo >"$t"/trace
echo 1 >"$t"/tracing_on

start_scheduler sched.log --game-comm mig-game --watch-events migrate --stats 1
wait_attached "$SCHED_PID"

# The game: a busy shell under the game's name, started on one CPU so that
# only the moves below change its CPU.
cp /bin/bash mig-game
taskset -c "$a1" ./mig-game -c 'while :; do :; done' &
game=$!
# It is classed the first time it runs; moving it earlier would be a move
# of a thread with no class, which the stream leaves out.
sleep 1
moves="$a2 $b1 $b2 $a1 $b2 $a2"
for cpu in $moves; do
	taskset -p -c "$cpu" "$game" >/dev/null
	sleep 0.3
done
kill "$game"
wait "$game" 2>/dev/null || true
echo 0 >"$t"/tracing_on
# The event printer and the 1 s stats block run behind the kernel.
sleep 2.5
stop_scheduler sched.log
echo 0 >"$t"/events/sched/sched_migrate_task/enable

sed -n "s/.*sched_migrate_task: comm=mig-game pid=$game .*orig_cpu=\([0-9]*\) dest_cpu=\([0-9]*\).*/\1 \2/p" \
	"$t"/trace >kernel.txt
sed -n "s/.* migrate tid=$game .* class=\([a-z+-]*\) from=\([0-9]*\) to=\([0-9]*\) cross-llc=\([01]\)$/\2 \3 \4 \1/p" \
	sched.log >sched.txt
grep " migrate tid=$game " sched.log | head -n 2
note "tracepoint (from to):"; cat kernel.txt
note "scx_gamer (from to cross-llc class):"; cat sched.txt
[ "$(wc -l <kernel.txt)" -ge 6 ] || fail "the tracepoint shows $(wc -l <kernel.txt) moves, expected at least the 6 made"
cut -d' ' -f1,2 sched.txt | diff kernel.txt - || fail "the migrate events differ from the tracepoint's moves (above)"
crosses=0
while read -r from to cross class; do
	want=0
	[ "$(llc_of "$from")" = "$(llc_of "$to")" ] || want=1
	[ "$cross" = "$want" ] || fail "move $from -> $to: cross-llc=$cross, but sysfs says $want"
	case "$class" in *game*) ;; *) fail "move $from -> $to: class $class, expected the game" ;; esac
	crosses=$((crosses + cross))
done <sched.txt
[ "$crosses" -ge 3 ] && [ "$crosses" -lt "$(wc -l <sched.txt)" ] ||
	fail "expected moves within and across the caches, got $crosses cross-LLC of $(wc -l <sched.txt)"
# The exit block's count is the stream's: it has them all.
totals=$(exit_totals sched.log)
last=$(grep 'game migrations' <<<"$totals")
echo "$last"
case "$last" in *"game migrations  $(wc -l <sched.txt)  cross-LLC $crosses") ;;
*) fail "the exit block shows '$last', expected $(wc -l <sched.txt) moves, $crosses cross-LLC" ;;
esac
grep -Eq ' migrate [1-9][0-9]*( |$)' <<<"$totals" && ! grep -q ' migrate [0-9]* (' <<<"$totals" ||
	{ echo "$totals"; fail "the migrate ring's totals are off (none, or some dropped)"; }
assert_clean_kernel_log
echo "PASS: migrate"
