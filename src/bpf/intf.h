/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Everything the BPF scheduler and its Rust userspace share. This header is
 * the one definition: build.rs runs bindgen over it, so the Rust side never
 * mirrors a struct or a constant by hand.
 */
#ifndef __SCX_GAMER_INTF_H
#define __SCX_GAMER_INTF_H

#ifndef __VMLINUX_H__
typedef unsigned char u8;
typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;
#endif

enum gamer_consts {
	/* The one shared deadline-ordered queue every CPU dispatches from. */
	SHARED_DSQ		= 0,
};

/*
 * Where each dispatch went. The BPF side counts them per CPU; userspace sums
 * the CPUs. The order here is the order they are shown in.
 */
enum gamer_stat {
	/* select_cpu found an idle CPU and put the task straight on it. */
	GSTAT_DIRECT_IDLE,
	/* enqueue found an idle CPU the wakeup path had not picked. */
	GSTAT_ENQ_IDLE,
	/* A per-CPU kernel thread, queued on the only CPU it may use. */
	GSTAT_KTHREAD_LOCAL,
	/* Queued on the shared queue, ordered by virtual deadline. */
	GSTAT_SHARED,
	/* Nothing else was runnable, so the running task kept its CPU. */
	GSTAT_KEEP_RUNNING,
	/* A higher-priority class took a CPU; its queued tasks went back. */
	GSTAT_CPU_RELEASE,
	NR_GSTATS,
};

#endif /* __SCX_GAMER_INTF_H */
