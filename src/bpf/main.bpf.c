/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_gamer: a virtual-deadline scheduler for desktops that play games.
 *
 * The model
 * ---------
 * Every task carries a vruntime: the CPU time it has used, scaled by the
 * inverse of its weight (nice level), so a nice-0 task at 10 ms of CPU and a
 * higher-weight task at 10 ms end up at different places. When a task becomes
 * runnable it is queued by a virtual deadline (on the shared queue, or with
 * the gaming policy on the critical queue served before it; policy.bpf.c):
 *
 *     deadline = vruntime + runtime since its last wakeup (weighted)
 *
 * The second term is what makes the scheduler responsive. A thread that wakes,
 * works briefly and sleeps again (input handling, audio, a frame hand-off)
 * carries almost nothing in it and sorts ahead of a thread that has been
 * burning the CPU since it last slept (a compiler, a CPU hog), even when their
 * vruntimes are equal.
 *
 * Fairness and the starvation bound
 * ---------------------------------
 * vtime_now follows the largest vruntime seen starting on a CPU. A task that
 * slept for a long time is pulled up to vtime_now - slice_lag when it wakes,
 * so it gets at most slice_lag of head start over everyone else and can never
 * hold the CPUs for the whole of its sleep. Because every queued deadline is
 * fixed while vtime_now keeps moving, every runnable task reaches the head of
 * the queue in bounded virtual time. That can still be long in real time (a
 * nice-19 task among a hundred runnable ones), so dispatch also runs any task
 * that has waited max_wait_ns out of turn (policy.bpf.c): the sched_ext
 * watchdog never has reason to fire.
 *
 * Picking a CPU
 * -------------
 * On wakeup, select_cpu asks the kernel's idle tracking for an idle CPU,
 * preferring the task's previous CPU (its cache is still warm there), then a
 * whole idle core, then an idle CPU that shares the previous CPU's last-level
 * cache. If one is idle the task goes straight onto it and never touches the
 * shared queue. Otherwise it is queued, and whichever CPU frees up first takes
 * the earliest deadline. On a machine of fast and slow CPUs, topology.bpf.c
 * first steers critical threads to idle fast CPUs and, while a game runs,
 * everything else to idle slow ones.
 *
 * Rules no path may break
 * -----------------------
 * A task is only ever put on a CPU's local queue when it may run there: the
 * CPU is in p->cpus_ptr, and a migration-disabled task only ever goes to the
 * CPU it is on. Per-CPU kernel threads (ksoftirqd, bound kworkers) go to their
 * own CPU's local queue at once, because nothing else can run them.
 *
 * Classes and policy
 * ------------------
 * classify.bpf.c works out which threads are input, audio, compositor, GPU
 * submit or game threads; the callbacks here tell it when a task wakes, runs
 * and stops, so its view and its per-class counters stay current.
 * policy.bpf.c turns classes and behaviour into deadline tiers and slices,
 * puts critical tasks on a second queue that CPUs serve first (with a guard
 * so the shared queue is never starved); preempt.bpf.c decides when a
 * waking critical task may preempt a running one. With the policy off
 * (--no-policy) there is one queue and the deadline is the plain one
 * described above.
 *
 * Layout
 * ------
 * intf.h holds what userspace shares; gamer.bpf.h what the BPF files share.
 * This file is ordered as the kernel calls it: helpers, select_cpu, enqueue,
 * dispatch, the running and stopping accounting, task lifecycle, init/exit,
 * and the ops table last.
 */
#include <scx/common.bpf.h>
#include "gamer.bpf.h"

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

/*
 * Tunables. Userspace writes them once before load, from CLI flags that carry
 * their units (src/cli.rs validates the ranges).
 */

/* How long a task may run before the CPU is offered to the queue again. */
const volatile u64 slice_ns = 5ULL * 1000 * 1000;

/*
 * How far behind vtime_now a waking task's vruntime may be. It bounds the
 * head start a long sleeper gets, and so how long it can delay the others.
 */
const volatile u64 slice_lag_ns = 20ULL * 1000 * 1000;

/* The largest vruntime seen starting on any CPU: "now" in virtual time. */
static u64 vtime_now;

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctx_stor SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u64));
	__uint(max_entries, NR_GSTATS);
} stats SEC(".maps");

__hidden void stat_inc(enum gamer_stat idx)
{
	u32 key = idx;
	u64 *cnt = bpf_map_lookup_elem(&stats, &key);

	if (cnt)
		(*cnt)++;
}

__hidden struct task_ctx *task_ctx(const struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctx_stor, (struct task_struct *)p, 0, 0);
}

/* A kernel thread bound to one CPU: nothing but that CPU can ever run it. */
static bool is_pcpu_kthread(const struct task_struct *p)
{
	return (p->flags & PF_KTHREAD) && p->nr_cpus_allowed == 1;
}

/*
 * Whether @p may be put on @cpu's local queue: the CPU is one it is allowed
 * on, and a migration-disabled task stays on the CPU it is already on.
 */
__hidden bool can_run_on(const struct task_struct *p, s32 cpu)
{
	if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
		return false;
	if (is_migration_disabled(p))
		return cpu == scx_bpf_task_cpu(p);
	return true;
}

s32 BPF_STRUCT_OPS(gamer_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_ctx *tctx;
	bool is_idle = false;
	s32 cpu;

	/*
	 * The kernel's pick is prev_cpu if it is idle, else an idle core or CPU
	 * nearest to it (same LLC, then same node), always within p->cpus_ptr.
	 */
	tctx = task_ctx(p);
	/* The classes this wakeup carries, before anything is decided by them. */
	if (tctx)
		classify_select_cpu(p, tctx);

	/* On a machine of fast and slow CPUs, the class picks the kind first. */
	if (tctx) {
		cpu = topology_select_cpu(p, tctx, prev_cpu);
		if (cpu >= 0) {
			scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, task_slice(tctx), 0);
			stat_inc(GSTAT_TOPOLOGY_IDLE);
			return cpu;
		}
	}

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle && can_run_on(p, cpu)) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, tctx ? task_slice(tctx) : slice_ns, 0);
		stat_inc(GSTAT_DIRECT_IDLE);
	}

	return cpu;
}

/*
 * Put @p on an idle CPU it may run on, if there is one. The wakeup path did
 * not run select_cpu for it (a task that cannot migrate, or an enqueue that
 * is not a wakeup), so nobody has looked yet.
 */
static bool enqueue_on_idle_cpu(struct task_struct *p, u64 enq_flags)
{
	s32 cpu;

	if (is_migration_disabled(p) || p->nr_cpus_allowed == 1) {
		cpu = scx_bpf_task_cpu(p);
		if (!scx_bpf_test_and_clear_cpu_idle(cpu))
			return false;
	} else {
		cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
		if (cpu < 0)
			return false;
	}

	if (!can_run_on(p, cpu))
		return false;

	scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, slice_ns, enq_flags);
	scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	stat_inc(GSTAT_ENQ_IDLE);
	return true;
}

/*
 * @p was waiting on, or running on, a CPU that a higher class (RT, deadline)
 * has just taken, and gamer_cpu_release sent it back (the kernel had put a
 * task that still had slice left at the head of that CPU's queue). A
 * critical one, a game or audio thread, goes to the front: FIRST_DSQ, which
 * every CPU serves first, with only the slice it had left, so the first CPU
 * that frees up, the RT task's own when its run ends or another, runs it
 * next; and it may take a CPU from a later deadline as a wakeup would. On
 * its deadline in the critical queue it waited past the end of the RT run,
 * behind other game threads, kernel threads and the starvation guard's
 * turn (tests/vm/rt_audio.sh). A task that may not move waits at the head
 * of that CPU's own queue.
 */
static bool enqueue_displaced(struct task_struct *p, struct task_ctx *tctx, u64 enq_flags)
{
	u64 slice = task_slice(tctx);

	if (!task_is_critical(tctx))
		return false;
	if (p->scx.slice && p->scx.slice < slice)
		slice = p->scx.slice;
	if (is_migration_disabled(p) || p->nr_cpus_allowed == 1) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice, enq_flags | SCX_ENQ_HEAD);
	} else {
		/* The deadline is what preempt_for weighs a victim's against. */
		task_deadline(tctx, vtime_now);
		scx_bpf_dsq_insert(p, FIRST_DSQ, slice, enq_flags);
		preempt_for(p, tctx);
	}
	stat_inc(GSTAT_DISPLACED);
	return true;
}

void BPF_STRUCT_OPS(gamer_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx;
	u64 dsq;
	s32 cpu;

	if (is_pcpu_kthread(p)) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, enq_flags);
		stat_inc(GSTAT_KTHREAD_LOCAL);
		return;
	}

	if (!__COMPAT_is_enq_cpu_selected(enq_flags) && enqueue_on_idle_cpu(p, enq_flags))
		return;

	tctx = task_ctx(p);
	if (!tctx) {
		scx_bpf_error("%s[%d] has no task context", p->comm, p->pid);
		return;
	}

	/* A class may have expired, or been given, since select_cpu looked. */
	classify_refresh(p, tctx);
	if ((enq_flags & SCX_ENQ_REENQ) && enqueue_displaced(p, tctx, enq_flags))
		return;
	dsq = task_dsq(tctx);
	scx_bpf_dsq_insert_vtime(p, dsq, task_slice(tctx), task_deadline(tctx, vtime_now), enq_flags);
	stat_inc(dsq == CRITICAL_DSQ ? GSTAT_CRITICAL : GSTAT_SHARED);

	/*
	 * A CPU may have gone idle since select_cpu looked. Wake one that may
	 * run @p so the queue does not wait for the next tick; failing that,
	 * a critical task may take a CPU from a later deadline.
	 */
	cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0)
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	else
		preempt_for(p, tctx);
}

void BPF_STRUCT_OPS(gamer_dispatch, s32 cpu, struct task_struct *prev)
{
	struct task_ctx *tctx;

	if (dispatch_queued(cpu))
		return;

	/* Nobody is waiting: let the task that was running keep going. */
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED)) {
		tctx = task_ctx(prev);
		prev->scx.slice = tctx ? task_slice(tctx) : slice_ns;
		stat_inc(GSTAT_KEEP_RUNNING);
	}
}

void BPF_STRUCT_OPS(gamer_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = task_ctx(p);

	bool wakeup = enq_flags & SCX_ENQ_WAKEUP;

	if (!tctx)
		return;
	/*
	 * A requeue that is not a wakeup (a renice, an affinity change, a
	 * cgroup move) dequeues a waiting task and queues it again: it keeps
	 * the wait it had, or max_wait_ns would restart on every such move.
	 */
	if (wakeup || !tctx->runnable_at)
		events_runnable(tctx, wakeup);
	if (!wakeup)
		return;

	/* A fresh wakeup: the run since the last one no longer counts. */
	wakeups_record(p, tctx);
	tctx->awake_vtime = 0;
	tctx->awake_ns = 0;
	classify_wakeup(p, tctx);
}

void BPF_STRUCT_OPS(gamer_running, struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx(p);

	test_fault_check();
	if (!tctx)
		return;

	tctx->exec_start = scx_bpf_now();
	if (time_before(vtime_now, tctx->vruntime))
		vtime_now = tctx->vruntime;

	classify_running(p, tctx);
	policy_running(p, tctx);
	events_running(p, tctx);
}

void BPF_STRUCT_OPS(gamer_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = task_ctx(p);
	u64 now, delta, ran;

	if (!tctx || !tctx->exec_start)
		return;

	/* Still runnable: it waits again from now on. */
	if (runnable)
		events_runnable(tctx, false);

	now = scx_bpf_now();
	ran = time_since(now, tctx->exec_start);
	classify_account(tctx, ran);
	delta = scale_by_task_weight_inverse(p, ran);
	policy_stopping(tctx, delta);
	tctx->exec_start = 0;
	tctx->awake_ns += ran;

	tctx->vruntime += delta;
	/*
	 * Cap the awake term at the lag bound: past that a task is plainly a
	 * CPU hog, and a larger penalty would only delay it further for no
	 * gain in ordering.
	 */
	tctx->awake_vtime += delta;
	if (tctx->awake_vtime > slice_lag_ns)
		tctx->awake_vtime = slice_lag_ns;
}

/*
 * A CPU was taken by a higher-priority class (RT, deadline, stop). Tasks that
 * were waiting on its local queue would wait behind it; send them back
 * through enqueue so another CPU can take them.
 */
void BPF_STRUCT_OPS(gamer_cpu_release, s32 cpu, struct scx_cpu_release_args *args)
{
	scx_bpf_reenqueue_local();
	stat_inc(GSTAT_CPU_RELEASE);
}

/*
 * CPU hotplug. Defining these tells the kernel the scheduler copes with CPUs
 * coming and going, so it keeps running through a hotplug instead of being
 * ended and reloaded. The queues are shared by every CPU, so a CPU that goes
 * strands nothing; the kernel moves what was on its local queue.
 */
void BPF_STRUCT_OPS(gamer_cpu_online, s32 cpu)
{
	policy_cpu_hotplug(cpu);
}

void BPF_STRUCT_OPS(gamer_cpu_offline, s32 cpu)
{
	policy_cpu_hotplug(cpu);
}

void BPF_STRUCT_OPS(gamer_enable, struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx(p);

	/* A task joining the scheduler starts level with everyone else. */
	if (tctx)
		tctx->vruntime = vtime_now;
}

s32 BPF_STRUCT_OPS(gamer_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tctx)
		return -ENOMEM;
	tctx->kthread = p->flags & PF_KTHREAD;
	classify_init_task(p, args->fork);
	if (args->fork && p->pid == p->tgid)
		procs_fork(p);
	return 0;
}

void BPF_STRUCT_OPS(gamer_exit_task, struct task_struct *p, struct scx_exit_task_args *args)
{
	classify_exit_task(p);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(gamer_init)
{
	s32 ret = scx_bpf_create_dsq(SHARED_DSQ, -1);

	if (!ret)
		ret = scx_bpf_create_dsq(CRITICAL_DSQ, -1);
	if (!ret)
		ret = scx_bpf_create_dsq(AGED_DSQ, -1);
	return ret ? ret : scx_bpf_create_dsq(FIRST_DSQ, -1);
}

void BPF_STRUCT_OPS(gamer_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(gamer_ops,
	       .select_cpu	= (void *)gamer_select_cpu,
	       .enqueue		= (void *)gamer_enqueue,
	       .dispatch	= (void *)gamer_dispatch,
	       .runnable	= (void *)gamer_runnable,
	       .running		= (void *)gamer_running,
	       .stopping	= (void *)gamer_stopping,
	       .cpu_release	= (void *)gamer_cpu_release,
	       .cpu_online	= (void *)gamer_cpu_online,
	       .cpu_offline	= (void *)gamer_cpu_offline,
	       .enable		= (void *)gamer_enable,
	       .init_task	= (void *)gamer_init_task,
	       .exit_task	= (void *)gamer_exit_task,
	       .init		= (void *)gamer_init,
	       .exit		= (void *)gamer_exit,
	       .name		= "scx_gamer");
