#!/usr/bin/env bash
# A driver module without BTF, as NVIDIA's and most DKMS-built modules ship
# on Debian and Ubuntu, must cost only its own class hook, never the
# scheduler. vgem stands in for such a driver: its .BTF section is stripped
# and the module loaded with insmod, so /proc/kallsyms lists the hooked
# function while /sys/kernel/btf has nothing for it.
#  1. scx_gamer sees the missing BTF up front, names the hook it leaves off,
#     attaches with every other hook on, schedules the driver's own user,
#     and exits 0.
#  2. With that check skipped (a hidden test flag), the kernel refuses the
#     hook at load; scx_gamer loads again without it, attaches, exits 0.
. "$(dirname "$0")/lib.sh"
dmesg -C
cd "$VM_WORK"
helpers=$(dirname "$0")/helpers

# vgem's dependencies come from the kernel's own modules, vgem itself
# without BTF.
ko=$(modinfo -n vgem) || fail "no vgem module in this kernel"
while read -r verb path _; do
	[ "$verb" = insmod ] && [ "$path" != "$ko" ] || continue
	name=$(basename "$path"); name=${name%%.ko*}
	modprobe "$name" || fail "modprobe $name (a dependency of vgem) failed"
done < <(modprobe --show-depends vgem)
case "$ko" in
*.xz) xz -dc "$ko" >vgem.ko ;;
*.zst) zstd -qdc "$ko" >vgem.ko ;;
*) cp "$ko" vgem.ko ;;
esac
objcopy --remove-section=.BTF vgem.ko vgem-nobtf.ko || fail "objcopy failed"
if readelf -S vgem-nobtf.ko | grep -q '\.BTF'; then fail "vgem-nobtf.ko still has a .BTF section"; fi
insmod vgem-nobtf.ko || fail "insmod of the BTF-less vgem failed"
[ ! -e /sys/kernel/btf/vgem ] || fail "/sys/kernel/btf/vgem exists: the module still has BTF"
grep -qE ' t vgem_fence_attach_ioctl\s+\[vgem\]' /proc/kallsyms ||
	fail "vgem_fence_attach_ioctl is not in /proc/kallsyms"

# Attached with the vgem hook off and the other DRM hooks still on;
# vgem's own user runs under it; SIGINT gives exit 0.
check_run() {
	local log=$1 out on
	shift
	start_scheduler "$log" "$@"
	wait_attached "$SCHED_PID"
	# The last load's list: a refused hook shows in the one before it.
	on=$(grep 'class hooks on:' "$log" | tail -1)
	echo "$on" | grep -q drm_mode_atomic_ioctl ||
		{ cat "$log"; fail "the drm core's hooks are not on: the missing BTF cost more than its hook"; }
	if echo "$on" | grep -q vgem_fence_attach_ioctl; then
		cat "$log"
		fail "the hook on the BTF-less vgem is listed as on"
	fi
	out=$(/usr/bin/python3 "$helpers/vgem_submit.py" 20) || fail "vgem_submit.py failed under scx_gamer"
	[ "$(echo "$out" | sed -n 's/^submits=//p')" = 20 ] || fail "not all 20 vgem submits succeeded"
	sleep 2
	assert_attached "after vgem submits"
	stop_scheduler "$log"
	wait_detached
}

note "the missing BTF is seen before loading"
check_run "$VM_WORK"/up-front.log
grep -E 'hook vgem_fence_attach_ioctl \(gpu_vgem_fence_attach_ioctl\) off: module vgem has no BTF' \
	"$VM_WORK"/up-front.log || { cat "$VM_WORK"/up-front.log; fail "scx_gamer did not name the hook it left off, and why"; }
if grep -q 'loading again' "$VM_WORK"/up-front.log; then fail "the up-front check missed it: a load failed first"; fi

note "a hook the kernel refuses at load costs only that hook"
check_run "$VM_WORK"/refused.log --test-skip-btf-check
grep -E 'loading hook program gpu_vgem_fence_attach_ioctl: .*loading again with that hook off' \
	"$VM_WORK"/refused.log || { cat "$VM_WORK"/refused.log; fail "no load failure pinned on the vgem hook"; }
grep -E 'hook vgem_fence_attach_ioctl \(gpu_vgem_fence_attach_ioctl\) off: the kernel refused' \
	"$VM_WORK"/refused.log || { cat "$VM_WORK"/refused.log; fail "the second load did not leave the hook off"; }

assert_clean_kernel_log
echo "PASS: a BTF-less driver module costs only its hook"
