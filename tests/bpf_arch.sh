#!/usr/bin/env bash
# The BPF sources compile for every architecture scx_gamer ships hooks
# for: x86 and arm64 (whose GPU drivers, msm, panfrost and panthor, have
# hooks here), each against the vmlinux.h of that architecture that
# scx_cargo ships. This proves the CO-RE guards compile; it does not load
# or verify anything on an arm64 kernel (none is available here).
#
# usage: tests/bpf_arch.sh   (after a cargo build, which unpacks the headers)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
clang=${BPF_CLANG:-$(command -v clang || command -v clang-19 || true)}
[ -n "$clang" ] || { echo "bpf_arch: no clang (set BPF_CLANG)" >&2; exit 1; }

# The headers scx_cargo unpacked in the newest build, and libbpf's.
hdrs=$(ls -dt "$src"/target/release/build/scx_gamer-*/out/scx_utils-bpf_h 2>/dev/null | head -1)
libbpf=$(ls -dt "$src"/target/release/build/libbpf-sys-*/out/include 2>/dev/null | head -1)
[ -n "$hdrs" ] && [ -n "$libbpf" ] ||
	{ echo "bpf_arch: no BPF headers under target/release/build: run cargo build --release first" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
for arch in x86 arm64; do
	[ -f "$hdrs/arch/$arch/vmlinux.h" ] || { echo "FAIL: scx_cargo ships no $arch vmlinux.h"; failed=1; continue; }
	mkdir -p "$tmp/$arch"
	ln -s "$(realpath "$hdrs/arch/$arch/vmlinux.h")" "$tmp/$arch/vmlinux.h"
	for f in "$src"/src/bpf/*.bpf.c; do
		if "$clang" -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_"$arch" -I"$tmp/$arch" \
			-I"$libbpf" -I"$hdrs" -I"$hdrs/bpf-compat" -I"$src/src/bpf" \
			-c "$f" -o "$tmp/$arch/$(basename "$f" .c).o" 2>"$tmp/err"; then
			echo "ok: $arch $(basename "$f")"
		else
			cat "$tmp/err"
			echo "FAIL: $arch $(basename "$f")"
			failed=1
		fi
	done
done
exit "$failed"
