#!/usr/bin/env bash
# Run every test, from nothing: install what is missing (needs root for apt),
# then formatting and lints, the unit tests, the host-side checks of the
# built binary and of its service install, the VM tests on a sched_ext
# kernel, and a smoke run of the benchmark.
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

steps=0
step() {
	steps=$((steps + 1))
	printf '\n### %s\n' "$*"
}

step "setup"
if [ "$vm" -eq 1 ]; then scripts/setup-vm.sh; else scripts/setup-vm.sh --build-deps; fi

step "format and lints"
cargo fmt --check
cargo clippy --release --workspace --all-targets --locked -- -D warnings

step "unit tests"
cargo test --release --workspace --locked

step "host checks of the built binary"
cargo build --release --locked
tests/host.sh

step "the BPF compiles for x86 and arm64"
tests/bpf_arch.sh

step "service install checks (into temporary DESTDIR trees)"
tests/install.sh

if [ "$vm" -eq 1 ]; then
	step "VM tests"
	scripts/test-vm.sh

	# A short run of the benchmark, so the instrument cannot rot: it fails
	# when a run yields no frames or a load does no work.
	step "benchmark smoke run"
	bench/run.sh --smoke --out target/bench-smoke
fi

# Every step above stops the run on failure (set -e), so reaching here means
# all of them passed.
echo "test.sh: $steps passed, 0 failed"
