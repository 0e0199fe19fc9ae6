#!/usr/bin/env bash
# Run a command inside a VM that boots a sched_ext kernel, and return that
# command's real exit code and output.
#
#   scripts/vm-run.sh [options] -- COMMAND...
#   scripts/vm-run.sh --interactive [-- COMMAND...]
#                                          COMMAND (or a shell) on the VM's
#                                          console, with Ctrl-C passed in
#
# The guest sees this machine's root read-only (with writable overlays from
# virtme-ng), so binaries built here run there unchanged. vng itself does not
# pass the guest's exit code back when it falls back to a plain console, so
# the command's output and exit code travel through a shared directory.
#
# Options:
#   --cpus N         guest CPUs (default 2)
#   --memory SIZE    guest memory (default 2G)
#   --timeout SECS   give up on the whole VM after this long (default 900)
#   --out DIR        keep the shared directory here (default: a new temp dir)
#   --qemu-opts STR  extra qemu options (for example a virtio-gpu device)
#   --interactive    run on the console (a shell if no command is given)
#   --kernel-log     also copy the guest kernel's console into console.log
#                    (what to read when a guest hangs and writes nothing)
#
# Inside the guest: /boot carries the kernel's config (libbpf reads it),
# $VM_WORK is a fresh tmpfs and the working directory (also $TMPDIR),
# $SCX_GAMER_SRC is this source tree (read-only) and $VM_OUT the shared
# directory (read-write).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
CACHE=${SCX_GAMER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scx_gamer}
KDIR=$CACHE/kernel

cpus=2 memory=2G timeout=900 out="" qemu_opts="" interactive=0 kernel_log=0
while [ $# -gt 0 ]; do
	case "$1" in
	--cpus) cpus=$2; shift 2 ;;
	--memory) memory=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--qemu-opts) qemu_opts=$2; shift 2 ;;
	--interactive) interactive=1; shift ;;
	--kernel-log) kernel_log=1; shift ;;
	--) shift; break ;;
	-h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "vm-run: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
if [ "$interactive" -eq 0 ] && [ $# -eq 0 ]; then
	echo "vm-run: no command given (see --help)" >&2
	exit 2
fi

if [ ! -f "$KDIR/ready" ]; then
	echo "vm-run: the VM kernel is not set up; run scripts/setup-vm.sh first" >&2
	exit 2
fi
kver=$(cat "$KDIR/version")
vmlinuz=$KDIR/usr/lib/modules/$kver/vmlinuz
export PATH="$CACHE/venv/bin:$CACHE/bin:$PATH"

# KVM only where the CPU offers it and /dev/kvm is usable; otherwise TCG,
# which is slower but behaves the same. SCX_GAMER_VM_KVM=0/1 overrides.
kvm=${SCX_GAMER_VM_KVM:-}
if [ -z "$kvm" ]; then
	kvm=0
	if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then kvm=1; fi
fi
vng_args=(-r "$vmlinuz" --cpus "$cpus" -m "$memory" --cwd /)
[ "$kvm" = 1 ] || vng_args+=(--disable-kvm)
[ -z "$qemu_opts" ] || vng_args+=("--qemu-opts=$qemu_opts")
[ "$kernel_log" = 0 ] || vng_args+=(--verbose)

if [ -z "$out" ]; then
	mkdir -p "$src/target/vm"
	out=$(mktemp -d "$src/target/vm/run.XXXXXX")
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/rc" "$out/output.log" "$out/dmesg.log"
vng_args+=(--rwdir "$out")

# The guest side. It runs as root in the guest; its output goes to a file
# the host streams, and its exit code to another.
# Some tools insist on writing to /tmp. Where the guest's /tmp is read-only
# it gets a tmpfs, unless that would hide the source tree or the shared dir.
tmp_tmpfs=1
case "$src/" in /tmp/*) tmp_tmpfs=0 ;; esac
case "$out/" in /tmp/*) tmp_tmpfs=0 ;; esac
cat >"$out/guest.sh" <<GUEST
#!/bin/bash
export SCX_GAMER_SRC='$src' VM_OUT='$out' VM_WORK=/run/scx-gamer-work
mount -t tmpfs tmpfs /boot
cp '$KDIR/usr/lib/modules/$kver/config' "/boot/config-\$(uname -r)"
mkdir -p "\$VM_WORK" && mount -t tmpfs tmpfs "\$VM_WORK"
if [ $tmp_tmpfs = 1 ] && ! (: >/tmp/.vm-run-probe && rm -f /tmp/.vm-run-probe) 2>/dev/null; then
	mount -t tmpfs tmpfs /tmp
fi
export TMPDIR="\$VM_WORK"
cd "\$VM_WORK"
GUEST
printf '%q ' "$@" >"$out/cmd"
if [ "$interactive" -eq 1 ]; then
	# Without udev on the host root, virtme-ng finds no script ports and
	# falls back to the serial console, which drops a script's output. A
	# login shell on that console does work, so the guest script is the shell.
	if [ $# -eq 0 ]; then
		echo 'exec bash -i' >>"$out/guest.sh"
	else
		echo "eval \"\$(cat '$out/cmd')\"; echo \"exit code \$?\"; poweroff -f" >>"$out/guest.sh"
	fi
	chmod +x "$out/guest.sh"
	exec vng "${vng_args[@]}" --shell "$out/guest.sh"
fi
cat >>"$out/guest.sh" <<GUEST
: >'$out/started'
( eval "\$(cat '$out/cmd')" ) >'$out/output.log' 2>&1 </dev/null
echo \$? >'$out/rc.tmp'
dmesg >'$out/dmesg.log' 2>&1
sync
mv '$out/rc.tmp' '$out/rc'
GUEST

# One boot; sets vng_rc.
boot() {
	rm -f "$out/started"
	: >"$out/output.log"
	tail -n +1 -F "$out/output.log" 2>/dev/null &
	tail_pid=$!
	set +e
	# Not --foreground: on a timeout the whole process group gets the
	# signal, qemu and virtiofsd included, rather than vng alone (which
	# would leave them running); SIGKILL follows if they linger.
	timeout -k 15 "$timeout" vng "${vng_args[@]}" -- "bash $out/guest.sh" \
		</dev/null >"$out/console.log" 2>&1
	vng_rc=$?
	set -e
	sleep 0.3
	kill "$tail_pid" 2>/dev/null || true
	wait "$tail_pid" 2>/dev/null || true
}

boot
# QEMU itself can abort while the guest boots (an assertion in its MSI-X
# emulation was seen once in 33 boots of the suite). Nothing of the command
# ran then, so one more boot says nothing twice; a crash after the command
# started is the command's result and is reported as it is.
if [ ! -f "$out/rc" ] && [ ! -f "$out/started" ] && [ "$vng_rc" -ne 124 ] &&
	grep -q '^qemu-system[^:]*: ' "$out/console.log"; then
	mv "$out/console.log" "$out/console.1.log"
	echo "vm-run: qemu failed before the guest started ($(grep -m1 '^qemu-system' "$out/console.1.log")); booting once more" >&2
	boot
fi

if [ ! -f "$out/rc" ]; then
	if [ "$vng_rc" -eq 124 ]; then
		echo "vm-run: the VM did not finish within ${timeout}s" >&2
	else
		echo "vm-run: the guest reported no exit code (vng exit $vng_rc); see $out/console.log" >&2
	fi
	tail -n 20 "$out/console.log" >&2 || true
	exit 125
fi
exit "$(cat "$out/rc")"
