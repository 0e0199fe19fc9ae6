/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The gaming policy: which queue a task waits on, its virtual deadline there,
 * and its time slice; and what runs on each CPU, which preempt.bpf.c reads.
 *
 * Two queues. Critical tasks hold a class (input, audio, compositor, GPU
 * submit, game) and do not burn whole slices; they wait on CRITICAL_DSQ,
 * which every CPU serves before SHARED_DSQ, where everything else waits. A
 * single queue cannot do this: under a crowd of short sleepers (a build, a
 * message storm) fairness itself sinks the game, because the frame chain uses
 * far more CPU than any one task of the crowd and so falls behind all of them
 * in virtual time. A thread that holds a class but runs whole slices (a
 * slice of real CPU time per wakeup on average, or the lag bound since it
 * woke, whatever its nice level) is treated as a hog and waits on the
 * shared queue like anything else, so no class is a licence to take the
 * CPUs. Kernel threads that are not hogs (rcu, kswapd, unbound kworkers)
 * wait on the critical queue too, so the kernel's own work never queues
 * behind every critical task; they are not a reason to preempt.
 *
 * Starvation guards. On each CPU, when it has not served the shared side
 * for starve_ns while critical tasks keep coming, it takes a task of
 * AGED_DSQ or SHARED_DSQ first, so the guard's share grows with the number
 * of CPUs. And deadlines alone bound a wait only in virtual time: a nice-19
 * task that ran one slice is far ahead in virtual time, and with a hundred
 * runnable tasks on one CPU it would wait tens of seconds of real time (a
 * soak showed khugepaged, preempted inside an RCU read section, waiting
 * long enough for the kernel to report an RCU stall). So AGED_SCANS times
 * per max_wait_ns one CPU looks through both queues and moves every task
 * that has waited over half of max_wait_ns out of turn, in the order
 * found, with a short slice: a critical one onto FIRST_DSQ, which every CPU
 * serves first, and any other onto AGED_DSQ, served after the critical
 * queue and before the shared one. Not before the critical queue: on 8
 * CPUs under hackbench the plain tasks routinely wait that long, and
 * batches of them served first
 * doubled a game's missed frames (docs/benchmarks.md); the guard's turn
 * still reaches them while critical work keeps every CPU busy. A task's
 * wait counts from its wakeup or from when it last ran; a requeue that is
 * neither (a renice, an affinity change, a cgroup move) keeps the wait it
 * had. The bound holds while the CPUs can run every waiting task once in
 * the other half: about (runnable tasks per CPU) x the tick (sched_ext has
 * no hrtick, so a short slice ends at the next tick) under max_wait_ns / 2;
 * docs/tuning.md has what was measured.
 *
 * Deadlines. Within each queue a task's deadline is its vruntime, plus the
 * weighted CPU time it has used since it last woke, plus an offset for its
 * tier, shrunk by its latency criticality:
 *
 *     input, audio, inherited input        0
 *     compositor                           lag / 8
 *     GPU submit                           lag / 4
 *     game                                 3 lag / 8
 *     everything else                      lag / 2
 *     background hog while a game runs     lag / 2 + lag
 *
 * where lag is slice_lag_ns, the bound on how far behind vtime_now any task
 * may start. During the input window after a key press or mouse move, the
 * game's threads rank with input. Latency criticality grows with how often a
 * task is woken and how often it wakes others, and shrinks with how long it
 * runs per wakeup; at its highest it halves the offset. It is what orders a
 * desktop's own interactive threads ahead of its batch work, with or without
 * a game.
 *
 * Slices. A background hog gets a double slice while a game runs: the frame
 * chain takes a CPU from it by preemption, not by waiting for its slice to
 * end, so longer slices only spare the hogs switches among themselves. Input,
 * audio and compositor threads get half a slice: they run briefly, and one
 * that runs long should hand the CPU back to the frame chain sooner.
 *
 * Preemption (preempt.bpf.c). sched_ext has no high-resolution tick: a
 * task that gets a CPU keeps it until its slice ends at a tick. So when a
 * classed critical task is queued and no CPU is idle, it kicks a CPU
 * running a non-critical task that is no kernel thread (it may hold a lock
 * the waker needs) and that no other waker has kicked since it last
 * dispatched: the CPU the wakeup happens on if it qualifies (no IPI), else
 * the latest deadline among its previous CPU and PREEMPT_SAMPLE - 1 others,
 * so the cost does not grow with the machine. The critical task then gets
 * a CPU now rather than at the next tick. Deadlines are no condition for
 * the kick: the critical queue goes first whatever they are, and the frame
 * chain, using more CPU than any one task of a crowd, is ahead of all of
 * them in virtual time; with that condition a game under hackbench missed
 * frames waiting behind the crowd (docs/benchmarks.md). A game thread
 * demoted for burning slices may kick only a CPU running a background hog.
 * Plain short tasks are never a reason to kick: it was measured to cost
 * frames and hog throughput alike (docs/benchmarks.md).
 *
 * Background demotion of hogs applies only while a game thread has run
 * within the last game_idle_ns: with no game, the scheduler is a plain fair
 * one with the interactive ordering above.
 */
#include <scx/common.bpf.h>
#include "gamer.bpf.h"

extern const volatile u64 slice_ns;
extern const volatile u64 slice_lag_ns;

/* How long after an input event the game's threads rank with input. */
const volatile u64 input_boost_ns = 100ULL * 1000 * 1000;
/* How long after a game thread last ran a game still counts as running. */
const volatile u64 game_idle_ns = 1000ULL * 1000 * 1000;
/* How long the shared queue may go unserved while critical tasks run first. */
const volatile u64 starve_ns = 20ULL * 1000 * 1000;
/* The longest a queued task waits before a CPU takes it out of turn. */
const volatile u64 max_wait_ns = 500ULL * 1000 * 1000;
/* Off: one queue, no preemption, no tiers: the baseline deadline scheduler. */
const volatile bool policy_off;

/* The last time the game or the compositor read an input event (classify.bpf.c sets it). */
u64 last_input_ns;
/* The last time a game thread started running. */
static u64 last_game_ns;
/* The largest vruntime seen starting among non-critical tasks: vtime_now for the shared queue. */
static u64 vtime_shared;
/* When a CPU last looked through the queues for tasks waiting too long. */
static u64 aged_scan_ns;

#define BRIEF_CLASSES		(CLASS_BIT(GAMER_CLASS_INPUT) | CLASS_BIT(GAMER_CLASS_AUDIO) | \
				 CLASS_BIT(GAMER_CLASS_COMPOSITOR))

/* How many times per max_wait_ns the queues are looked through. */
#define AGED_SCANS		8

/*
 * Latency criticality runs from 0 to LAT_CRI_MAX; at LAT_CRI_MAX a task's
 * tier offset is halved. Each frequency contributes its log2, so a task
 * woken a thousand times a second scores about 10 for it.
 */
#define LAT_CRI_MAX		16

static bool game_active(u64 now)
{
	return last_game_ns && time_since(now, last_game_ns) < game_idle_ns;
}

/*
 * A task that burns whole slices: it ran a slice of real CPU time since it
 * woke, or usually does per wakeup. Real time, like slice_ns, not the
 * weight-scaled vruntime: a high-weight thread runs many real slices per
 * slice of vruntime.
 */
static bool task_is_hog(const struct task_ctx *tctx)
{
	u64 runtime = tctx->avg_runtime > tctx->awake_ns ? tctx->avg_runtime : tctx->awake_ns;

	return runtime >= slice_ns;
}

/*
 * Holds a critical class, or is a kernel thread, and does not burn whole
 * slices: waits on CRITICAL_DSQ. Burning them here means a slice per
 * wakeup on average, or slice_lag_ns since it last woke: not one slice
 * since it woke, as for task_is_hog. A frame chain that falls behind runs
 * several frames back to back without sleeping; demoted for that, its
 * submit thread waited 200 to 330 ms on the shared queue behind
 * hackbench's 640 tasks on 8 CPUs, and the game's input reached a frame
 * half a second late (docs/benchmarks.md). A thread that never sleeps is
 * still demoted, after slice_lag_ns.
 */
__hidden bool task_is_critical(const struct task_ctx *tctx)
{
	return !policy_off && ((tctx->class_mask & CRITICAL_CLASSES) || tctx->kthread) &&
	       tctx->avg_runtime < slice_ns && tctx->awake_ns < slice_lag_ns;
}

/* Whether a game thread ran lately. */
__hidden bool policy_game_active(void)
{
	return !policy_off && game_active(bpf_ktime_get_ns());
}

/* A hog without a class while a game runs: demoted, with longer slices. */
static bool is_background(const struct task_ctx *tctx, u64 now)
{
	return !policy_off && !(tctx->class_mask & CRITICAL_CLASSES) && task_is_hog(tctx) &&
	       game_active(now);
}

__hidden bool task_is_background(const struct task_ctx *tctx)
{
	return is_background(tctx, bpf_ktime_get_ns());
}

static u32 lat_cri(const struct task_ctx *tctx)
{
	u32 freq = log2_u64(tctx->wake_freq + 1) + log2_u64(tctx->waker_freq + 1);
	u32 run = log2_u64(tctx->avg_runtime / 1000 + 1);

	if (freq <= run)
		return 0;
	return freq - run < LAT_CRI_MAX ? freq - run : LAT_CRI_MAX;
}

/* A game thread that ranks with input because the game's input came lately. */
static bool input_boosted(u32 m, u64 now)
{
	return !(m & (CLASS_BIT(GAMER_CLASS_INPUT) | CLASS_BIT(GAMER_CLASS_AUDIO))) &&
	       (m & CLASS_BIT(GAMER_CLASS_GAME)) && last_input_ns &&
	       time_since(now, last_input_ns) < input_boost_ns;
}

static u64 tier_offset(const struct task_ctx *tctx, u64 now)
{
	u32 m = tctx->class_mask;

	if (m & (CLASS_BIT(GAMER_CLASS_INPUT) | CLASS_BIT(GAMER_CLASS_AUDIO)))
		return 0;
	if (input_boosted(m, now))
		return 0;
	if (m & CLASS_BIT(GAMER_CLASS_COMPOSITOR))
		return slice_lag_ns / 8;
	if (m & CLASS_BIT(GAMER_CLASS_GPU_SUBMIT))
		return slice_lag_ns / 4;
	if (m & CLASS_BIT(GAMER_CLASS_GAME))
		return slice_lag_ns * 3 / 8;
	if (task_is_hog(tctx) && game_active(now))
		return slice_lag_ns / 2 + slice_lag_ns;
	return slice_lag_ns / 2;
}

/* vruntime, the runtime since the last wakeup, and the tier on top. */
static u64 deadline_of(const struct task_ctx *tctx, u64 now)
{
	u64 dl = tctx->vruntime + tctx->awake_vtime;
	u64 off;

	if (policy_off)
		return dl;
	off = tier_offset(tctx, now);
	return dl + off - off * lat_cri(tctx) / (2 * LAT_CRI_MAX);
}

/*
 * The virtual deadline @p is queued with. A task that slept is first pulled
 * up to within slice_lag_ns of @vtime_now, which bounds its head start.
 * (Against vtime_shared for shared tasks, a plain periodic task's p99 wait
 * under tests/vm/crowd.sh's crowd grew from 21 ms to 136 ms.)
 *
 * Bound for the shared queue, a task is forgiven the vruntime it gained as
 * a critical task, down to no earlier than vtime_shared. A classed thread
 * runs first on the critical queue whatever its vruntime, which so runs
 * ahead of the shared tasks' by all the CPU it took; once it burns a slice
 * and waits on the shared queue as a hog, that lead would keep it behind
 * every shared task until they caught up. Forgiven, it competes from level,
 * still paying for its runtime since it woke; a shared task's own vruntime
 * (a nice-19 one) is untouched. A kernel thread there (a hog, or it would
 * be critical) goes no later than the queue's front whatever its nice
 * level: khugepaged, nice 19, was seen holding a renderer's mmap lock while
 * it waited its turn behind CPU hogs, 300 ms at a time. For the same reason
 * a kernel thread is never preempted.
 */
__hidden u64 task_deadline(struct task_ctx *tctx, u64 vtime_now)
{
	bool shared = !policy_off && !task_is_critical(tctx);
	u64 vtime_min = vtime_now > slice_lag_ns ? vtime_now - slice_lag_ns : 0;
	u64 now = bpf_ktime_get_ns();

	if (time_before(tctx->vruntime, vtime_min))
		tctx->vruntime = vtime_min;
	if (shared && tctx->crit_vtime) {
		if (time_after(tctx->vruntime, vtime_shared)) {
			u64 lead = tctx->vruntime - vtime_shared;

			tctx->vruntime -= lead < tctx->crit_vtime ? lead : tctx->crit_vtime;
		}
		tctx->crit_vtime = 0;
	}
	/* A kernel thread may hold a lock a critical task waits for. */
	if (shared && tctx->kthread && time_after(tctx->vruntime, vtime_shared))
		tctx->vruntime = vtime_shared;

	tctx->deadline = deadline_of(tctx, now);
	if (!policy_off && input_boosted(tctx->class_mask, now))
		stat_inc(GSTAT_INPUT_TIER);
	/* Queued ahead of where a plain task would be: its class boosted it. */
	if (task_is_critical(tctx))
		classify_count(tctx->class_mask, true);
	return tctx->deadline;
}

/* The queue @tctx waits on. */
__hidden u64 task_dsq(const struct task_ctx *tctx)
{
	return task_is_critical(tctx) ? CRITICAL_DSQ : SHARED_DSQ;
}

/* How long @tctx may run once it has a CPU. */
__hidden u64 task_slice(const struct task_ctx *tctx)
{
	if (policy_off)
		return slice_ns;
	if (tctx->class_mask & BRIEF_CLASSES)
		return slice_ns / 2;
	if (task_is_background(tctx))
		return slice_ns * 2;
	return slice_ns;
}

/*
 * Move every task of @dsq that has waited over half of max_wait_ns to @to,
 * with a short slice so that the batch drains quickly.
 */
static void collect_aged(u64 dsq, u64 to, u64 now)
{
	struct task_struct *p;

	bpf_for_each(scx_dsq, p, dsq, 0) {
		struct task_ctx *tctx = task_ctx(p);

		if (!tctx || !tctx->runnable_at ||
		    time_since(now, tctx->runnable_at) <= max_wait_ns / 2)
			continue;
		scx_bpf_dsq_move_set_slice(BPF_FOR_EACH_ITER, slice_ns / 4);
		if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, to, 0))
			stat_inc(GSTAT_AGED);
	}
}

/*
 * Move the next task to @cpu: a displaced or long-waiting critical one, if
 * any; then critical ones, unless this CPU has not served the shared side
 * for starve_ns; then one that waited too long; then a shared one. False
 * when every queue is empty.
 */
__hidden bool dispatch_queued(s32 cpu)
{
	struct cpu_ctx *cctx = cpu_ctx_of(-1);
	u64 now = bpf_ktime_get_ns(), last = aged_scan_ns;

	/* Whatever a kick asked of this CPU, it is answered here. */
	if (cctx)
		cctx->kicked = 0;
	/* One CPU at a time looks, AGED_SCANS times per bound. */
	if (time_since(now, last) > max_wait_ns / AGED_SCANS &&
	    __sync_val_compare_and_swap(&aged_scan_ns, last, now) == last) {
		collect_aged(SHARED_DSQ, AGED_DSQ, now);
		collect_aged(CRITICAL_DSQ, FIRST_DSQ, now);
	}
	if (scx_bpf_dsq_move_to_local(FIRST_DSQ, 0))
		return true;

	if (!cctx)
		return scx_bpf_dsq_move_to_local(CRITICAL_DSQ, 0) ||
		       scx_bpf_dsq_move_to_local(AGED_DSQ, 0) ||
		       scx_bpf_dsq_move_to_local(SHARED_DSQ, 0);

	if (!scx_bpf_dsq_nr_queued(SHARED_DSQ) && !scx_bpf_dsq_nr_queued(AGED_DSQ)) {
		cctx->shared_served_ns = now;
	} else if (time_since(now, cctx->shared_served_ns) > starve_ns &&
		   scx_bpf_dsq_nr_queued(CRITICAL_DSQ) &&
		   (scx_bpf_dsq_move_to_local(AGED_DSQ, 0) ||
		    scx_bpf_dsq_move_to_local(SHARED_DSQ, 0))) {
		cctx->shared_served_ns = now;
		stat_inc(GSTAT_STARVE_GUARD);
		return true;
	}

	if (scx_bpf_dsq_move_to_local(CRITICAL_DSQ, 0))
		return true;
	if (scx_bpf_dsq_move_to_local(AGED_DSQ, 0) || scx_bpf_dsq_move_to_local(SHARED_DSQ, 0)) {
		cctx->shared_served_ns = now;
		return true;
	}
	return false;
}

/* @p starts running on this CPU. */
__hidden void policy_running(struct task_struct *p, struct task_ctx *tctx)
{
	struct cpu_ctx *cctx;
	u64 now = bpf_ktime_get_ns();

	if (tctx->class_mask & CLASS_BIT(GAMER_CLASS_GAME))
		last_game_ns = now;

	cctx = cpu_ctx_of(-1);
	if (!cctx)
		return;
	cctx->kicked = 0;
	/*
	 * Recomputed rather than remembered: a task put straight on an idle
	 * CPU was never queued with one. The +1 keeps it non-zero, since 0
	 * means the CPU runs nothing of ours.
	 */
	cctx->running_deadline = deadline_of(tctx, now) + 1;
	cctx->running_critical = task_is_critical(tctx);
	cctx->running_kthread = tctx->kthread;
	cctx->running_background = is_background(tctx, now);
	if (!cctx->running_critical && time_before(vtime_shared, tctx->vruntime))
		vtime_shared = tctx->vruntime;
}

/* The task of @tctx stops running on this CPU, having gained @delta of vruntime. */
__hidden void policy_stopping(struct task_ctx *tctx, u64 delta)
{
	struct cpu_ctx *cctx = cpu_ctx_of(-1);

	if (cctx && cctx->running_deadline && cctx->running_critical)
		tctx->crit_vtime += delta;
	if (cctx)
		cctx->running_deadline = 0;
}

/* @cpu went offline or came online: it runs nothing of ours either way. */
__hidden void policy_cpu_hotplug(s32 cpu)
{
	struct cpu_ctx *cctx = cpu_ctx_of(cpu);

	if (cctx) {
		cctx->running_deadline = 0;
		cctx->kicked = 0;
	}
}
