/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The input ringbufs and the rules every producer follows: which ring a CPU
 * writes to, when a record wakes the consumer, and how a drop is counted.
 * events.bpf.c includes this for the scheduler; eventbench.bpf.c includes
 * it so that the event benchmark fills exactly the same layout.
 */
#ifndef __SCX_GAMER_RINGS_BPF_H
#define __SCX_GAMER_RINGS_BPF_H

#include "intf.h"

struct input_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, GAMER_RING_BYTES);
};

struct input_ring input_ring_0 SEC(".maps"), input_ring_1 SEC(".maps"),
	input_ring_2 SEC(".maps"), input_ring_3 SEC(".maps"),
	input_ring_4 SEC(".maps"), input_ring_5 SEC(".maps"),
	input_ring_6 SEC(".maps"), input_ring_7 SEC(".maps"),
	input_ring_8 SEC(".maps"), input_ring_9 SEC(".maps"),
	input_ring_10 SEC(".maps"), input_ring_11 SEC(".maps"),
	input_ring_12 SEC(".maps"), input_ring_13 SEC(".maps"),
	input_ring_14 SEC(".maps"), input_ring_15 SEC(".maps");

/* The input ringbuf of CPU n is input_rings[n % GAMER_NR_INPUT_RINGS]. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, GAMER_NR_INPUT_RINGS);
	__type(key, u32);
	__array(values, struct input_ring);
} input_rings SEC(".maps") = {
	.values = {
		&input_ring_0, &input_ring_1, &input_ring_2, &input_ring_3,
		&input_ring_4, &input_ring_5, &input_ring_6, &input_ring_7,
		&input_ring_8, &input_ring_9, &input_ring_10, &input_ring_11,
		&input_ring_12, &input_ring_13, &input_ring_14, &input_ring_15,
	},
};

/* Records dropped because their ringbuf was full, per enum gamer_ring. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GAMER_NR_RINGS);
	__type(key, u32);
	__type(value, u64);
} ring_drops SEC(".maps");

/*
 * Records dropped per input ringbuf (input_ring_N); ring_drops has their
 * sum under GAMER_RING_INPUT.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GAMER_NR_INPUT_RINGS);
	__type(key, u32);
	__type(value, u64);
} input_ring_drops SEC(".maps");

static __always_inline void *input_ring_of(u32 cpu)
{
	u32 idx = cpu % GAMER_NR_INPUT_RINGS;

	return bpf_map_lookup_elem(&input_rings, &idx);
}

static __always_inline void ring_drop(u32 ring)
{
	u64 *cnt = bpf_map_lookup_elem(&ring_drops, &ring);

	if (cnt)
		(*cnt)++;
}

/* The input ringbuf of @cpu was full: count the drop for it and in sum. */
static __always_inline void input_ring_drop(u32 cpu)
{
	u32 idx = cpu % GAMER_NR_INPUT_RINGS;
	u64 *cnt = bpf_map_lookup_elem(&input_ring_drops, &idx);

	if (cnt)
		(*cnt)++;
	ring_drop(GAMER_RING_INPUT);
}

/*
 * Wake the consumer only when the data waiting in @ring crosses half the
 * ring, with the record of @size bytes just reserved; below that it drains
 * on its own timer. Only the crossing wakes: records that arrive while the
 * consumer is already draining a full half do not wake it again. A burst of
 * events thus costs one wakeup, not one per event. Should producers on two
 * CPUs jump past the crossing together, the consumer's timer still drains
 * the ring.
 */
static __always_inline u64 wake_flag(void *ring, u64 size)
{
	u64 avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);

	return avail >= GAMER_RING_WAKE_BYTES && avail < GAMER_RING_WAKE_BYTES + size ?
		BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

#endif /* __SCX_GAMER_RINGS_BPF_H */
