#!/usr/bin/env bash
# Fetch and cache everything the VM tests need: build tools, qemu, virtme-ng,
# virtiofsd, and a Debian kernel built with CONFIG_SCHED_CLASS_EXT.
#
#   scripts/setup-vm.sh               everything
#   scripts/setup-vm.sh --build-deps  only what building scx_gamer and its host tests need
#
# Idempotent: every step checks whether its result is already there, so a
# second run does nothing and works offline once the cache is filled.
# The kernel packages are unpacked into the cache, never installed, because
# installing them would pull systemd and dracut into the host.
set -euo pipefail

CACHE=${SCX_GAMER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scx_gamer}
KDIR=$CACHE/kernel
mkdir -p "$CACHE"

log() { printf '[setup-vm] %s\n' "$*" >&2; }
# apt needs root; from a user account, go through sudo for apt alone so the
# cache stays in the user's home.
SUDO=()
need_root() {
	[ "$(id -u)" -eq 0 ] && return
	if ! command -v sudo >/dev/null; then
		echo "setup-vm: installing packages needs root; rerun as root" >&2
		exit 1
	fi
	SUDO=(sudo)
}

# The Debian mirror this machine already uses, read from its own sources so
# that no mirror host is written down here.
debian_mirror() {
	local uri=""
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
	fi
	[ -n "$uri" ] || { echo "setup-vm: no Debian mirror found in /etc/apt sources" >&2; exit 1; }
	echo "$uri"
}

# Building scx_gamer: clang for the BPF side, libelf and zlib for libbpf.
BUILD_PKGS=(clang-19 llvm-19 libelf-dev zlib1g-dev pkg-config make)
# The VM and its tests: kmod for depmod, stress-ng for load, the libraries
# virtiofsd builds against, python3-venv for virtme-ng, `file`, which
# virtme-ng uses to read the kernel version, python3 for the test helpers
# that drive uinput and DRM, alsa-utils for aplay on snd-dummy, rt-tests
# for hackbench, kmscube with Mesa's software renderers (libgl1-mesa-dri) as
# a real renderer on virtio-gpu, binutils (objcopy) and xz-utils to strip a
# module's BTF (tests/vm/nobtf.sh), strace to see the launch wrapper's
# syscalls, and python3-prometheus-client for upstream's
# scxstats_to_openmetrics.py (tests/vm/scx_stats_client.sh), and bpftool
# for bench/profile.sh's per-program BPF time.
VM_PKGS=(kmod stress-ng busybox-static libcap-ng-dev libseccomp-dev python3 python3-venv
	file util-linux procps alsa-utils rt-tests kmscube libgl1-mesa-dri binutils xz-utils strace
	python3-prometheus-client bpftool)
# The host-side tests: tmux drives the full-screen --monitor view.
HOST_PKGS=("${BUILD_PKGS[@]}" tmux)

# Rust comes from rustup, not Debian: bookworm's rustc is far older than the
# 1.91 that the scx crates need.
check_rust() {
	local v
	if ! v=$(cargo --version 2>/dev/null); then
		echo "setup-vm: cargo not found. Install Rust 1.91 or later with rustup (https://rustup.rs), then rerun." >&2
		exit 1
	fi
	v=$(echo "$v" | awk '{print $2}')
	if [ "$(printf '%s\n1.91.0\n' "$v" | sort -V | head -1)" != 1.91.0 ]; then
		echo "setup-vm: cargo $v is too old; scx_gamer needs Rust 1.91 or later (rustup update)" >&2
		exit 1
	fi
	if command -v rustup >/dev/null; then
		rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
		rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
	fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# bookworm's own qemu (7.2) is too old for virtme-ng; backports has 10.
qemu_ok() {
	installed qemu-system-x86 || return 1
	local v
	v=$(dpkg-query -W -f='${Version}' qemu-system-x86)
	v=${v#*:}
	[ "${v%%.*}" -ge 8 ]
}

install_host_packages() {
	local missing=() p
	for p in "${HOST_PKGS[@]}"; do
		installed "$p" || missing+=("$p")
	done
	local need_qemu=0
	if [ "$build_only" -eq 0 ] && ! qemu_ok; then need_qemu=1; fi
	if [ ${#missing[@]} -eq 0 ] && [ "$need_qemu" -eq 0 ]; then
		return
	fi
	need_root
	local apt_install=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends)
	if [ "$need_qemu" -eq 1 ]; then
		local mirror bpo=/etc/apt/sources.list.d/scx-gamer-bookworm-backports.sources
		mirror=$(debian_mirror)
		if [ ! -f "$bpo" ]; then
			log "adding bookworm-backports from $mirror"
			"${SUDO[@]}" tee "$bpo" >/dev/null <<SRC
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
		fi
	fi
	"${SUDO[@]}" apt-get update -qq
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing: ${missing[*]}"
		"${apt_install[@]}" "${missing[@]}"
	fi
	if [ "$need_qemu" -eq 1 ]; then
		log "installing qemu-system-x86 from bookworm-backports"
		"${apt_install[@]}" -t bookworm-backports qemu-system-x86
	fi
}

# A private apt state for trixie-backports: the host's apt never sees it, and
# we only ever download from it.
fetch_kernel() {
	if [ -f "$KDIR/ready" ]; then
		return
	fi
	local mirror apt_dir
	mirror=$(debian_mirror)
	apt_dir=$CACHE/apt
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/debs"
	cat >"$apt_dir/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie-backports main
SRC
	local aptopt=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
		-o "Dir::Etc::SourceParts=/dev/null"
		-o "Dir::State::Lists=$apt_dir/lists"
		-o "Dir::Cache::archives=$apt_dir/archives"
		-o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
		-o "APT::Architecture=amd64" -o "Debug::NoLocking=1"
		-o "APT::Sandbox::User=root")
	log "reading trixie-backports index"
	apt-get "${aptopt[@]}" update -qq
	# The newest plain amd64 flavour (not cloud, not rt) in trixie-backports.
	local ver
	ver=$(apt-cache "${aptopt[@]}" search --names-only '^linux-binary-[0-9].*-amd64$' |
		awk '{print $1}' | grep -v -e '-cloud-' -e '-rt-' | sed 's/^linux-binary-//' |
		sort -V | tail -1)
	[ -n "$ver" ] || { echo "setup-vm: no amd64 kernel in trixie-backports" >&2; exit 1; }
	log "kernel $ver"
	local pkgs=("linux-binary-$ver" "linux-modules-$ver" "linux-base-$ver")
	rm -f "$apt_dir"/debs/*.deb
	(cd "$apt_dir/debs" && apt-get "${aptopt[@]}" download "${pkgs[@]}")
	rm -rf "$KDIR.tmp"
	mkdir -p "$KDIR.tmp"
	for deb in "$apt_dir"/debs/*.deb; do
		dpkg-deb -x "$deb" "$KDIR.tmp"
	done
	local kver
	kver=$(ls "$KDIR.tmp/lib/modules" 2>/dev/null || ls "$KDIR.tmp/usr/lib/modules")
	if [ -d "$KDIR.tmp/usr/lib/modules" ] && [ ! -d "$KDIR.tmp/lib/modules" ]; then
		mkdir -p "$KDIR.tmp/lib"
		ln -s ../usr/lib/modules "$KDIR.tmp/lib/modules"
	fi
	depmod -b "$KDIR.tmp" "$kver"
	echo "$kver" >"$KDIR.tmp/version"
	rm -rf "$KDIR"
	mv "$KDIR.tmp" "$KDIR"
	touch "$KDIR/ready"
}

install_vng() {
	if [ -x "$CACHE/venv/bin/vng" ]; then
		return
	fi
	log "installing virtme-ng from PyPI"
	python3 -m venv "$CACHE/venv"
	"$CACHE/venv/bin/pip" install -q virtme-ng
}

install_virtiofsd() {
	if [ -x "$CACHE/bin/virtiofsd" ]; then
		return
	fi
	log "building virtiofsd (bookworm's glibc is too old for Debian's binary)"
	cargo install -q --locked --root "$CACHE" virtiofsd
}

build_only=0
case "${1:-}" in
--build-deps) build_only=1 ;;
"") HOST_PKGS+=("${VM_PKGS[@]}") ;;
*) echo "setup-vm: unknown option '$1'" >&2; exit 2 ;;
esac

check_rust
install_host_packages
[ "$build_only" -eq 0 ] || exit 0
fetch_kernel
install_vng
install_virtiofsd
log "ready: kernel $(cat "$KDIR/version") in $KDIR"
