#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build, install and uninstall scx_gamer as a systemd service. The Makefile's
# targets call this; docs/install.md explains what goes where and why.
#
#   scripts/install.sh build       build, then generate the man page, the
#                                  completions and the default config
#   scripts/install.sh install     build, then install and record every file
#                                  and directory it added
#   scripts/install.sh uninstall   remove exactly what the install recorded
#
# Settings come from the environment (make passes its variables on):
#   PREFIX    installation prefix, default /usr/local
#   DESTDIR   staging root put in front of every path (packaging, tests)
#   UNITDIR   systemd unit directory, default $PREFIX/lib/systemd/system
#   NO_BUILD  1: install what `make` built, for `sudo make install` when
#             root has no cargo
# The config is always /etc/default/scx_gamer (under DESTDIR), whatever the
# prefix: that is where the unit and the documentation look for it.
set -euo pipefail

die() {
	echo "install: $*" >&2
	exit 1
}
say() { echo "install: $*"; }

start_dir=$PWD
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
target=${CARGO_TARGET_DIR:-$src/target}
case "$target" in /*) ;; *) target=$src/$target ;; esac
gen=$target/release/generated

PREFIX=${PREFIX:-/usr/local}
PREFIX=${PREFIX%/}
[ -n "$PREFIX" ] || PREFIX=/
UNITDIR=${UNITDIR:-${PREFIX%/}/lib/systemd/system}
UNITDIR=${UNITDIR%/}
DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
case "$DESTDIR" in "" | /*) ;; *) DESTDIR=$start_dir/$DESTDIR ;; esac

# Paths go into the unit's ExecStart, where spaces split words and % starts a
# specifier, and into sed replacements: keep them to plain characters.
for var in PREFIX UNITDIR; do
	val=${!var}
	case "$val" in /*) ;; *) die "$var must be an absolute path, not '$val'" ;; esac
	[[ "$val" =~ ^[A-Za-z0-9._/+-]+$ ]] ||
		die "$var='$val': only letters, digits and . _ / + - are supported"
done

p=${PREFIX%/}
bindir=$p/bin
mandir=$p/share/man/man1
bashdir=$p/share/bash-completion/completions
zshdir=$p/share/zsh/site-functions
fishdir=$p/share/fish/vendor_completions.d
config=/etc/default/scx_gamer
manifest=$p/share/scx_gamer/install-manifest

# systemd's unit search path for system units (systemd.unit(5)).
systemd_unit_dirs=(/etc/systemd/system /usr/local/lib/systemd/system
	/usr/lib/systemd/system /lib/systemd/system)

# Only a real install into / talks to the running systemd; a DESTDIR tree
# is files for somewhere else.
live_systemd() {
	[ -z "$DESTDIR" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

build() {
	if ! command -v cargo >/dev/null; then
		die "cargo not found in PATH. sudo resets PATH, and rustup installs cargo per user:
  build as your user with 'make', then install with 'sudo make install NO_BUILD=1'"
	fi
	cargo build --release --locked
	rm -rf "$gen"
	"$target/release/scx_gamer_gen" "$gen" >/dev/null
}

# Manifest entries: "dir PATH", "file PATH", "config PATH SHA256". Paths are
# without DESTDIR. Directories are listed parents first.
entries=()
has_entry() {
	local e
	for e in "${entries[@]}"; do [ "$e" = "$1" ] && return 0; done
	return 1
}

# Create a directory and each missing parent, recording the ones created.
make_dir() {
	local path=$1 sofar=""
	local part
	IFS=/ read -ra parts <<<"${path#/}"
	for part in "${parts[@]}"; do
		sofar=$sofar/$part
		if [ ! -d "$DESTDIR$sofar" ]; then
			mkdir -m 755 "$DESTDIR$sofar"
			has_entry "dir $sofar" || entries+=("dir $sofar")
		fi
	done
}

put() {
	local mode=$1 from=$2 to=$3
	make_dir "$(dirname "$to")"
	install -m "$mode" "$from" "$DESTDIR$to"
	entries+=("file $to")
}

install_all() {
	if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
		die "installing into $PREFIX and /etc needs root: run 'make' as your user, then 'sudo make install NO_BUILD=1'"
	fi
	if [ "${NO_BUILD:-0}" = 1 ]; then
		[ -x "$target/release/scx_gamer" ] && [ -f "$gen/scx_gamer.default" ] ||
			die "NO_BUILD=1 but nothing is built in $target/release: run 'make' first"
	else
		build
	fi
	umask 022
	[ -z "$DESTDIR" ] || mkdir -p "$DESTDIR"

	# What an earlier install recorded: its directories stay recorded (they
	# exist now only because of it), and its config checksum tells whether
	# the config is still the one it wrote.
	local old_files=() old_cfg_sum="" kind path sum
	if [ -f "$DESTDIR$manifest" ]; then
		while read -r kind path sum; do
			case "$kind" in
			dir) entries+=("dir $path") ;;
			file) old_files+=("$path") ;;
			config) old_cfg_sum=$sum ;;
			esac
		done <"$DESTDIR$manifest"
	fi

	local unit=$tmp/scx_gamer.service
	sed -e "s|@BINDIR@|$bindir|g" -e "s|@SYSCONFDIR@|/etc|g" \
		services/scx_gamer.service.in >"$unit"
	! grep -q '@[A-Z]*@' "$unit" || die "unfilled placeholder in the unit: $(grep '@[A-Z]*@' "$unit")"

	put 755 "$target/release/scx_gamer" "$bindir/scx_gamer"
	put 644 "$unit" "$UNITDIR/scx_gamer.service"
	put 644 "$gen/scx_gamer.1" "$mandir/scx_gamer.1"
	# bash-completion loads a command's completion from a file named after it.
	put 644 "$gen/scx_gamer.bash" "$bashdir/scx_gamer"
	put 644 "$gen/_scx_gamer" "$zshdir/_scx_gamer"
	put 644 "$gen/scx_gamer.fish" "$fishdir/scx_gamer.fish"

	local cfg=$DESTDIR$config
	make_dir "$(dirname "$config")"
	if [ ! -e "$cfg" ]; then
		install -m 644 "$gen/scx_gamer.default" "$cfg"
		entries+=("config $config $(sha "$cfg")")
		say "wrote $config (every line commented: scx_gamer runs with its defaults)"
	elif [ -n "$old_cfg_sum" ] && [ "$(sha "$cfg")" = "$old_cfg_sum" ]; then
		# Still exactly what the last install wrote: refresh it, so its
		# comments list this version's flags.
		install -m 644 "$gen/scx_gamer.default" "$cfg"
		entries+=("config $config $(sha "$cfg")")
		say "updated $config (it was unedited)"
	else
		[ -z "$old_cfg_sum" ] || entries+=("config $config $old_cfg_sum")
		say "kept your $config; this version's flags are listed in $gen/scx_gamer.default"
	fi

	# Files the previous install put in places this one does not use.
	for path in "${old_files[@]}"; do
		has_entry "file $path" || { rm -f "$DESTDIR$path" && say "removed $path (no longer installed)"; }
	done

	make_dir "$(dirname "$manifest")"
	{
		echo "# scx_gamer install manifest; 'make uninstall' removes what it lists."
		printf '%s\n' "${entries[@]}"
	} >"$DESTDIR$manifest"
	chmod 644 "$DESTDIR$manifest"

	local known=0 d
	for d in "${systemd_unit_dirs[@]}"; do [ "$UNITDIR" = "$d" ] && known=1; done
	if [ "$known" -eq 0 ]; then
		say "warning: systemd does not load units from $UNITDIR. Install with" \
			"PREFIX=/usr/local or PREFIX=/usr, or set UNITDIR=/etc/systemd/system," \
			"or run: systemctl link $UNITDIR/scx_gamer.service"
	fi

	say "installed into ${DESTDIR:-/} with PREFIX=$PREFIX; files listed in $manifest"
	if live_systemd; then
		systemctl daemon-reload
		say "start now and at every boot: systemctl enable --now scx_gamer"
		if systemctl is-active --quiet scx_gamer.service; then
			say "scx_gamer.service is running the old binary: systemctl restart scx_gamer"
		fi
	fi
}

uninstall_all() {
	[ -f "$DESTDIR$manifest" ] ||
		die "no install recorded at $DESTDIR$manifest (was scx_gamer installed with this PREFIX and DESTDIR?)"
	if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
		die "uninstalling from $PREFIX and /etc needs root: sudo make uninstall"
	fi
	# Stop the scheduler before its binary goes, and drop the enablement
	# links `systemctl enable` made, so nothing points at a removed unit.
	if live_systemd && systemctl cat scx_gamer.service >/dev/null 2>&1; then
		say "stopping and disabling scx_gamer.service"
		systemctl disable --now scx_gamer.service || true
	fi

	local kind path sum dirs=()
	while read -r kind path sum; do
		case "$kind" in
		file)
			rm -f "$DESTDIR$path"
			say "removed $path"
			;;
		config)
			if [ ! -e "$DESTDIR$path" ]; then
				:
			elif [ "$(sha "$DESTDIR$path")" = "$sum" ]; then
				rm -f "$DESTDIR$path"
				say "removed $path"
			else
				say "kept $path: it was edited after install; delete it yourself if you no longer want it"
			fi
			;;
		dir) dirs+=("$path") ;;
		esac
	done <"$DESTDIR$manifest"
	rm -f "$DESTDIR$manifest"

	# Deepest first. A directory that now holds something else stays.
	local i
	for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
		rmdir "$DESTDIR${dirs[i]}" 2>/dev/null || true
	done
	if live_systemd; then
		systemctl daemon-reload
	fi
	say "uninstalled from ${DESTDIR:-/} (PREFIX=$PREFIX)"
}

case "${1:-}" in
build) build ;;
install) install_all ;;
uninstall) uninstall_all ;;
*)
	echo "usage: scripts/install.sh build|install|uninstall" >&2
	exit 2
	;;
esac
