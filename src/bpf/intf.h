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
	/* Length of a task's comm, as in the kernel. */
	GAMER_COMM_LEN		= 16,
	/* How many processes each TGID map (game, compositor, audio) holds. */
	GAMER_MAX_TGIDS		= 4096,
};

/*
 * The classes of thread the scheduler recognises, from what the threads do
 * in the kernel (docs/classification.md). A thread can hold several; each is
 * a bit (1 << class) in a class mask.
 */
enum gamer_class {
	/* Read input events (evdev, hidraw), or was woken by a thread that did. */
	GAMER_CLASS_INPUT,
	/* Woken by a PCM period completing, or part of an audio server. */
	GAMER_CLASS_AUDIO,
	/* Part of a process that puts frames on the display (DRM commit, flip). */
	GAMER_CLASS_COMPOSITOR,
	/* Submitted work to a GPU through its driver. */
	GAMER_CLASS_GPU_SUBMIT,
	/* Part of the game's process tree. */
	GAMER_CLASS_GAME,
	GAMER_NR_CLASSES,
};

/* How a thread came to hold a class; carried in struct class_event. */
enum gamer_class_via {
	GAMER_VIA_EVDEV_READ,
	GAMER_VIA_HIDRAW_READ,
	GAMER_VIA_PCM_PERIOD,
	GAMER_VIA_AUDIO_SERVER,
	GAMER_VIA_DRM_ATOMIC,
	GAMER_VIA_DRM_PAGE_FLIP,
	GAMER_VIA_GPU_IOCTL,
	GAMER_VIA_GAME_TGID,
	/* Inherited from the thread that woke it (a sync chain). */
	GAMER_VIA_WAKE_CHAIN,
	GAMER_NR_VIAS,
};

/* Per-class totals; the BPF side keeps one per CPU, userspace sums them. */
struct class_counters {
	/* Threads that have held the class at some point. */
	u64 threads;
	/* Wakeups of threads while they held the class. */
	u64 wakeups;
	/* CPU time used by threads while they held the class, in ns. */
	u64 cpu_ns;
};

/* The per-CPU value of the class counters map, one entry per class. */
struct class_stats {
	struct class_counters c[GAMER_NR_CLASSES];
};

/* Sent once per thread and class, the first time the thread gets it. */
struct class_event {
	u64 ts_ns;
	u32 tid;
	u32 tgid;
	/* enum gamer_class */
	u32 class_id;
	/* enum gamer_class_via */
	u32 via;
	/* For GAMER_VIA_WAKE_CHAIN: the waking thread; otherwise 0. */
	u32 waker_tid;
	u32 pad;
	char comm[GAMER_COMM_LEN];
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
	/* A critical task woke with no idle CPU; a later deadline was kicked. */
	GSTAT_PREEMPT_KICK,
	NR_GSTATS,
};

#endif /* __SCX_GAMER_INTF_H */
