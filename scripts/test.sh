#!/usr/bin/env bash
# Run every test, from nothing: install what is missing (needs root for apt),
# then formatting and lints, the unit tests, the host-side checks of the
# built binary, and the VM tests on a sched_ext kernel.
#
#   scripts/test.sh            everything
#   scripts/test.sh --no-vm    skip the VM tests (quick local loop)
set -euo pipefail
cd "$(dirname "$0")/.."

vm=1
case "${1:-}" in
--no-vm) vm=0 ;;
"") ;;
*) echo "test: unknown option '$1'" >&2; exit 2 ;;
esac

step() { printf '\n### %s\n' "$*"; }

step "setup"
if [ "$vm" -eq 1 ]; then scripts/setup-vm.sh; else scripts/setup-vm.sh --build-deps; fi

step "format and lints"
cargo fmt --check
cargo clippy --release --all-targets --locked -- -D warnings

step "unit tests"
cargo test --release --locked

step "host checks of the built binary"
cargo build --release --locked
tests/host.sh

if [ "$vm" -eq 1 ]; then
	step "VM tests"
	scripts/test-vm.sh
fi
