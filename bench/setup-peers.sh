#!/usr/bin/env bash
# Install the benchmark's peer schedulers, pinned, from crates.io with
# `cargo install --locked` into the cache: benchmark peers, never
# dependencies of scx_gamer.
#
#   bench/setup-peers.sh                  every peer
#   bench/setup-peers.sh scx_cake ...     only those
#   bench/setup-peers.sh --list           print "name version" of each peer
#   bench/setup-peers.sh --tools [...]    upstream's tools instead (scxtop),
#                                         that read scx_gamer's stats
#                                         socket
#
# Each peer goes to its own root, $CACHE/peers/<name>-<version> (a tool to
# $CACHE/tools/<name>-<version>), so bumping a pin never reuses an old binary. A peer that fails to build leaves
# $CACHE/peers/<name>-<version>.failed holding the reason (the last error
# lines of cargo's output); the benchmark shows that reason in its table
# instead of dropping the peer. A later run retries it. Idempotent: an
# installed peer is not rebuilt. Exits 0 even when a peer fails to build,
# since that failure is itself a benchmark result; exits 2 on bad input.
set -euo pipefail
CACHE=${SCX_GAMER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scx_gamer}

# The pins: today's upstream releases of the gaming-relevant peers.
PEERS="scx_bpfland:1.1.4 scx_lavd:1.1.4 scx_cake:1.2.2 scx_cosmos:1.1.7 scx_flash:1.1.4"
# scxtop: the release of the scx_stats scx_gamer serves (Cargo.toml).
TOOLS="scxtop:1.1.4"
kind=peers
if [ "${1:-}" = --tools ]; then
	PEERS=$TOOLS kind=tools
	shift
fi

peer_version() {
	local p
	for p in $PEERS; do
		[ "${p%%:*}" = "$1" ] && { echo "${p#*:}"; return 0; }
	done
	return 1
}

if [ "${1:-}" = --list ]; then
	for p in $PEERS; do echo "${p%%:*} ${p#*:}"; done
	exit 0
fi
want=("$@")
if [ ${#want[@]} -eq 0 ]; then
	for p in $PEERS; do want+=("${p%%:*}"); done
fi
for name in "${want[@]}"; do
	peer_version "$name" >/dev/null || { echo "setup-peers: unknown $kind entry '$name' (see --list)" >&2; exit 2; }
done

mkdir -p "$CACHE/$kind"
for name in "${want[@]}"; do
	version=$(peer_version "$name")
	root=$CACHE/$kind/$name-$version
	[ -x "$root/bin/$name" ] && continue
	echo "setup-peers: building $name $version from crates.io (several minutes)" >&2
	log=$CACHE/$kind/$name-$version.log
	# The scx crates compile their BPF side with the clang scx_gamer uses;
	# one shared target directory lets the later peers reuse the libbpf and
	# scx_utils builds of the first.
	if BPF_CLANG=${BPF_CLANG:-clang-19} CARGO_TARGET_DIR=$CACHE/peers/target \
		nice -n 10 cargo install --locked --root "$root" \
		"$name@$version" >"$log" 2>&1; then
		rm -f "$CACHE/$kind/$name-$version.failed"
	else
		{
			echo "cargo install $name@$version failed:"
			grep -E '^(error|warning: build failed)' "$log" | head -3
		} >"$CACHE/$kind/$name-$version.failed"
		echo "setup-peers: $name $version failed to build; see $log" >&2
	fi
done
