/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which threads matter to a game, worked out from what they do in the
 * kernel rather than from their names (docs/classification.md).
 *
 * Evidence is gathered by hooks on the kernel paths that only the real thing
 * takes: reading an evdev device, or the hidraw node of a keyboard, mouse,
 * gamepad or joystick, that returned events (input), being woken while a PCM
 * period completes (audio), a successful DRM atomic commit or page flip,
 * which the kernel allows only to the display's master (compositor), a
 * successful submit ioctl of a GPU driver (GPU submit), and belonging to a
 * process the user or the launch detection named as the game. A renamed
 * process does none of these, so it gains nothing.
 *
 * Per-thread evidence (input, audio, GPU submit) expires after
 * class_window_ns without fresh evidence. Per-process classes (compositor,
 * game) last as long as the process. A thread woken by another thread of
 * the same process inherits the waker's input, audio and GPU-submit classes
 * for chain_window_ns, at most chain_max_depth wakeups away from the thread
 * that really showed the behaviour: this is how a Wine/Proton sync chain
 * (futex, eventfd, ntsync) carries "this matters" from the thread that read
 * the mouse to the thread that renders the frame.
 *
 * The input and GPU-submit hooks are in drivers.bpf.c; the audio, compositor
 * and game hooks are here. Every driver hook is optional: userspace enables
 * each one only when its kernel function exists, so a missing module
 * disables that hook alone.
 *
 * All timestamps here are bpf_ktime_get_ns(): the hooks run outside the
 * scheduler, where the runqueue clock of scx_bpf_now() is not theirs to read.
 */
#include <scx/common.bpf.h>
#include <bpf_experimental.h>
#include "gamer.bpf.h"

/* How long a thread keeps a class after the last evidence of it. */
const volatile u64 class_window_ns = 1000ULL * 1000 * 1000;
/* How long a class inherited through a wakeup lasts. */
const volatile u64 chain_window_ns = 10ULL * 1000 * 1000;
/* How many wakeups a class may travel from the thread that showed it. */
const volatile u32 chain_max_depth = 3;
/* --game-comm: a process that execs with this name is a game. */
const volatile char game_comm[GAMER_COMM_LEN];
const volatile bool game_comm_set;

/* Classes that travel along wakeups. Compositor and game are per process. */
#define CHAIN_CLASSES	(CLASS_BIT(GAMER_CLASS_INPUT) | CLASS_BIT(GAMER_CLASS_AUDIO) | \
			 CLASS_BIT(GAMER_CLASS_GPU_SUBMIT))

/* Process-wide classes: TGID -> enum gamer_class_via. */
struct tgid_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GAMER_MAX_TGIDS);
	__type(key, u32);
	__type(value, u32);
};
struct tgid_map game_tgids SEC(".maps");
struct tgid_map compositor_tgids SEC(".maps");
/* Audio servers (PipeWire, PulseAudio, JACK), registered by userspace. */
struct tgid_map audio_tgids SEC(".maps");

/*
 * Bumped on every change to the TGID maps above, by BPF or by userspace
 * (which writes it through the mmapped .bss after updating a map). A
 * thread looks its process up again only when it moved, which spares the
 * hash lookups on almost every context switch.
 */
u64 proc_gen;

static void proc_maps_changed(void)
{
	__sync_fetch_and_add(&proc_gen, 1);
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct class_stats);
} class_stats SEC(".maps");

/* Non-zero while this CPU is inside a PCM period completion. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} pcm_depth SEC(".maps");

static struct class_stats *this_cpu_class_stats(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&class_stats, &zero);
}

static bool in_pcm_period(void)
{
	u32 zero = 0, *depth = bpf_map_lookup_elem(&pcm_depth, &zero);

	return depth && *depth > 0;
}

/* Whether the current thread belongs to a process named as the game. */
__hidden bool classify_current_in_game(void)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return bpf_map_lookup_elem(&game_tgids, &tgid);
}

/*
 * Whether input the current thread read reaches the game: it is the game's
 * own, or the compositor's, which forwards it to the focused window. Input
 * read by anyone else (a daemon polling a sensor, a remapper, another
 * user's session) must not keep the game's input boost on.
 */
static bool current_feeds_game(void)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return bpf_map_lookup_elem(&game_tgids, &tgid) ||
	       bpf_map_lookup_elem(&compositor_tgids, &tgid);
}

/* The current thread showed the behaviour of @class, just now. */
__hidden void classify_mark_current(enum gamer_class class, enum gamer_class_via via)
{
	struct task_struct *p = bpf_get_current_task_btf();
	struct task_ctx *tctx = task_ctx(p);
	u64 now = bpf_ktime_get_ns();

	if (!tctx || class >= GAMER_NR_CLASSES)
		return;

	switch (class) {
	case GAMER_CLASS_INPUT:
		tctx->input_at = now;
		if (current_feeds_game())
			last_input_ns = now;
		break;
	case GAMER_CLASS_GPU_SUBMIT:
		tctx->gpu_at = now;
		break;
	default:
		return;
	}
	tctx->via[class] = via;
	/* It may wake the next thread of its chain before it runs again. */
	tctx->class_mask |= CLASS_BIT(class);
}

/* A wakeup inside a PCM period completion is the audio thread's alarm. */
static void mark_audio_wakee(struct task_struct *p)
{
	struct task_ctx *tctx;

	if (!in_pcm_period())
		return;
	tctx = task_ctx(p);
	if (!tctx)
		return;
	tctx->audio_at = bpf_ktime_get_ns();
	tctx->via[GAMER_CLASS_AUDIO] = GAMER_VIA_PCM_PERIOD;
}

static void mark_current_process(struct tgid_map *map, u32 via)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (bpf_map_lookup_elem(map, &tgid))
		return;
	bpf_map_update_elem(map, &tgid, &via, BPF_ANY);
	proc_maps_changed();
}

/* The current process is the display's master: a compositor (drivers.bpf.c). */
__hidden void classify_mark_compositor(enum gamer_class_via via)
{
	mark_current_process(&compositor_tgids, via);
}

/* Whether a process is in one of the per-process class maps. */
__hidden bool classify_knows_process(u32 tgid)
{
	return bpf_map_lookup_elem(&game_tgids, &tgid) ||
	       bpf_map_lookup_elem(&compositor_tgids, &tgid) ||
	       bpf_map_lookup_elem(&audio_tgids, &tgid);
}

__hidden bool classify_is_game(u32 tgid)
{
	return bpf_map_lookup_elem(&game_tgids, &tgid);
}

/* The per-process classes of @tgid, noting in @tctx how each was given. */
static u32 process_classes(struct task_ctx *tctx, u32 tgid)
{
	u32 mask = 0, *via;

	if ((via = bpf_map_lookup_elem(&compositor_tgids, &tgid))) {
		mask |= CLASS_BIT(GAMER_CLASS_COMPOSITOR);
		tctx->via[GAMER_CLASS_COMPOSITOR] = *via;
	}
	if ((via = bpf_map_lookup_elem(&game_tgids, &tgid))) {
		mask |= CLASS_BIT(GAMER_CLASS_GAME);
		tctx->via[GAMER_CLASS_GAME] = *via;
	}
	if ((via = bpf_map_lookup_elem(&audio_tgids, &tgid))) {
		mask |= CLASS_BIT(GAMER_CLASS_AUDIO);
		tctx->via[GAMER_CLASS_AUDIO] = *via;
	}
	return mask;
}

static bool recent(u64 at, u64 now)
{
	return at && time_since(now, at) < class_window_ns;
}

/*
 * Work out the classes @p holds now, into class_mask. The wakeup path runs
 * it before the queueing decision (select_cpu, enqueue), so a class the
 * wakeup itself carries (an inherited chain class, a PCM period's audio
 * class) counts for that wakeup, and a class that expired during a sleep
 * is gone before the task is queued; running runs it again, so the CPU time
 * and the wakeups the task makes are counted under what it holds meanwhile.
 */
__hidden void classify_refresh(struct task_struct *p, struct task_ctx *tctx)
{
	u32 mask = 0;
	u64 now = bpf_ktime_get_ns();
	/* Off by one, so that a new task's zero never matches. */
	u64 gen = proc_gen + 1;
	int c;

	if (recent(tctx->input_at, now))
		mask |= CLASS_BIT(GAMER_CLASS_INPUT);
	if (recent(tctx->audio_at, now))
		mask |= CLASS_BIT(GAMER_CLASS_AUDIO);
	if (recent(tctx->gpu_at, now))
		mask |= CLASS_BIT(GAMER_CLASS_GPU_SUBMIT);
	if (tctx->proc_gen != gen) {
		tctx->proc_mask = process_classes(tctx, p->tgid);
		tctx->proc_gen = gen;
	}
	mask |= tctx->proc_mask;

	/* Inherited classes fill in only what the thread does not hold itself. */
	if (tctx->chain_mask && time_before(now, tctx->chain_until)) {
		u32 inherited = tctx->chain_mask & ~mask;

		bpf_for(c, 0, GAMER_NR_CLASSES)
			if (inherited & CLASS_BIT(c))
				tctx->via[c] = GAMER_VIA_WAKE_CHAIN;
		mask |= inherited;
	} else {
		tctx->chain_mask = 0;
		tctx->chain_depth = 0;
	}

	tctx->class_mask = mask;
}

/* @p starts running: its classes now, and an event for each one it never held. */
__hidden void classify_running(struct task_struct *p, struct task_ctx *tctx)
{
	struct class_stats *stats;
	u32 fresh;
	int c;

	classify_refresh(p, tctx);
	fresh = tctx->class_mask & ~tctx->classes_seen;
	if (!fresh)
		return;

	tctx->classes_seen |= fresh;
	stats = this_cpu_class_stats();
	bpf_for(c, 0, GAMER_NR_CLASSES) {
		if (!(fresh & CLASS_BIT(c)))
			continue;
		if (stats)
			stats->c[c].threads++;
		events_class(p, tctx, c, bpf_ktime_get_ns());
	}
}

/* The chain depth of the classes a waker would pass on. */
static u32 waker_depth(struct task_ctx *wtctx, u32 inherit)
{
	/* Held for real by the waker itself: the wakee is one step away. */
	if (inherit & ~wtctx->chain_mask)
		return 1;
	return wtctx->chain_depth + 1;
}

/*
 * @p is being woken by the current task: inherit its chain classes. Both
 * select_cpu and runnable call this, since a remote wakeup runs runnable
 * from the target CPU's interrupt, where the waker is no longer current,
 * and a task that cannot migrate never goes through select_cpu.
 */
static void inherit_chain(struct task_struct *p, struct task_ctx *tctx)
{
	struct task_struct *waker;
	struct task_ctx *wtctx;
	u32 inherit, depth;

	/* From an interrupt, the current task is not the one waking @p. */
	if (bpf_in_interrupt())
		return;
	waker = bpf_get_current_task_btf();
	if (waker->tgid != p->tgid || waker->pid == p->pid)
		return;
	wtctx = task_ctx(waker);
	if (!wtctx)
		return;
	inherit = wtctx->class_mask & CHAIN_CLASSES;
	if (!inherit)
		return;
	depth = waker_depth(wtctx, inherit);
	if (depth > chain_max_depth)
		return;

	tctx->chain_mask = inherit;
	tctx->chain_depth = depth;
	tctx->chain_until = bpf_ktime_get_ns() + chain_window_ns;
	tctx->chain_waker = waker->pid;
}

/* @p is being woken up (ops.runnable): the classes this wakeup carries, counted. */
__hidden void classify_wakeup(struct task_struct *p, struct task_ctx *tctx)
{
	struct class_stats *stats;
	int c;

	mark_audio_wakee(p);
	inherit_chain(p, tctx);
	classify_refresh(p, tctx);

	stats = this_cpu_class_stats();
	if (stats && tctx->class_mask) {
		bpf_for(c, 0, GAMER_NR_CLASSES)
			if (tctx->class_mask & CLASS_BIT(c))
				stats->c[c].wakeups++;
	}
}

/* select_cpu, which comes before runnable: the classes, for the CPU choice. */
__hidden void classify_select_cpu(struct task_struct *p, struct task_ctx *tctx)
{
	mark_audio_wakee(p);
	inherit_chain(p, tctx);
	classify_refresh(p, tctx);
}

/* Count a boost or a run-queue wait over the bound for every class in @mask. */
__hidden void classify_count(u32 mask, bool boost)
{
	struct class_stats *stats = this_cpu_class_stats();
	int c;

	if (!stats || !mask)
		return;
	bpf_for(c, 0, GAMER_NR_CLASSES) {
		if (!(mask & CLASS_BIT(c)))
			continue;
		if (boost)
			stats->c[c].boosts++;
		else
			stats->c[c].runq_waits++;
	}
}

/* Charge @delta_ns of CPU time to every class the thread held meanwhile. */
__hidden void classify_account(struct task_ctx *tctx, u64 delta_ns)
{
	struct class_stats *stats;
	int c;

	if (!tctx->class_mask)
		return;
	stats = this_cpu_class_stats();
	if (!stats)
		return;
	bpf_for(c, 0, GAMER_NR_CLASSES)
		if (tctx->class_mask & CLASS_BIT(c))
			stats->c[c].cpu_ns += delta_ns;
}

/*
 * A new process forked from a game is part of the game. At this point of
 * fork the child's real_parent is not set yet, but the forking process is
 * the one running.
 */
__hidden void classify_init_task(struct task_struct *p, bool fork)
{
	u32 parent_tgid, tgid = p->tgid, via = GAMER_VIA_GAME_TGID;

	if (!fork || p->pid != p->tgid)
		return;
	parent_tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&game_tgids, &parent_tgid)) {
		bpf_map_update_elem(&game_tgids, &tgid, &via, BPF_ANY);
		proc_maps_changed();
	}
}

/* A process's classes end with its leader. */
__hidden void classify_exit_task(struct task_struct *p)
{
	u32 tgid = p->tgid;

	if (p->pid != p->tgid || !classify_knows_process(tgid))
		return;
	bpf_map_delete_elem(&game_tgids, &tgid);
	bpf_map_delete_elem(&compositor_tgids, &tgid);
	bpf_map_delete_elem(&audio_tgids, &tgid);
	proc_maps_changed();
}

/*
 * Audio: a PCM period completed. Every driver's completion goes through this
 * function, and the threads it wakes are the ones feeding or draining the
 * sound card.
 */
static void pcm_depth_add(int d)
{
	u32 zero = 0, *depth = bpf_map_lookup_elem(&pcm_depth, &zero);

	if (!depth)
		return;
	if (d > 0)
		(*depth)++;
	else if (*depth > 0)
		(*depth)--;
}

SEC("?fentry/snd_pcm_period_elapsed_under_stream_lock")
int BPF_PROG(audio_period_enter, void *substream)
{
	pcm_depth_add(1);
	return 0;
}

SEC("?fexit/snd_pcm_period_elapsed_under_stream_lock")
int BPF_PROG(audio_period_exit, void *substream)
{
	pcm_depth_add(-1);
	return 0;
}

/*
 * Game: a process that execs under the name given with --game-comm. Called
 * from the one exec hook (procs_exec in procs.bpf.c) for every exec.
 */
__hidden void classify_exec(struct task_struct *p)
{
	char comm[GAMER_COMM_LEN];
	u32 tgid, via = GAMER_VIA_GAME_TGID;
	int i;

	if (!game_comm_set)
		return;
	if (bpf_probe_read_kernel(comm, sizeof(comm), p->comm))
		return;
#pragma unroll
	for (i = 0; i < GAMER_COMM_LEN; i++) {
		if (comm[i] != game_comm[i])
			return;
		if (!comm[i])
			break;
	}
	tgid = p->tgid;
	bpf_map_update_elem(&game_tgids, &tgid, &via, BPF_ANY);
	proc_maps_changed();
}
