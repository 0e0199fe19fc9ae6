/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A fault on demand, for tests/vm/faults.sh only. With the hidden
 * --test-bpf-error-after-ms flag set, the scheduler reports a BPF error that
 * long after it first ran a task, so the test can see an ejection from the
 * outside: the exit reason in the log, the exit status, the restart. Left at
 * 0, the verifier knows the value and drops the whole check.
 */
#include <scx/common.bpf.h>
#include "gamer.bpf.h"

const volatile u64 test_error_after_ns;

/* When this attachment first ran a task. */
static u64 armed_at;

__hidden void test_fault_check(void)
{
	u64 now;

	if (!test_error_after_ns)
		return;
	now = bpf_ktime_get_ns();
	if (!armed_at)
		armed_at = now;
	else if (now - armed_at >= test_error_after_ns)
		scx_bpf_error("test fault: --test-bpf-error-after-ms %llu elapsed",
			      test_error_after_ns / 1000000);
}
