// SPDX-License-Identifier: GPL-2.0-only
//
// scx_gamer as a library: everything the scheduler binary (src/main.rs) is
// made of, so that the other binaries (the man page generator, the event
// benchmark) use the very same code. docs/design.md maps the modules and
// the way data flows between them.

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
