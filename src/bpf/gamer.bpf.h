/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the BPF files of scx_gamer share with each other but not with
 * userspace: the per-task context and the functions one file calls in
 * another. main.bpf.c is the scheduler; classify.bpf.c works out which class
 * each thread belongs to, from the evidence of the hooks in drivers.bpf.c
 * and its own.
 */
#ifndef __SCX_GAMER_BPF_H
#define __SCX_GAMER_BPF_H

#include "intf.h"

#define CLASS_BIT(c)	(1U << (c))

/*
 * Nanoseconds from @then to @now, or 0 when @then is later: a timestamp
 * another CPU stored after this one read @now must not wrap into an age.
 */
static inline u64 time_since(u64 now, u64 then)
{
	return time_delta(now, then);
}

struct task_ctx {
	/* Weighted CPU time used so far; the task's place in virtual time. */
	u64 vruntime;
	/* Weighted CPU time used since the task last woke up. */
	u64 awake_vtime;
	/*
	 * Weighted CPU time used while running as a critical task since it
	 * last waited on the shared queue: forgiven there (policy.bpf.c).
	 */
	u64 crit_vtime;
	/* When the task last started running, or 0 while it is not running. */
	u64 exec_start;
	/* The deadline it was last queued with. */
	u64 deadline;
	/*
	 * Real (not weighted) CPU time since the task last woke up, and per
	 * wakeup averaged over recent wakeups: what hog detection compares
	 * with slice_ns, which is real time too.
	 */
	u64 awake_ns;
	u64 avg_runtime;
	/* How often it is woken, and how often it wakes others, per second. */
	u64 wake_freq;
	u64 waker_freq;
	/* When it was last woken, and when it last woke another task. */
	u64 woken_ns;
	u64 waked_ns;

	/* The classes the thread holds now: refreshed on wakeup, enqueue and run. */
	u32 class_mask;
	/* Every class the thread has ever held, so each is counted once. */
	u32 classes_seen;
	/* Classes inherited from a waker, valid until chain_until. */
	u32 chain_mask;
	/* How many wakeups away from the thread that really held the class. */
	u32 chain_depth;
	u64 chain_until;
	/* The waker the inherited classes came from, for the class event. */
	u32 chain_waker;
	/* How the thread most recently came to hold each class. */
	u8 via[GAMER_NR_CLASSES];
	/* When the thread last showed each behaviour that gives a class. */
	u64 input_at;
	u64 audio_at;
	u64 gpu_at;
	/* When its latest GPU submit returned. */
	u64 last_submit_ns;

	/*
	 * The per-process classes (compositor, game, audio server) as of
	 * process-map generation proc_gen; looked up again only when a process
	 * map changed since.
	 */
	u64 proc_gen;
	u32 proc_mask;

	/* When it last became runnable, or 0 once it runs. */
	u64 runnable_at;
	/* When it last woke up. */
	u64 woke_at;
	/* A kernel thread (rcu, kswapd, kworkers): queued as critical unless a hog. */
	bool kthread;
};

/* What runs on each CPU, for choosing whom to preempt (preempt.bpf.c), and its guard. */
struct cpu_ctx {
	/* Deadline of the running task; 0 when the CPU runs nothing of ours. */
	u64 running_deadline;
	/* When this CPU last served the shared queue, or last saw it empty. */
	u64 shared_served_ns;
	/* Whether that task is critical or a kernel thread: never preempted. */
	bool running_critical, running_kthread;
	/* Whether it is a background hog, which a game thread may preempt. */
	bool running_background;
	/*
	 * A waker kicked this CPU and it has not dispatched since. Cleared on
	 * dispatch, not only on a switch: a kicked CPU that finds the waker
	 * taken by another keeps its task without a switch, and would stay
	 * out of every later waker's choice until that task's slice ended.
	 */
	u32 kicked;
};

/* The classes that make a thread critical (policy.bpf.c). */
#define CRITICAL_CLASSES	(CLASS_BIT(GAMER_CLASS_INPUT) | CLASS_BIT(GAMER_CLASS_AUDIO) | \
				 CLASS_BIT(GAMER_CLASS_COMPOSITOR) | \
				 CLASS_BIT(GAMER_CLASS_GPU_SUBMIT) | CLASS_BIT(GAMER_CLASS_GAME))

/* Defined in main.bpf.c. */
struct task_ctx *task_ctx(const struct task_struct *p);
void stat_inc(enum gamer_stat idx);
bool can_run_on(const struct task_struct *p, s32 cpu);

/* Defined in policy.bpf.c; main.bpf.c calls them from its callbacks. */
extern u64 last_input_ns;
/* --no-policy: one queue, no preemption, no tiers. */
extern const volatile bool policy_off;
bool task_is_critical(const struct task_ctx *tctx);
bool task_is_background(const struct task_ctx *tctx);
bool policy_game_active(void);
u64 task_deadline(struct task_ctx *tctx, u64 vtime_now);
u64 task_dsq(const struct task_ctx *tctx);
u64 task_slice(const struct task_ctx *tctx);
bool dispatch_queued(s32 cpu);
void policy_cpu_hotplug(s32 cpu);
void policy_running(struct task_struct *p, struct task_ctx *tctx);
void policy_stopping(struct task_ctx *tctx, u64 delta);

/* Defined in classify.bpf.c; main.bpf.c calls them from its callbacks. */
void classify_select_cpu(struct task_struct *p, struct task_ctx *tctx);
void classify_refresh(struct task_struct *p, struct task_ctx *tctx);
void classify_wakeup(struct task_struct *p, struct task_ctx *tctx);
void classify_running(struct task_struct *p, struct task_ctx *tctx);
void classify_account(struct task_ctx *tctx, u64 delta_ns);
void classify_init_task(struct task_struct *p, bool fork);
void classify_exit_task(struct task_struct *p);
bool classify_knows_process(u32 tgid);
bool classify_is_game(u32 tgid);
void classify_count(u32 mask, bool boost);
/* For the driver hooks of drivers.bpf.c. */
void classify_mark_current(enum gamer_class class, enum gamer_class_via via);
void classify_mark_compositor(enum gamer_class_via via);
bool classify_current_in_game(void);
/* For the exec hook of procs.bpf.c. */
void classify_exec(struct task_struct *p);

/* Defined in events.bpf.c: every ringbuf record is made there. */
void events_input_read(struct file *file, const void *ubuf, long nbytes);
void events_commit(struct task_ctx *tctx, int ret);
void events_frame_presented(struct frame_event *draft);
void present_game_submitted(u32 tgid);
void events_gpu_submit(struct task_ctx *tctx, u32 driver, u32 kind);
void events_runnable(struct task_ctx *tctx, bool wakeup);
void events_running(struct task_struct *p, struct task_ctx *tctx);
void events_proc(struct task_struct *p, u32 kind, const char *filename);
void events_class(struct task_struct *p, struct task_ctx *tctx, u32 class, u64 now);
void events_drop(enum gamer_ring ring);

/* Defined in preempt.bpf.c. */
struct cpu_ctx *cpu_ctx_of(s32 cpu);
void preempt_for(struct task_struct *p, struct task_ctx *tctx);
/* Defined in wakeups.bpf.c. */
void wakeups_record(struct task_struct *p, struct task_ctx *tctx);

/* Defined in topology.bpf.c. */
/* The last-level cache of each CPU id, from userspace's topology. */
extern const volatile u32 cpu_llc[GAMER_MAX_CPUS];
s32 topology_select_cpu(struct task_struct *p, struct task_ctx *tctx, s32 prev_cpu);

/* Defined in procs.bpf.c. */
void procs_fork(struct task_struct *p);

/* Defined in fault.bpf.c: the test-only BPF error. */
void test_fault_check(void);

#endif /* __SCX_GAMER_BPF_H */
