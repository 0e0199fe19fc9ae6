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
typedef unsigned short u16;
typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;
#endif

enum gamer_consts {
	/* The deadline-ordered queue every CPU dispatches from. */
	SHARED_DSQ		= 0,
	/* Critical tasks' queue, served first (policy.bpf.c says when not). */
	CRITICAL_DSQ		= 1,
	/*
	 * Other tasks that waited too long, moved there out of turn: served
	 * after the critical queue and before the shared one (policy.bpf.c).
	 */
	AGED_DSQ		= 2,
	/*
	 * Critical tasks an RT task displaced, and critical tasks that waited
	 * too long: served before every other queue.
	 */
	FIRST_DSQ		= 3,
	/* Length of a task's comm, as in the kernel. */
	GAMER_COMM_LEN		= 16,
	/* How many processes each TGID map (game, compositor, audio) holds. */
	GAMER_MAX_TGIDS		= 4096,
	/*
	 * Input events go to one of this many ringbufs, picked by CPU id, so
	 * CPUs reporting input at the same time do not contend on one lock.
	 */
	GAMER_NR_INPUT_RINGS	= 16,
	/* Size of each event ringbuf, in bytes (a power of two, >= a page). */
	GAMER_RING_BYTES	= 64 * 1024,
	/*
	 * A producer wakes the consumer only once this much is waiting; below
	 * it the consumer drains on its own short timer. A burst of events
	 * therefore costs one wakeup, not one per event.
	 */
	GAMER_RING_WAKE_BYTES	= 32 * 1024,
	/* At most this many input events are reported per read() of a device. */
	GAMER_MAX_INPUT_PER_READ = 64,
	/* How many bytes of an exec'd file name an exec event carries. */
	GAMER_PATH_LEN		= 128,
	/* The most CPUs the per-CPU topology tables hold. */
	GAMER_MAX_CPUS		= 1024,
	/* How many users the exec filter and the per-user counts hold. */
	GAMER_MAX_UIDS		= 64,
	/*
	 * How many proc_tgids entries BPF makes for one user's processes at
	 * once: a quarter of the map, so no user fills it for the others.
	 */
	GAMER_PROC_PER_UID	= 1024,
	/* In proc_uids: execs of every user are candidates (no logind seat). */
	GAMER_UID_ANY		= 0xffffffff,
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
	/*
	 * Times a thread holding the class was queued with a deadline earlier
	 * than a plain task's, because of its class (the policy's tiers).
	 */
	u64 boosts;
	/* Run-queue waits over the bound (runq-wait events) of threads holding the class. */
	u64 runq_waits;
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
 * The event ringbufs, in the order their drop counters are kept (one u64
 * per ring and CPU, in the ring_drops map).
 */
enum gamer_ring {
	/* The GAMER_NR_INPUT_RINGS input ringbufs share one drop counter. */
	GAMER_RING_INPUT,
	GAMER_RING_FRAME,
	GAMER_RING_GPU_SUBMIT,
	GAMER_RING_RUNQ_WAIT,
	GAMER_RING_PROC,
	GAMER_RING_MIGRATE,
	/* Last: --watch-events takes every stream before it (names.rs). */
	GAMER_RING_CLASS,
	GAMER_NR_RINGS,
};

/*
 * An input event, reported when a reader's read() of an evdev device
 * returned it: the moment the handler got it.
 */
struct input_event_rec {
	/* When the read returned, CLOCK_MONOTONIC ns. */
	u64 ts_ns;
	/* From the kernel stamping the event to the handler getting it, ns. */
	u64 latency_ns;
	/* The reading thread, and the CPU it read on. */
	u32 tid;
	u32 cpu;
	/* The device: N of /dev/input/eventN. */
	u32 device;
	/* As in struct input_event (linux/input.h). */
	u16 type;
	u16 code;
	s32 value;
	u32 pad;
};

/*
 * A frame presented: the kernel delivered a page flip's completion event
 * to the process that asked for it, at the vblank that put it on screen.
 */
struct frame_event {
	/* The kernel's timestamp of that vblank, CLOCK_MONOTONIC ns. */
	u64 ts_ns;
	/* When the completion event was delivered, CLOCK_MONOTONIC ns. */
	u64 delivered_ns;
	/* Since the previous presented frame on this CRTC; 0 for its first. */
	u64 interval_ns;
	/* The vblank sequence number of the presentation. */
	u64 seq;
	/* From the latest GPU submit by any thread to the presentation; 0 if none yet. */
	u64 submit_to_present_ns;
	/* For the process's latest accepted commit: from its thread waking to the commit returning. */
	u64 compositor_latency_ns;
	/*
	 * A game drawing through a compositor: since the previous presentation
	 * on this CRTC that carried a new frame of game_tgid; 0 when this one
	 * carries none or is the first that does.
	 */
	u64 game_interval_ns;
	/* The process the event was delivered to (the DRM file's owner). */
	u32 tgid;
	/* Its thread whose commit or flip was last accepted; 0 if none was seen. */
	u32 tid;
	/* The CRTC's index on its device, as the drm_vblank_event tracepoints give it. */
	u32 crtc;
	/* Vblanks that passed without a frame since the previous one on this CRTC. */
	u32 missed;
	/* Commits refused as busy (-EBUSY: the previous flip still pending)
	 * by this process since its previous presented frame. */
	u32 dropped;
	/* 1 when the process is in the game class. */
	u32 game;
	/*
	 * The game process (not the receiver) whose new frame this presentation
	 * carries: it made a GPU submit after the previous presentation on this
	 * CRTC and before this one's vblank. 0 if none (docs/events.md).
	 */
	u32 game_tgid;
};

/* Which driver a GPU submit went through. */
enum gamer_gpu_driver {
	GAMER_GPU_AMDGPU,
	GAMER_GPU_I915,
	GAMER_GPU_XE,
	GAMER_GPU_NOUVEAU,
	GAMER_GPU_VIRTIO,
	GAMER_GPU_MSM,
	GAMER_GPU_PANFROST,
	GAMER_GPU_PANTHOR,
	GAMER_GPU_NVIDIA,
	GAMER_GPU_VGEM,
	GAMER_NR_GPU_DRIVERS,
};

/* What kind of submit it was. */
enum gamer_submit_kind {
	/* A command stream or batch buffer for the GPU to run. */
	GAMER_SUBMIT_COMMANDS,
	/* A fence attached to a buffer: work whose completion others wait on. */
	GAMER_SUBMIT_FENCE,
	/* A driver ioctl of a driver that submits without one (NVIDIA). */
	GAMER_SUBMIT_DRIVER_IOCTL,
};

struct gpu_submit_event {
	/* When the submit ioctl returned, CLOCK_MONOTONIC ns. */
	u64 ts_ns;
	/* Since this thread's previous submit; 0 for its first. */
	u64 interval_ns;
	u32 tid;
	u32 tgid;
	/* enum gamer_gpu_driver */
	u32 driver;
	/* enum gamer_submit_kind */
	u32 kind;
};

/*
 * A classified thread waited longer to run than its class allows: from
 * becoming runnable (a wakeup, or losing its CPU while still runnable) to
 * running.
 */
struct runq_wait_event {
	u64 ts_ns;
	/* The bound (--runq-wait-us), and the wait it had, ns. */
	u64 bound_ns;
	u64 wait_ns;
	/* wait_ns - bound_ns */
	u64 over_ns;
	u32 tid;
	u32 tgid;
	/* The class mask (1 << enum gamer_class) it held. */
	u32 class_mask;
	/* The CPU it finally ran on. */
	u32 cpu;
	char comm[GAMER_COMM_LEN];
};

/*
 * A classified thread moved to another CPU: the kernel's set_task_cpu(),
 * as the sched_migrate_task tracepoint sees it (a wakeup placed it
 * elsewhere, a CPU pulled it, its affinity changed).
 */
struct migrate_event {
	/* CLOCK_MONOTONIC ns. */
	u64 ts_ns;
	u32 tid;
	u32 tgid;
	/* The CPU it was on, and the one it moves to. */
	u32 from_cpu;
	u32 to_cpu;
	/* 1 when the two CPUs are in different last-level caches. */
	u32 cross_llc;
	/* The class mask (1 << enum gamer_class) it held when it moved. */
	u32 class_mask;
	char comm[GAMER_COMM_LEN];
};

enum gamer_proc_kind {
	GAMER_PROC_EXEC,
	GAMER_PROC_EXIT,
	/* A process of a user in proc_uids made a UNIX socket listen. */
	GAMER_PROC_LISTEN,
};

/*
 * A process of interest started a new program, or ended. The kernel sends
 * only candidates: Wine loaders, .exe images, known launchers and wrappers,
 * anything under a process userspace asked to watch, and the exits of the
 * processes it was told about.
 */
struct gamer_proc_event {
	u64 ts_ns;
	/* enum gamer_proc_kind */
	u32 kind;
	u32 tgid;
	u32 ppid;
	u32 uid;
	char comm[GAMER_COMM_LEN];
	/* For an exec: the file name as passed to exec, cut to fit. */
	char filename[GAMER_PATH_LEN];
};

/*
 * The context the event benchmark's producer (eventbench.bpf.c) gets from
 * BPF_PROG_TEST_RUN.
 */
struct eventbench_args {
	/* How many records to write in this run. */
	u32 count;
	/* Numbered across runs, so the consumer can check none went missing. */
	u32 first_seq;
};

/* What a watched process's descendants are, in the proc_tgids map. */
enum gamer_proc_flag {
	/* Report the execs in this process's subtree (a launcher or wrapper). */
	GAMER_PROC_WATCH	= 1,
	/* An exec of it was reported: report its exit too. */
	GAMER_PROC_REPORTED	= 2,
	/*
	 * Report the execs of its own children, without making entries for
	 * them: a service manager whose socket-activated server is to come.
	 */
	GAMER_PROC_CHILDREN	= 4,
	/* BPF made this entry and counts it in proc_use against .uid. */
	GAMER_PROC_COUNTED	= 8,
};

/* A proc_tgids value. */
struct gamer_proc_entry {
	/* enum gamer_proc_flag bits */
	u32 flags;
	/* The real uid of the process when the entry was made. */
	u32 uid;
};

/* A proc_use value: one user's share of proc_tgids. */
struct gamer_proc_use {
	/* Entries BPF made for this user's processes that are still there. */
	u32 entries;
	u32 pad;
	/* Execs not reported because the user had GAMER_PROC_PER_UID entries. */
	u64 refused;
};

/*
 * Where each dispatch went. The BPF side counts them per CPU; userspace sums
 * the CPUs. The order here is the order they are shown in.
 */
enum gamer_stat {
	/* select_cpu found an idle CPU and put the task straight on it. */
	GSTAT_DIRECT_IDLE,
	/* An idle CPU of the speed its class prefers (topology.bpf.c). */
	GSTAT_TOPOLOGY_IDLE,
	/* enqueue found an idle CPU the wakeup path had not picked. */
	GSTAT_ENQ_IDLE,
	/* A per-CPU kernel thread, queued on the only CPU it may use. */
	GSTAT_KTHREAD_LOCAL,
	/* Queued on the shared queue, ordered by virtual deadline. */
	GSTAT_SHARED,
	/* Queued on the critical queue, served before the shared one. */
	GSTAT_CRITICAL,
	/* Nothing else was runnable, so the running task kept its CPU. */
	GSTAT_KEEP_RUNNING,
	/* A higher-priority class took a CPU; its queued tasks went back. */
	GSTAT_CPU_RELEASE,
	/* A critical task that cpu_release sent back went first in line. */
	GSTAT_DISPLACED,
	/*
	 * A critical task (or a demoted game thread, against a background hog)
	 * woke with no idle CPU: a CPU was kicked.
	 */
	GSTAT_PREEMPT_KICK,
	/* The shared queue had waited too long: served ahead of critical tasks. */
	GSTAT_STARVE_GUARD,
	/* A task had waited over half of --max-wait-ms: moved to run out of turn. */
	GSTAT_AGED,
	/* A game thread queued in the input tier: the game or compositor read input lately. */
	GSTAT_INPUT_TIER,
	NR_GSTATS,
};

#endif /* __SCX_GAMER_INTF_H */
