/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * How a task wakes, recorded on each wakeup for the policy to judge it by:
 * its real runtime per wakeup on average (a thread that burns a slice per
 * wakeup is a hog, policy.bpf.c), how often it is woken, and how often it
 * wakes others (together its latency criticality). Kept apart from the
 * policy because nothing here decides anything: it only measures.
 */
#include <scx/common.bpf.h>
#include <bpf_experimental.h>
#include "gamer.bpf.h"

/* Fold one more event, @last_ns ago, into a per-second frequency. */
static u64 freq_update(u64 freq, u64 *last_ns, u64 now)
{
	u64 interval = time_since(now, *last_ns);
	bool first = !*last_ns;

	*last_ns = now;
	if (first)
		return freq;
	if (!interval)
		interval = 1;
	/* Weight the newest a quarter, as for the runtime average. */
	return (freq * 3 + (1000ULL * 1000 * 1000) / interval) / 4;
}

/*
 * @p woke up; awake_ns still holds what it ran since the last time. The
 * waker, when a task rather than an interrupt woke it, is credited too.
 */
__hidden void wakeups_record(struct task_struct *p, struct task_ctx *tctx)
{
	struct task_struct *waker;
	struct task_ctx *wtctx;
	u64 now = bpf_ktime_get_ns();

	/* An average of real runtime per wakeup, weighting the newest a quarter. */
	tctx->avg_runtime = (tctx->avg_runtime * 3 + tctx->awake_ns) / 4;
	tctx->wake_freq = freq_update(tctx->wake_freq, &tctx->woken_ns, now);

	if (bpf_in_interrupt())
		return;
	waker = bpf_get_current_task_btf();
	if (waker->pid == p->pid || !(wtctx = task_ctx(waker)))
		return;
	wtctx->waker_freq = freq_update(wtctx->waker_freq, &wtctx->waked_ns, now);
}
