// SPDX-License-Identifier: GPL-2.0-only
//
// Build the BPF side: compile src/bpf/*.bpf.c, link them into one object
// and generate the skeleton that src/bpf_skel.rs includes, and turn
// src/bpf/intf.h into the Rust types that src/bpf_intf.rs includes. intf.h
// is the only definition of anything shared. Also builds the separate
// producer object of the event benchmark.

fn main() {
    scx_cargo::BpfBuilder::new()
        .expect("BPF build environment (is clang >= 18 installed? set BPF_CLANG)")
        .enable_intf("src/bpf/intf.h", "bpf_intf.rs")
        .enable_skel("src/bpf/main.bpf.c", "bpf")
        .add_source("src/bpf/classify.bpf.c")
        .add_source("src/bpf/drivers.bpf.c")
        .add_source("src/bpf/policy.bpf.c")
        .add_source("src/bpf/preempt.bpf.c")
        .add_source("src/bpf/wakeups.bpf.c")
        .add_source("src/bpf/topology.bpf.c")
        .add_source("src/bpf/events.bpf.c")
        .add_source("src/bpf/present.bpf.c")
        .add_source("src/bpf/procs.bpf.c")
        .add_source("src/bpf/fault.bpf.c")
        .compile_link_gen()
        .expect("building the BPF scheduler");

    // The event benchmark's producer: a separate object, never loaded by
    // the scheduler.
    scx_cargo::BpfBuilder::new()
        .expect("BPF build environment")
        .enable_skel("src/bpf/eventbench.bpf.c", "eventbench")
        .build()
        .expect("building the event benchmark's BPF producer");
}
