/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The gaming policy: how a task's class and behaviour turn into its virtual
 * deadline, and when a waking task may take a CPU from a running one.
 *
 * Tiers. A task's deadline is its vruntime, plus the weighted CPU time it has
 * used since it last woke, plus an offset for its tier:
 *
 *     input, audio, inherited input        0
 *     compositor                           lag / 8
 *     GPU submit                           lag / 4
 *     game                                 3 lag / 8
 *     everything else                      lag / 2
 *     background hog while a game runs     lag / 2 + lag
 *
 * where lag is slice_lag_ns, the bound on how far behind vtime_now any task
 * may start. Offsets only reorder tasks whose vruntimes are close; they are
 * bounded, so every task still reaches the head of the queue in bounded time.
 * During the input window after a key press or mouse move, the game's threads
 * rank with input.
 *
 * Critical tasks hold a class (input, audio, compositor, GPU submit, game).
 * Only they preempt, and they are never preempted for another. Preempting for
 * every short-running task was measured: under CPU hogs it cost frames and
 * hog throughput alike (docs/benchmarks.md), so plain short tasks rely on
 * their early deadlines alone. A hog is a task that burns whole slices: it
 * has run a slice since it woke, or usually does.
 *
 * Preemption. sched_ext has no high-resolution tick: a task that gets a CPU
 * keeps it until its slice ends at a tick. So when a critical task wakes and
 * no CPU is idle, the CPU running the task with the latest deadline is kicked
 * if that deadline is later than the waker's by more than a slice, and the
 * waker gets the CPU now rather than at the next tick.
 *
 * Background demotion of hogs outside the game applies only while a game
 * thread has run within the last game_idle_ns: with no game, the scheduler
 * is a plain fair one.
 */
#include <scx/common.bpf.h>
#include "gamer.bpf.h"

extern const volatile u64 slice_ns;
extern const volatile u64 slice_lag_ns;

/* How long after an input event the game's threads rank with input. */
const volatile u64 input_boost_ns = 100ULL * 1000 * 1000;
/* How long after a game thread last ran a game still counts as running. */
const volatile u64 game_idle_ns = 1000ULL * 1000 * 1000;
/* Off: no preemption and no tiers, the baseline deadline scheduler. */
const volatile bool policy_off;

/* The last time any thread read an input event (classify.bpf.c sets it). */
u64 last_input_ns;
/* The last time a game thread started running. */
static u64 last_game_ns;

/* What runs on each CPU, for choosing whom to preempt. */
struct cpu_ctx {
	/* Deadline of the running task; 0 when the CPU runs nothing of ours. */
	u64 running_deadline;
	/* Whether that task is critical (never preempted for another). */
	bool running_critical;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct cpu_ctx);
} cpu_ctxs SEC(".maps");

#define CRITICAL_CLASSES	(CLASS_BIT(GAMER_CLASS_INPUT) | CLASS_BIT(GAMER_CLASS_AUDIO) | \
				 CLASS_BIT(GAMER_CLASS_COMPOSITOR) | \
				 CLASS_BIT(GAMER_CLASS_GPU_SUBMIT) | CLASS_BIT(GAMER_CLASS_GAME))

/* Scan at most this many CPUs for a preemption victim. */
#define MAX_SCAN_CPUS		256

static bool game_active(u64 now)
{
	return last_game_ns && now - last_game_ns < game_idle_ns;
}

__hidden bool task_is_critical(const struct task_ctx *tctx)
{
	return !policy_off && (tctx->class_mask & CRITICAL_CLASSES);
}

/* A task that burns whole slices: it ran a slice since it woke, or usually does. */
static bool task_is_hog(const struct task_ctx *tctx)
{
	u64 runtime = tctx->avg_runtime > tctx->awake_vtime ? tctx->avg_runtime : tctx->awake_vtime;

	return runtime >= slice_ns;
}

static u64 tier_offset(const struct task_ctx *tctx, u64 now)
{
	u32 m = tctx->class_mask;

	if (m & (CLASS_BIT(GAMER_CLASS_INPUT) | CLASS_BIT(GAMER_CLASS_AUDIO)))
		return 0;
	if ((m & CLASS_BIT(GAMER_CLASS_GAME)) && last_input_ns && now - last_input_ns < input_boost_ns)
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

	return policy_off ? dl : dl + tier_offset(tctx, now);
}

/*
 * The virtual deadline @p is queued with. A task that slept is first pulled
 * up to within slice_lag_ns of @vtime_now, which is the starvation bound.
 */
__hidden u64 task_deadline(struct task_ctx *tctx, u64 vtime_now)
{
	u64 vtime_min = vtime_now > slice_lag_ns ? vtime_now - slice_lag_ns : 0;
	u64 now = bpf_ktime_get_ns();

	if (time_before(tctx->vruntime, vtime_min))
		tctx->vruntime = vtime_min;

	tctx->deadline = deadline_of(tctx, now);
	/* Queued ahead of where a plain task would be: its class boosted it. */
	if (!policy_off && tier_offset(tctx, now) < slice_lag_ns / 2)
		classify_count(tctx->class_mask, true);
	return tctx->deadline;
}

/*
 * @p, critical, was queued and no CPU was idle: kick the CPU running the
 * latest deadline, if it is later than @p's by more than a slice.
 */
__hidden void preempt_for(struct task_struct *p, struct task_ctx *tctx)
{
	u64 worst = 0;
	s32 victim = -1, cpu, nr = scx_bpf_nr_cpu_ids();
	u32 zero = 0;

	if (!task_is_critical(tctx))
		return;

	bpf_for(cpu, 0, MAX_SCAN_CPUS) {
		struct cpu_ctx *cctx;

		if (cpu >= nr)
			break;
		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		cctx = bpf_map_lookup_percpu_elem(&cpu_ctxs, &zero, cpu);
		if (!cctx || !cctx->running_deadline || cctx->running_critical)
			continue;
		if (cctx->running_deadline > worst) {
			worst = cctx->running_deadline;
			victim = cpu;
		}
	}

	if (victim >= 0 && worst > tctx->deadline + slice_ns) {
		scx_bpf_kick_cpu(victim, SCX_KICK_PREEMPT);
		stat_inc(GSTAT_PREEMPT_KICK);
	}
}

/* @p starts running on this CPU. */
__hidden void policy_running(struct task_struct *p, struct task_ctx *tctx)
{
	struct cpu_ctx *cctx;
	u64 now = bpf_ktime_get_ns();
	u32 zero = 0;

	if (tctx->class_mask & CLASS_BIT(GAMER_CLASS_GAME))
		last_game_ns = now;

	cctx = bpf_map_lookup_elem(&cpu_ctxs, &zero);
	if (!cctx)
		return;
	/*
	 * Recomputed rather than remembered: a task put straight on an idle
	 * CPU was never queued with one. The +1 keeps it non-zero, since 0
	 * means the CPU runs nothing of ours.
	 */
	cctx->running_deadline = deadline_of(tctx, now) + 1;
	cctx->running_critical = task_is_critical(tctx);
}

/* @p stops running on this CPU. */
__hidden void policy_stopping(void)
{
	struct cpu_ctx *cctx;
	u32 zero = 0;

	cctx = bpf_map_lookup_elem(&cpu_ctxs, &zero);
	if (cctx)
		cctx->running_deadline = 0;
}

/* A task woke up; awake_vtime still holds what it ran since the last time. */
__hidden void policy_wakeup(struct task_ctx *tctx)
{
	/* An average of runtime per wakeup, weighting the newest a quarter. */
	tctx->avg_runtime = (tctx->avg_runtime * 3 + tctx->awake_vtime) / 4;
}
