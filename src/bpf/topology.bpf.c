/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Topology-aware CPU choice. On a machine whose CPUs differ (the P- and
 * E-cores of a hybrid part, or the CPUs a user names with --fast-cpus, such
 * as the CCD with the large cache on a dual-CCD X3D part), a waking critical
 * thread takes an idle fast CPU, in the last-level cache it last ran in if
 * one is idle there, and while a game runs every other task takes an idle
 * slow CPU, leaving the fast ones free for the game. When no CPU of the wanted
 * kind is idle, the kernel's default pick decides, so a critical thread
 * still takes an idle slow CPU rather than wait.
 *
 * On a machine of like CPUs none of this runs: the kernel's default pick
 * (the previous CPU, then a whole idle core, then the same cache) is already
 * the right one. src/topology.rs makes the tables from the scx_utils
 * topology.
 */
#include <scx/common.bpf.h>
#include "gamer.bpf.h"

/* Whether some CPUs are fast and others not; off, this file does nothing. */
const volatile bool prefer_fast;
/* Per CPU id: fast (1) or not (0), and the last-level cache it is in. */
const volatile u8 cpu_fast[GAMER_MAX_CPUS];
const volatile u32 cpu_llc[GAMER_MAX_CPUS];

/*
 * Claim an idle CPU @p may use whose speed is @fast, within @llc if @in_llc.
 * The atomic claim is tried only on CPUs @idle shows idle, so a scan over
 * busy CPUs costs plain reads, not a locked operation per CPU.
 */
static s32 claim_idle(struct task_struct *p, const struct cpumask *idle, u8 fast, u32 llc,
		      bool in_llc)
{
	s32 cpu, nr = scx_bpf_nr_cpu_ids();

	bpf_for(cpu, 0, GAMER_MAX_CPUS) {
		if (cpu >= nr)
			break;
		if (cpu_fast[cpu] != fast || (in_llc && cpu_llc[cpu] != llc))
			continue;
		if (bpf_cpumask_test_cpu(cpu, idle) && bpf_cpumask_test_cpu(cpu, p->cpus_ptr) &&
		    scx_bpf_test_and_clear_cpu_idle(cpu))
			return cpu;
	}
	return -1;
}

/*
 * For select_cpu: an idle CPU, now claimed, of the speed @p's class should
 * run on; -1 leaves the choice to the kernel's default pick.
 */
__hidden s32 topology_select_cpu(struct task_struct *p, struct task_ctx *tctx, s32 prev_cpu)
{
	const struct cpumask *idle;
	u8 fast;
	u32 llc;
	s32 cpu;

	if (!prefer_fast || p->nr_cpus_allowed == 1 || is_migration_disabled(p))
		return -1;
	if (prev_cpu < 0 || prev_cpu >= GAMER_MAX_CPUS)
		return -1;
	if (task_is_critical(tctx))
		fast = 1;
	else if (policy_game_active())
		fast = 0;
	else
		return -1;

	if (cpu_fast[prev_cpu] == fast && bpf_cpumask_test_cpu(prev_cpu, p->cpus_ptr) &&
	    scx_bpf_test_and_clear_cpu_idle(prev_cpu))
		return prev_cpu;
	llc = cpu_llc[prev_cpu];
	idle = scx_bpf_get_idle_cpumask();
	cpu = claim_idle(p, idle, fast, llc, true);
	if (cpu < 0)
		cpu = claim_idle(p, idle, fast, llc, false);
	scx_bpf_put_idle_cpumask(idle);
	return cpu;
}
