// SPDX-License-Identifier: GPL-2.0-only
//
// Events from the BPF side (src/bpf/events.bpf.c) to userspace
// (docs/events.md): `records` the record types and their text, `event_loop`
// the one epoll loop that drains every ringbuf into bounded channels.

pub mod event_loop;
pub mod records;
