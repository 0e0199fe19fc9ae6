/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The event streams userspace reads (docs/events.md): input events as their
 * handlers read them, frames presented on the display, GPU submits, long
 * run-queue waits of classified threads, the process events launch detection
 * needs, classified threads moving between CPUs, and each thread's first
 * time in each class (--log-classes). Every ringbuf lives here, and so does
 * every record that goes into one; the hooks elsewhere call the events_*()
 * functions below, except the migration tracepoint, which exists only for
 * its stream and so is here too.
 *
 * Wakeups are batched. A producer wakes the consumer only when a ringbuf
 * holds GAMER_RING_WAKE_BYTES or more; below that the consumer drains on a
 * short timer of its own. A burst of events thus costs the consumer one
 * wakeup, and a steady trickle (an 8 kHz mouse) costs it only its timer.
 * Process events are the exception: they are rare, and launch detection
 * has a latency bound, so each one wakes the consumer.
 *
 * A record that does not fit is dropped and counted in ring_drops, which
 * userspace reports: the producers never wait.
 */
#include <scx/common.bpf.h>
#include "gamer.bpf.h"

/*
 * How long a classified thread may wait on the run queue before the wait is
 * reported (a runq-wait event). This is a scheduling delay, not a missed
 * frame: late frames are the frame events' missed vblanks. sched_ext has no high-resolution tick, so a wait of up to a
 * tick can happen even when everything works; longer means the policy
 * failed it.
 */
const volatile u64 runq_wait_ns = 4ULL * 1000 * 1000;

/*
 * CLOCK_TAI minus CLOCK_REALTIME, kept current by userspace: evdev stamps
 * events in CLOCK_REALTIME unless the reader asked for another clock, and
 * BPF can read TAI but not REALTIME.
 */
u64 tai_offset_ns;

#include "rings.bpf.h"

struct event_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, GAMER_RING_BYTES);
};
struct event_ring frame_events SEC(".maps");
struct event_ring gpu_events SEC(".maps");
struct event_ring runq_wait_events SEC(".maps");
struct event_ring proc_events SEC(".maps");
struct event_ring class_events SEC(".maps");
struct event_ring migrate_events SEC(".maps");

/* Per process that commits frames: what its next presented frame reports. */
struct frame_state {
	/* Its latest accepted commit: the thread, and its wake-to-return time. */
	u64 commit_latency_ns;
	u32 commit_tid;
	/* Commits refused as busy since its previous presented frame. */
	u32 busy_since_last;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, struct frame_state);
} frame_states SEC(".maps");

/* The latest successful GPU submit by anyone. */
static u64 last_submit_ns;

__hidden void events_drop(enum gamer_ring ring)
{
	ring_drop(ring);
}

/*
 * The latency of an event stamped @stamp_ns in whichever clock the reader
 * chose (CLOCK_REALTIME by default, CLOCK_MONOTONIC or CLOCK_BOOTTIME with
 * EVIOCSCLOCKID). The clocks are seconds to decades apart, so the one
 * closest behind now is the reader's.
 */
static u64 event_latency(u64 stamp_ns)
{
	u64 now[3], best = (u64)-1;
	int i;

	now[0] = bpf_ktime_get_ns();
	now[1] = bpf_ktime_get_boot_ns();
	now[2] = bpf_ktime_get_tai_ns() - tai_offset_ns;
	for (i = 0; i < 3; i++)
		if (now[i] >= stamp_ns && now[i] - stamp_ns < best)
			best = now[i] - stamp_ns;
	return best;
}

/* The layout of struct input_event for a 64-bit reader (linux/input.h). */
struct input_event_user {
	u64 sec;
	u64 usec;
	u16 type;
	u16 code;
	s32 value;
};

/* x86's marker of a 32-bit task inside a syscall (asm/thread_info.h). */
#define TS_COMPAT	0x0002

/* thread_info.status exists on x86 only; CO-RE says whether this kernel has it. */
struct thread_info___x86 {
	u32 status;
} __attribute__((preserve_access_index));

/*
 * Whether the current read() is a 32-bit task's, whose struct input_event
 * is smaller. On x86 the syscall's own marker says so exactly. Elsewhere
 * (arm64) a 32-bit process has an address space of at most 4 GiB, which
 * every architecture's mm_struct records.
 */
static bool compat_reader(struct task_struct *cur)
{
	struct thread_info___x86 *ti = (void *)&cur->thread_info;

	if (bpf_core_field_exists(ti->status))
		return BPF_CORE_READ(ti, status) & TS_COMPAT;
	return BPF_CORE_READ(cur, mm, task_size) <= (1ULL << 32);
}

/*
 * A read() of evdev device @file returned @nbytes of events into @ubuf:
 * report each, with how long it took from the kernel stamping it to now.
 */
__hidden void events_input_read(struct file *file, const void *ubuf, long nbytes)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct input_event_user ev;
	struct input_event_rec *rec;
	u32 cpu = bpf_get_smp_processor_id(), device, n;
	u64 now = bpf_ktime_get_ns();
	void *ring;
	int i;

	/* 32-bit readers get a smaller struct input_event; not decoded here. */
	if (compat_reader(cur))
		return;
	ring = input_ring_of(cpu);
	if (!ring)
		return;
	/* eventN has minor 64 + N (INPUT_MINOR base of evdev). */
	device = (BPF_CORE_READ(file, f_inode, i_rdev) & 0xfffff) - 64;
	n = nbytes / sizeof(ev);

	bpf_for(i, 0, GAMER_MAX_INPUT_PER_READ) {
		if (i >= n)
			break;
		if (bpf_probe_read_user(&ev, sizeof(ev), ubuf + i * sizeof(ev)))
			break;
		rec = bpf_ringbuf_reserve(ring, sizeof(*rec), 0);
		if (!rec) {
			input_ring_drop(cpu);
			continue;
		}
		rec->ts_ns = now;
		rec->latency_ns = event_latency(ev.sec * 1000000000ULL + ev.usec * 1000);
		rec->tid = cur->pid;
		rec->cpu = cpu;
		rec->device = device;
		rec->type = ev.type;
		rec->code = ev.code;
		rec->value = ev.value;
		rec->pad = 0;
		bpf_ringbuf_submit(rec, wake_flag(ring, sizeof(*rec) + 8));
	}
}

/*
 * The current thread of a compositor committed a frame (@ret == 0), or was
 * told the display is still busy with the previous one (-EBUSY). The frame
 * event comes later, when the flip is presented.
 */
__hidden void events_commit(struct task_ctx *tctx, int ret)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct frame_state *st, fresh = {};
	u32 tgid = cur->tgid;

	if (ret && ret != -EBUSY)
		return;
	st = bpf_map_lookup_elem(&frame_states, &tgid);
	if (!st) {
		bpf_map_update_elem(&frame_states, &tgid, &fresh, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&frame_states, &tgid);
		if (!st)
			return;
	}
	if (ret == -EBUSY) {
		st->busy_since_last++;
		return;
	}
	st->commit_tid = cur->pid;
	st->commit_latency_ns = tctx && tctx->woke_at ? bpf_ktime_get_ns() - tctx->woke_at : 0;
}

/*
 * A flip was presented (present.bpf.c filled in the display's side in
 * @draft): add what the committing process did, and report it.
 */
__hidden void events_frame_presented(struct frame_event *draft)
{
	struct frame_event *e;
	struct frame_state *st;
	u32 tgid = draft->tgid;
	u64 now = bpf_ktime_get_ns();

	e = bpf_ringbuf_reserve(&frame_events, sizeof(*e), 0);
	if (!e) {
		events_drop(GAMER_RING_FRAME);
		return;
	}
	__builtin_memcpy(e, draft, sizeof(*e));
	e->delivered_ns = now;
	e->submit_to_present_ns = last_submit_ns && draft->ts_ns > last_submit_ns ?
		draft->ts_ns - last_submit_ns : 0;
	e->game = classify_is_game(tgid);
	st = bpf_map_lookup_elem(&frame_states, &tgid);
	if (st) {
		e->tid = st->commit_tid;
		e->compositor_latency_ns = st->commit_latency_ns;
		e->dropped = st->busy_since_last;
		st->busy_since_last = 0;
	}
	bpf_ringbuf_submit(e, wake_flag(&frame_events, sizeof(*e) + 8));
}

/* The current thread's GPU submit through @driver succeeded. */
__hidden void events_gpu_submit(struct task_ctx *tctx, u32 driver, u32 kind)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct gpu_submit_event *e;
	u64 now = bpf_ktime_get_ns();

	last_submit_ns = now;
	e = bpf_ringbuf_reserve(&gpu_events, sizeof(*e), 0);
	if (!e) {
		events_drop(GAMER_RING_GPU_SUBMIT);
	} else {
		e->ts_ns = now;
		e->interval_ns = tctx && tctx->last_submit_ns ? now - tctx->last_submit_ns : 0;
		e->tid = cur->pid;
		e->tgid = cur->tgid;
		e->driver = driver;
		e->kind = kind;
		bpf_ringbuf_submit(e, wake_flag(&gpu_events, sizeof(*e) + 8));
	}
	if (tctx)
		tctx->last_submit_ns = now;
}

/* @tctx's task became runnable: a wakeup, or it lost its CPU still runnable. */
__hidden void events_runnable(struct task_ctx *tctx, bool wakeup)
{
	u64 now = bpf_ktime_get_ns();

	tctx->runnable_at = now;
	if (wakeup)
		tctx->woke_at = now;
}

/* @p starts running: if it is classified and waited too long, say so. */
__hidden void events_running(struct task_struct *p, struct task_ctx *tctx)
{
	struct runq_wait_event *e;
	u64 now, wait;

	if (!tctx->runnable_at)
		return;
	now = bpf_ktime_get_ns();
	wait = now - tctx->runnable_at;
	tctx->runnable_at = 0;
	if (!tctx->class_mask || wait <= runq_wait_ns)
		return;
	classify_count(tctx->class_mask, false);

	e = bpf_ringbuf_reserve(&runq_wait_events, sizeof(*e), 0);
	if (!e) {
		events_drop(GAMER_RING_RUNQ_WAIT);
		return;
	}
	e->ts_ns = now;
	e->bound_ns = runq_wait_ns;
	e->wait_ns = wait;
	e->over_ns = wait - runq_wait_ns;
	e->tid = p->pid;
	e->tgid = p->tgid;
	e->class_mask = tctx->class_mask;
	e->cpu = bpf_get_smp_processor_id();
	__builtin_memcpy(e->comm, p->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, wake_flag(&runq_wait_events, sizeof(*e) + 8));
}

/* Report an exec or exit of @p. */
__hidden void events_proc(struct task_struct *p, u32 kind, const char *filename)
{
	struct gamer_proc_event *e;

	e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);
	if (!e) {
		events_drop(GAMER_RING_PROC);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = kind;
	e->tgid = p->tgid;
	e->ppid = BPF_CORE_READ(p, real_parent, tgid);
	e->uid = BPF_CORE_READ(p, cred, uid.val);
	__builtin_memcpy(e->comm, p->comm, sizeof(e->comm));
	e->filename[0] = 0;
	if (filename)
		bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), filename);
	/* Rare, and launch detection has a latency bound: wake at once. */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

/*
 * @p got @class for the first time (classify.bpf.c). That happens once per
 * thread and class, so the default wakeup rule costs little here.
 */
__hidden void events_class(struct task_struct *p, struct task_ctx *tctx, u32 class, u64 now)
{
	struct class_event *e;

	e = bpf_ringbuf_reserve(&class_events, sizeof(*e), 0);
	if (!e) {
		events_drop(GAMER_RING_CLASS);
		return;
	}
	e->ts_ns = now;
	e->tid = p->pid;
	e->tgid = p->tgid;
	e->class_id = class;
	e->via = class < GAMER_NR_CLASSES ? tctx->via[class] : 0;
	e->waker_tid = e->via == GAMER_VIA_WAKE_CHAIN ? tctx->chain_waker : 0;
	e->pad = 0;
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), p->comm);
	bpf_ringbuf_submit(e, 0);
}

/*
 * set_task_cpu() moves @p to @dest_cpu: the kernel's one place where a
 * task's CPU changes, whoever asked (a wakeup's CPU choice, this
 * scheduler's dispatch to another CPU's queue, an affinity change, a CPU
 * going offline). The tracepoint fires only when the CPU really changes,
 * and its task and target are the kernel's own, so the stream shows every
 * migration and nothing else; ops.running comparing a remembered CPU would
 * run for every task on every context switch, and learn of the move only
 * once the task runs. Only classified threads are reported: the class mask
 * is the one the scheduler last worked out (at its wakeup or enqueue).
 */
SEC("tp_btf/sched_migrate_task")
int BPF_PROG(events_migrate, struct task_struct *p, int dest_cpu)
{
	struct migrate_event *e;
	struct task_ctx *tctx;
	s32 from = scx_bpf_task_cpu(p);
	u32 f = from, t = dest_cpu;

	tctx = task_ctx(p);
	if (!tctx || !tctx->class_mask)
		return 0;
	e = bpf_ringbuf_reserve(&migrate_events, sizeof(*e), 0);
	if (!e) {
		events_drop(GAMER_RING_MIGRATE);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->tid = p->pid;
	e->tgid = p->tgid;
	e->from_cpu = from;
	e->to_cpu = dest_cpu;
	/* CPUs beyond the tables (or none, -1) count as the same cache. */
	e->cross_llc = 0;
	if (f < GAMER_MAX_CPUS && t < GAMER_MAX_CPUS) {
		/*
		 * clang merges the two checks into one on f | t, which the
		 * verifier cannot follow: hide the values, and mask them.
		 */
		barrier_var(f);
		barrier_var(t);
		e->cross_llc = cpu_llc[f & (GAMER_MAX_CPUS - 1)] != cpu_llc[t & (GAMER_MAX_CPUS - 1)];
	}
	e->class_mask = tctx->class_mask;
	__builtin_memcpy(e->comm, p->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, wake_flag(&migrate_events, sizeof(*e) + 8));
	return 0;
}
