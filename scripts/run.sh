#!/usr/bin/env bash
# Set up and run scx_gamer on this machine, from nothing: install the build
# dependencies, build, and start the scheduler as root. Ctrl-C detaches it
# and the kernel's default scheduler takes over again.
#
#   scripts/run.sh [scx_gamer flags...]
#   scripts/run.sh --vm [scx_gamer flags...]   run it in a sched_ext VM
#
# When this machine's kernel has no sched_ext, scx_gamer cannot schedule it;
# this says so and offers the VM instead.
set -euo pipefail
cd "$(dirname "$0")/.."

vm=0
if [ "${1:-}" = --vm ]; then
	vm=1
	shift
fi

if [ "$vm" -eq 0 ] && [ ! -d /sys/kernel/sched_ext ]; then
	cat >&2 <<MSG
This machine's kernel ($(uname -r)) has no sched_ext: it was built without
CONFIG_SCHED_CLASS_EXT=y, so scx_gamer cannot schedule this machine. Boot a
kernel with sched_ext (6.12 or later) to use it for real.

It can still run in a VM that boots a Debian kernel with sched_ext
(downloads about 125 MB once; slow without KVM).
MSG
	if [ -t 0 ]; then
		read -r -p "Run scx_gamer in the VM now? [y/N] " answer
		case "$answer" in
		y | Y | yes) vm=1 ;;
		*) exit 1 ;;
		esac
	else
		echo "To run it in the VM: scripts/run.sh --vm" >&2
		exit 1
	fi
fi

if [ "$vm" -eq 1 ]; then
	scripts/setup-vm.sh
else
	scripts/setup-vm.sh --build-deps
fi
cargo build --release --locked
bin=$PWD/target/release/scx_gamer

if [ "$vm" -eq 1 ]; then
	echo "Starting the VM; scx_gamer runs on its console. Ctrl-C stops it and the VM." >&2
	exec scripts/vm-run.sh --interactive -- "$bin" "$@"
fi
if [ "$(id -u)" -eq 0 ]; then
	exec "$bin" "$@"
fi
exec sudo "$bin" "$@"
