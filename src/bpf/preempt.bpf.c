/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Preemption: which CPU a waking task may take from the task running there.
 * policy.bpf.c records in each CPU's cpu_ctx what runs on it (its deadline,
 * whether it is critical, a kernel thread or a background hog) and whether
 * a waker has kicked it since it last dispatched; a critical (or demoted
 * game) thread queued with no idle CPU reads those records here and kicks
 * one. Kept apart
 * because it is the one decision that reads other CPUs' state.
 */
#include <scx/common.bpf.h>
#include "gamer.bpf.h"

/* How many CPUs a waking task looks at for a preemption victim. */
#define PREEMPT_SAMPLE		4

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct cpu_ctx);
} cpu_ctxs SEC(".maps");

/* @cpu's record, or this CPU's when @cpu is negative. */
__hidden struct cpu_ctx *cpu_ctx_of(s32 cpu)
{
	u32 zero = 0;

	if (cpu < 0)
		return bpf_map_lookup_elem(&cpu_ctxs, &zero);
	return bpf_map_lookup_percpu_elem(&cpu_ctxs, &zero, cpu);
}

/* @cpu's context if a waker may kick it: it runs a task of ours that may lose it. */
static struct cpu_ctx *victim_ctx(const struct task_struct *p, u32 cpu, u32 nr, bool critical)
{
	struct cpu_ctx *cctx;

	if (cpu >= nr || !bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
		return NULL;
	cctx = cpu_ctx_of(cpu);
	if (!cctx || !cctx->running_deadline || cctx->running_critical ||
	    cctx->running_kthread || cctx->kicked)
		return NULL;
	if (!critical && !cctx->running_background)
		return NULL;
	return cctx;
}

/*
 * @p, critical and holding a class (or a demoted game thread, below), was
 * queued with @tctx->deadline and no CPU was idle: kick a CPU it may run on that runs a non-critical user
 * task, whatever @p's own deadline, unless another waker has kicked it
 * already: the CPU this runs on if it qualifies, else the latest deadline
 * of a few CPUs sampled.
 *
 * A game thread that burns a slice per wakeup is not critical, and waits
 * on the shared queue by its deadline; but it may still kick a CPU that
 * runs a background hog. A background slice is two slices long, and a
 * game's main thread that runs 12 ms a frame waited 7 ms for one at every
 * wakeup among three hogs on 2 CPUs (tests/vm/burst.sh). The kicked CPU
 * still takes the queue's earliest deadline, so the order stays fair.
 */
__hidden void preempt_for(struct task_struct *p, struct task_ctx *tctx)
{
	struct cpu_ctx *cctx, *vctx;
	u64 worst = 0;
	u32 nr = scx_bpf_nr_cpu_ids(), prev = scx_bpf_task_cpu(p), start = 0, i;
	s32 victim = bpf_get_smp_processor_id();
	bool critical = task_is_critical(tctx) && (tctx->class_mask & CRITICAL_CLASSES);

	if (!nr || policy_off)
		return;
	if (!critical && !(tctx->class_mask & CLASS_BIT(GAMER_CLASS_GAME)))
		return;

	/*
	 * The CPU this runs on first, whatever the others' deadlines: its
	 * kick needs no IPI, and a timer wakeup happens on the CPU the thread
	 * slept on. Taking the latest deadline among both CPUs of 2 instead
	 * put a game thread's median wakeup at 445 us against 58 with this
	 * (tests/vm/aged.sh, one boot each).
	 */
	vctx = victim_ctx(p, victim, nr, critical);
	if (nr > 1)
		start = bpf_get_prandom_u32() % (nr - 1);
	bpf_for(i, 0, PREEMPT_SAMPLE) {
		u32 cpu = prev;

		if (vctx && !i)
			break;
		if (i && i >= nr)
			break;
		/*
		 * Its own CPU first, then others at distinct offsets from it:
		 * a plain (start + i) % nr could land on its own CPU again,
		 * and on 2 CPUs then never looked at the other one.
		 */
		if (i)
			cpu = (prev + 1 + (start + i - 1) % (nr - 1)) % nr;
		cctx = victim_ctx(p, cpu, nr, critical);
		if (cctx && (!vctx || time_after(cctx->running_deadline, worst))) {
			worst = cctx->running_deadline;
			victim = cpu;
			vctx = cctx;
		}
	}

	/* Claimed first, so that two wakers do not both kick the same CPU. */
	if (vctx && !__sync_val_compare_and_swap(&vctx->kicked, 0, 1)) {
		scx_bpf_kick_cpu(victim, SCX_KICK_PREEMPT);
		stat_inc(GSTAT_PREEMPT_KICK);
	}
}
