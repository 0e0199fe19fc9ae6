// SPDX-License-Identifier: GPL-2.0-only
//
// scx_gamer as a library: everything the scheduler binary (src/main.rs) is
// made of, so that the other binaries (the man page generator, the event
// benchmark) use the very same code rather than copies of it.
//
// Where each concern lives:
// - bpf_intf, bpf_skel: what build.rs generates from src/bpf/.
// - names: the names of intf.h's enums (streams, dispatch paths) and the
//   fixed paths, shared by every layer below.
// - cli: the flags, their units and ranges.
// - preflight: refusals before anything is loaded.
// - scheduler: one attachment of the BPF program, from open to detach.
// - classes: the thread classes as userspace sees them.
// - hooks: which optional class hooks this kernel can take.
// - detect: finding the game and the audio servers from exec, exit and
//   inotify events.
// - launch: `scx_gamer run`, the launch wrapper, and its socket.
// - logging: journald-aware log output.
// - events: the event ringbufs' records and the epoll loop that reads them.
// - stats: the metrics snapshot, its servers and its views.

pub mod bpf_intf;
pub mod bpf_skel;
pub mod classes;
pub mod cli;
pub mod detect;
pub mod events;
pub mod hooks;
pub mod launch;
pub mod logging;
pub mod names;
pub mod preflight;
pub mod scheduler;
pub mod stats;
pub mod topology;
