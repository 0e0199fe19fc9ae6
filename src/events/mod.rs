// SPDX-License-Identifier: GPL-2.0-only
//
// Events from the BPF side to userspace (docs/events.md).
//
// - records: the record types (from intf.h) and their text form.
// - event_loop: the one epoll loop that drains every ringbuf and hands the
//   records to consumers over bounded channels.
//
// The records are produced in src/bpf/events.bpf.c (input, frame, GPU
// submit, run-queue wait, process, migration) and src/bpf/procs.bpf.c decides which
// process events are worth sending.

pub mod event_loop;
pub mod records;
