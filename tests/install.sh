#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Checks of the service install, all inside temporary DESTDIR trees (nothing
# here touches the running system): `make install` puts exactly the expected
# files in place and `make uninstall` removes exactly them, the unit passes
# `systemd-analyze verify`, the man page, the completions and the default
# config name every flag `scx_gamer --help` lists, and log lines carry
# journald priority prefixes only when stderr is the journal.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
passed=0 failed=0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The journald check runs the binary as nobody, who must reach it.
chmod 755 "$work"

# Run one check; its outcome is also left in $ok for checks that others
# depend on.
ok=0
check() {
	local name=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		ok=1
		echo "ok: $name"
	else
		failed=$((failed + 1))
		ok=0
		echo "FAIL: $name"
	fi
}

note() { echo "note: $*"; }

# make install/uninstall into a DESTDIR, output kept for failures.
run_make() {
	local target=$1 destdir=$2 prefix=$3
	shift 3
	# UNITDIR and NO_BUILD from the caller's environment would change what
	# the checks expect.
	if ! env -u UNITDIR -u NO_BUILD make -s -C "$src" "$target" \
		DESTDIR="$destdir" PREFIX="$prefix" "$@" >"$work/make.log" 2>&1; then
		cat "$work/make.log"
		return 1
	fi
}

# Every file and symlink under a tree, as absolute paths inside it.
files_in() {
	(cd "$1" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort)
}

expected_files() {
	local p=$1 unitdir=$2
	sort <<EOF
/etc/default/scx_gamer
$p/bin/scx_gamer
$unitdir/scx_gamer.service
$p/share/bash-completion/completions/scx_gamer
$p/share/fish/vendor_completions.d/scx_gamer.fish
$p/share/man/man1/scx_gamer.1
$p/share/scx_gamer/install-manifest
$p/share/zsh/site-functions/_scx_gamer
EOF
}

same_files() {
	local tree=$1 p=$2 unitdir=$3
	diff -u <(expected_files "$p" "$unitdir") <(files_in "$tree")
}

tree_is_empty() {
	local left
	left=$(cd "$1" && find . -mindepth 1)
	[ -z "$left" ] || { echo "left behind:"; echo "$left"; return 1; }
}

uninstall_leaves_nothing() {
	run_make uninstall "$1" "$2" && tree_is_empty "$1"
}

exec_start_is() {
	local unit=$1 bin=$2
	grep -qxF "ExecStart=$bin \$SCX_GAMER_FLAGS" "$unit" || {
		grep '^ExecStart' "$unit"
		return 1
	}
}

# The unit as installed, with ExecStart pointed at the DESTDIR copy of the
# binary (verify checks that it exists and is executable) and the installed
# man page on MANPATH (verify checks Documentation=man: pages). Any warning
# fails too: verify exits 0 on settings it ignores.
verify_unit() {
	local unit=$1 destdir=$2 prefix=$3 dir out rc=0
	command -v systemd-analyze >/dev/null ||
		{ echo "systemd-analyze not found: apt-get install systemd"; return 1; }
	dir=$(mktemp -d "$work/verify.XXXX")
	sed "s|^ExecStart=$prefix/bin/|ExecStart=$destdir$prefix/bin/|" "$unit" >"$dir/scx_gamer.service"
	out=$(cd "$dir" && MANPATH=$destdir$prefix/share/man \
		systemd-analyze verify "$dir/scx_gamer.service" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] && [ -z "$out" ] || {
		echo "systemd-analyze verify (exit $rc): $out"
		return 1
	}
}

# The verify check itself must fail on broken units, or it proves nothing.
verify_catches() {
	local unit=$1 destdir=$2 prefix=$3 broken=$work/broken/scx_gamer.service mutation
	command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found"; return 1; }
	mkdir -p "$work/broken"
	for mutation in 's/^Restart=on-failure$/Restart=sometimes/' \
		's/^Type=exec$/Typo=exec/' \
		"s|^ExecStart=$prefix/bin/scx_gamer|ExecStart=$prefix/bin/scx_gamer_missing|"; do
		sed "$mutation" "$unit" >"$broken"
		! cmp -s "$unit" "$broken" || { echo "mutation '$mutation' changed nothing"; return 1; }
		if verify_unit "$broken" "$destdir" "$prefix" >/dev/null; then
			echo "verify accepted a unit broken by '$mutation'"
			return 1
		fi
	done
}

# Every value of the unit's KEY= lines, one a line.
unit_values() { sed -n "s/^$2=//p" "$1" | tr ' ' '\n' | grep . | sort -u; }

# The unit conflicts with, and is ordered after, upstream's scx.service (by
# the name upstream's own file has, tests/fixtures/upstream-units), and
# does not conflict with the unit scx_loader's D-Bus activation starts, so
# that a D-Bus query cannot stop scx_gamer.
conflicts_upstream() {
	local unit=$1 up=$src/tests/fixtures/upstream-units dbus
	grep -q '^ExecStart=' "$up/scx.service" || { echo "no upstream unit scx.service"; return 1; }
	unit_values "$unit" Conflicts | grep -qx scx.service || { echo "Conflicts= lacks scx.service"; return 1; }
	unit_values "$unit" After | grep -qx scx.service || { echo "After= lacks scx.service"; return 1; }
	dbus=$(sed -n 's/^SystemdService=//p' "$up/org.scx.Loader.service")
	grep -q '^ExecStart=' "$up/$dbus" || { echo "org.scx.Loader activates '$dbus', which upstream does not ship"; return 1; }
	if unit_values "$unit" Conflicts | grep -qx "$dbus"; then
		echo "Conflicts= has $dbus, which any D-Bus query to org.scx.Loader starts"
		return 1
	fi
}

# ...and that check fails on a unit that breaks either rule.
conflicts_check_catches() {
	local unit=$1 broken=$work/broken/conflicts.service mutation
	mkdir -p "$work/broken"
	for mutation in 's/^Conflicts=scx.service/Conflicts=/' 's/^After=scx.service/After=/' \
		's/^Conflicts=scx.service/Conflicts=scx.service scx_loader.service/'; do
		sed "$mutation" "$unit" >"$broken"
		! cmp -s "$unit" "$broken" || { echo "mutation '$mutation' changed nothing"; return 1; }
		if conflicts_upstream "$broken" >/dev/null; then
			echo "the check accepted a unit broken by '$mutation'"
			return 1
		fi
	done
}

# Long flags from --help, so a new flag is checked without editing this.
flags=()
read_flags() {
	mapfile -t flags < <("$1" --help | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u)
	[ "${#flags[@]}" -ge 3 ] && printf '%s\n' "${flags[@]}" | grep -qx -- --slice-us ||
		{ echo "flags read from --help: ${flags[*]}"; return 1; }
}

# Whether normalised text names a flag as a whole word (so --slice does not
# pass because --slice-us is there).
names_flag() {
	local text=$1 flag=$2
	grep -qE -- "(^|[^A-Za-z0-9-])${flag}([^A-Za-z0-9-]|$)" <<<"$text"
}

mentions_every_flag() {
	local kind=$1 file=$2 text flag missing=()
	text=$(cat "$file")
	case "$kind" in
	# roff writes a hyphen as \- and switches fonts with \fB, \fR...
	man) text=$(sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' <<<"$text") ;;
	# fish names long options without dashes: complete -c scx_gamer -l slice-us
	fish) text=$(sed -E 's/ -l ([a-z0-9-]+)/ --\1/g' <<<"$text") ;;
	esac
	for flag in "${flags[@]}"; do
		if [ "$kind" = config ] && { [ "$flag" = --help ] || [ "$flag" = --version ] ||
			[ "$flag" = --list-game-candidates ]; }; then
			continue
		fi
		names_flag "$text" "$flag" || missing+=("$flag")
	done
	[ "${#missing[@]}" -eq 0 ] || { echo "$file lacks: ${missing[*]}"; return 1; }
}

man_renders_cleanly() {
	local out
	out=$(groff -man -ww -z "$1" 2>&1) && [ -z "$out" ] || { echo "$out"; return 1; }
}

bash_completes_flags() {
	local file=$1 got
	bash -n "$file" || return 1
	got=$(bash -c '
		source "$1"
		COMP_WORDS=(scx_gamer --slice); COMP_CWORD=1
		_scx_gamer scx_gamer --slice scx_gamer
		printf "%s\n" "${COMPREPLY[@]}"' _ "$file" | sort | tr '\n' ' ')
	[ "$got" = "--slice-lag-us --slice-us " ] || { echo "completed --slice to: $got"; return 1; }
}

config_feeds_the_unit() {
	local config=$1 unit=$2 active
	grep -qxF 'EnvironmentFile=-/etc/default/scx_gamer' "$unit" || { echo "unit lacks the EnvironmentFile"; return 1; }
	active=$(grep -vE '^[[:space:]]*(#|$)' "$config")
	[ "$active" = 'SCX_GAMER_FLAGS=""' ] || { echo "active config lines: $active"; return 1; }
}

binary_runs() {
	local out
	out=$("$1" --version) && [[ "$out" == "scx_gamer "* ]] || { echo "--version: $out"; return 1; }
}

# The refusal this machine gives (no sched_ext, or not root) is logged
# through `log` at error level, which is what the journal check needs. Root
# runs it as nobody with no capabilities at all, so that on a sched_ext
# kernel it is refused too and never attaches.
refuse() {
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
	else
		setpriv --reuid=65534 --regid=65534 --clear-groups \
			--inh-caps=-all --bounding-set=-all --no-new-privs "$@"
	fi
}

log_line_in_journal_format() {
	local bin=$1 err=$work/journal.err first stream
	: >"$err"
	chmod 666 "$err"
	stream=$(stat -c '%d:%i' "$err")
	JOURNAL_STREAM=$stream refuse "$bin" 2>"$err" || true
	first=$(head -n1 "$err")
	[[ "$first" == "<3>[ERROR] "* ]] || { echo "first line: $first"; return 1; }
	! grep -q $'\e' "$err" || { echo "colour codes in the journal output"; return 1; }
}

log_line_plain_elsewhere() {
	local bin=$1 err=$work/plain.err first mode
	for mode in unset other-stream; do
		: >"$err"
		chmod 666 "$err"
		if [ "$mode" = unset ]; then
			(unset JOURNAL_STREAM && refuse "$bin" 2>"$err") || true
		else
			# A stream that is not this stderr: inherited, not ours.
			JOURNAL_STREAM=1:1 refuse "$bin" 2>"$err" || true
		fi
		first=$(head -n1 "$err")
		[[ "$first" == "[ERROR] "* ]] || { echo "JOURNAL_STREAM $mode, first line: $first"; return 1; }
		! grep -q $'\e' "$err" || { echo "colour codes in output to a file"; return 1; }
	done
}

# Install over an existing config: the user's file stays as it was, through
# install and uninstall, and only it remains.
keeps_existing_config() {
	local d=$work/existing prefix=/usr/local left
	mkdir -p "$d/etc/default"
	echo 'SCX_GAMER_FLAGS="--slice-us 3000"' >"$d/etc/default/scx_gamer"
	run_make install "$d" "$prefix" NO_BUILD=1 || return 1
	[ "$(cat "$d/etc/default/scx_gamer")" = 'SCX_GAMER_FLAGS="--slice-us 3000"' ] ||
		{ echo "install changed the existing config"; return 1; }
	! grep -q '^config' "$d$prefix/share/scx_gamer/install-manifest" ||
		{ echo "install claimed the existing config"; return 1; }
	run_make uninstall "$d" "$prefix" || return 1
	left=$(files_in "$d")
	[ "$left" = /etc/default/scx_gamer ] || { echo "after uninstall: $left"; return 1; }
	[ "$(cat "$d/etc/default/scx_gamer")" = 'SCX_GAMER_FLAGS="--slice-us 3000"' ] ||
		{ echo "uninstall changed the existing config"; return 1; }
}

# A config install wrote and the user then edited stays on uninstall, with
# a message saying so; nothing else does.
keeps_edited_config() {
	local d=$work/edited prefix=/usr/local left
	run_make install "$d" "$prefix" NO_BUILD=1 || return 1
	echo 'SCX_GAMER_FLAGS="--slice-us 2000"' >>"$d/etc/default/scx_gamer"
	run_make uninstall "$d" "$prefix" || return 1
	grep -q "kept /etc/default/scx_gamer" "$work/make.log" || { cat "$work/make.log"; return 1; }
	left=$(files_in "$d")
	[ "$left" = /etc/default/scx_gamer ] || { echo "after uninstall: $left"; return 1; }
}

# Installing twice records the same things, so uninstall still empties the
# tree; the unedited config is refreshed rather than kept as the user's.
reinstall_then_uninstall() {
	local d=$work/twice prefix=/usr/local
	run_make install "$d" "$prefix" NO_BUILD=1 || return 1
	run_make install "$d" "$prefix" NO_BUILD=1 || return 1
	grep -q "updated /etc/default/scx_gamer" "$work/make.log" || { cat "$work/make.log"; return 1; }
	same_files "$d" "$prefix" "$prefix/lib/systemd/system" || return 1
	run_make uninstall "$d" "$prefix" || return 1
	tree_is_empty "$d"
}

# --- PREFIX=/usr/local, built by make install itself ---
d=$work/local
prefix=/usr/local
unit=$d$prefix/lib/systemd/system/scx_gamer.service
bin=$d$prefix/bin/scx_gamer
check "make install builds and installs into DESTDIR (PREFIX=$prefix)" run_make install "$d" "$prefix"
if [ "$ok" -eq 1 ]; then
	check "installed binary runs" binary_runs "$bin"
	check "flags read from scx_gamer --help" read_flags "$bin"
	echo "note: flags checked: ${flags[*]}"
	check "DESTDIR holds exactly the expected files (PREFIX=$prefix)" \
		same_files "$d" "$prefix" "$prefix/lib/systemd/system"
	check "unit runs $prefix/bin/scx_gamer with \$SCX_GAMER_FLAGS" exec_start_is "$unit" "$prefix/bin/scx_gamer"
	check "systemd-analyze verify passes on the installed unit, without warnings" \
		verify_unit "$unit" "$d" "$prefix"
	check "systemd-analyze verify check rejects broken units" verify_catches "$unit" "$d" "$prefix"
	check "unit conflicts with, and starts after, upstream's scx.service, and not scx_loader.service" \
		conflicts_upstream "$unit"
	check "that check rejects a unit missing one of them" conflicts_check_catches "$unit"
	check "unit reads /etc/default/scx_gamer, whose one active line sets SCX_GAMER_FLAGS" \
		config_feeds_the_unit "$d/etc/default/scx_gamer" "$unit"
	check "man page mentions every long flag" mentions_every_flag man "$d$prefix/share/man/man1/scx_gamer.1"
	if command -v groff >/dev/null; then
		check "man page renders without groff warnings" man_renders_cleanly "$d$prefix/share/man/man1/scx_gamer.1"
	else
		note "groff not installed; man page rendering not checked"
	fi
	comp=$d$prefix/share
	check "bash completion mentions every long flag" mentions_every_flag bash "$comp/bash-completion/completions/scx_gamer"
	check "bash completion parses and completes --slice to both slice flags" \
		bash_completes_flags "$comp/bash-completion/completions/scx_gamer"
	check "zsh completion mentions every long flag" mentions_every_flag zsh "$comp/zsh/site-functions/_scx_gamer"
	check "fish completion mentions every long flag" mentions_every_flag fish "$comp/fish/vendor_completions.d/scx_gamer.fish"
	if command -v zsh >/dev/null; then
		check "zsh completion parses" zsh -n "$comp/zsh/site-functions/_scx_gamer"
	else
		note "zsh not installed; zsh completion syntax not checked"
	fi
	if command -v fish >/dev/null; then
		check "fish completion parses" fish --no-execute "$comp/fish/vendor_completions.d/scx_gamer.fish"
	else
		note "fish not installed; fish completion syntax not checked"
	fi
	check "default config lists every flag but --help, --version and --list-game-candidates" \
		mentions_every_flag config "$d/etc/default/scx_gamer"
	check "log lines carry journald priority prefixes when stderr is the journal stream" \
		log_line_in_journal_format "$bin"
	check "log lines are plain, without prefix or colour, when stderr is a file" \
		log_line_plain_elsewhere "$bin"
	check "make uninstall removes every file and directory install added" \
		uninstall_leaves_nothing "$d" "$prefix"
fi

# --- PREFIX=/usr: the unit goes where systemd's vendor units live ---
d=$work/usr
prefix=/usr
check "make install NO_BUILD=1 installs what is built (PREFIX=$prefix)" run_make install "$d" "$prefix" NO_BUILD=1
if [ "$ok" -eq 1 ]; then
	check "DESTDIR holds exactly the expected files (PREFIX=$prefix)" \
		same_files "$d" "$prefix" /usr/lib/systemd/system
	check "unit runs /usr/bin/scx_gamer" exec_start_is "$d/usr/lib/systemd/system/scx_gamer.service" /usr/bin/scx_gamer
	check "systemd-analyze verify passes (PREFIX=$prefix)" \
		verify_unit "$d/usr/lib/systemd/system/scx_gamer.service" "$d" "$prefix"
	check "make uninstall empties the tree (PREFIX=$prefix)" \
		uninstall_leaves_nothing "$d" "$prefix"
fi

check "install and uninstall keep a config that was there before" keeps_existing_config
check "uninstall keeps a config edited after install" keeps_edited_config
check "installing twice, then uninstalling, leaves nothing" reinstall_then_uninstall

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
