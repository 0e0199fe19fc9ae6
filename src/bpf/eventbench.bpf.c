/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The producer side of the event benchmark (src/bin/scx_gamer_eventbench.rs).
 * It is not part of the scheduler: a syscall program that userspace runs
 * with BPF_PROG_TEST_RUN, each run writing a batch of input records into
 * the same ringbuf layout, with the same wakeup rule, as the scheduler's
 * evdev hook. It needs BPF but no sched_ext, so it runs on any machine.
 */
/*
 * Not scx/common.bpf.h: that brings the scheduler library's probe on
 * sched_ext's registration, which a kernel without sched_ext cannot load.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include "rings.bpf.h"

char _license[] SEC("license") = "GPL";

static long produce_one(u64 i, void *ctx)
{
	struct eventbench_args *args = ctx;
	u32 cpu = bpf_get_smp_processor_id();
	struct input_event_rec *rec;
	void *ring = input_ring_of(cpu);

	if (!ring)
		return 1;
	rec = bpf_ringbuf_reserve(ring, sizeof(*rec), 0);
	if (!rec) {
		input_ring_drop(cpu);
		return 0;
	}
	rec->ts_ns = bpf_ktime_get_ns();
	rec->latency_ns = 0;
	rec->tid = args->first_seq + i;
	rec->cpu = cpu;
	rec->device = 0;
	/* A relative mouse motion (EV_REL, REL_X), the commonest input. */
	rec->type = 2;
	rec->code = 0;
	rec->value = 1;
	rec->pad = 0;
	bpf_ringbuf_submit(rec, wake_flag(ring, sizeof(*rec) + 8));
	return 0;
}

SEC("syscall")
int produce(struct eventbench_args *args)
{
	struct eventbench_args local = *args;

	bpf_loop(local.count, produce_one, &local, 0);
	return 0;
}
