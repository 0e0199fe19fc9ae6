#!/usr/bin/env bash
# vm-cpus: 2 4
# The scx project's own CI job for every scheduler, as it runs it: stress-ng
# starts first, then the scheduler runs under `timeout --foreground
# --preserve-status 45`, and the job passes when the scheduler's exit code
# is 0. Besides that exit code this checks what the job takes for granted:
# that scx_gamer did attach and stayed attached until the timeout's SIGTERM,
# that every stressor did real work, and that the kernel log is clean.
# Under TCG, loading while 2N aggressive stressors compete for the CPUs
# takes most of the 45 s, so the job proves loading under load and a clean
# exit more than scheduling; tests/vm/stress.sh keeps scx_gamer attached
# through a whole stress-ng run, on the same CPU counts.
. "$(dirname "$0")/lib.sh"
dmesg -C
n=$(nproc)
mkdir -p "$VM_WORK"/stress && cd "$VM_WORK"/stress

stress-ng -t 31 --aggressive -M -c "$n" -f "$n" --affinity "$n" --affinity-delay 1 --affinity-pin \
	>"$VM_WORK"/stress.log 2>&1 &
stress_pid=$!

rc=0
timeout --foreground --preserve-status 45 "$SCX_GAMER" >"$VM_WORK"/sched.log 2>&1 || rc=$?
cat "$VM_WORK"/sched.log
[ "$rc" -eq 0 ] || fail "scx_gamer exited with $rc under the upstream stress job on $n CPUs, expected 0"

srv=0
wait "$stress_pid" || srv=$?
cat "$VM_WORK"/stress.log
[ "$srv" -eq 0 ] || fail "stress-ng exited with $srv"
assert_stress_work "$VM_WORK"/stress.log cpu fork affinity

grep -q 'scx_gamer attached' "$VM_WORK"/sched.log || fail "scx_gamer never attached within the 45 s"
enabled=$(dmesg | grep -c 'sched_ext: BPF scheduler "scx_gamer.*" enabled' || true)
disabled=$(dmesg | grep -c 'sched_ext: BPF scheduler "scx_gamer.*" disabled' || true)
[ "$enabled" -eq 1 ] && [ "$disabled" -eq 1 ] ||
	{ dmesg | grep sched_ext; fail "expected one enable and one disable, got $enabled and $disabled (an ejection or a restart)"; }
dmesg | grep -q 'disabled (unregistered from user space)' ||
	{ dmesg | grep sched_ext; fail "scx_gamer did not end by its own detach"; }
# How long it scheduled, from the kernel's own enable and disable lines.
attached=$(dmesg | sed -n 's/^\[ *\([0-9.]*\)\] sched_ext: BPF scheduler "scx_gamer.*/\1/p' |
	awk 'NR == 1 {a = $1} NR == 2 {printf "%.1f", $1 - a}')
assert_clean_kernel_log
echo "PASS upstream stress job on $n CPUs (attached for ${attached} s of the 45)"
