// SPDX-License-Identifier: GPL-2.0-only
//
// The libbpf-rs skeleton build.rs generates from src/bpf/main.bpf.c.

include!(concat!(env!("OUT_DIR"), "/bpf_skel.rs"));
