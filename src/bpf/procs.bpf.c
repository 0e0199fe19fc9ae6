/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which process starts and ends are worth telling userspace about, so that
 * launch detection (src/detect/) learns of a game within milliseconds of
 * its exec without ever scanning /proc again after startup.
 *
 * The kernel filters: an exec is reported when the new image looks like
 * Wine or a Windows program (a wine* loader, a .exe file) or is one of the
 * launchers and wrappers games start under (Steam's reaper, Proton,
 * pressure-vessel, gamescope, Lutris, Heroic, Bottles), and its user is one
 * userspace named in proc_uids (the seat's user); or when it happens
 * anywhere below a process userspace asked to watch. Watching is inherited
 * at fork, so a launcher's whole subtree is covered. An exit is reported for
 * the processes userspace has heard of: reported, watched, game and audio
 * server processes.
 *
 * Every entry BPF makes counts against its user's share (proc_use), so no
 * user can fill proc_tgids for the others; an exec over the share is not
 * reported, and counted.
 *
 * Names only make a process a candidate here; userspace decides, from what
 * /proc says about it and who owns it.
 */
#include <scx/common.bpf.h>
#include "gamer.bpf.h"

/* TGID -> struct gamer_proc_entry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GAMER_MAX_TGIDS);
	__type(key, u32);
	__type(value, struct gamer_proc_entry);
} proc_tgids SEC(".maps");

/*
 * The users whose candidate execs and socket listens are reported: uid -> 1,
 * or GAMER_UID_ANY -> 1 for every user. Written by userspace.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GAMER_MAX_UIDS);
	__type(key, u32);
	__type(value, u32);
} proc_uids SEC(".maps");

/* uid -> struct gamer_proc_use, kept by BPF, read by userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GAMER_MAX_UIDS);
	__type(key, u32);
	__type(value, struct gamer_proc_use);
} proc_use SEC(".maps");

static bool uid_listed(u32 uid)
{
	u32 any = GAMER_UID_ANY;

	return bpf_map_lookup_elem(&proc_uids, &uid) || bpf_map_lookup_elem(&proc_uids, &any);
}

/*
 * Make the entry of @tgid, a process of @uid, within @uid's share. False
 * when the share (or the map) is full: then the caller reports nothing.
 */
static bool procs_insert(u32 tgid, u32 uid, u32 flags)
{
	struct gamer_proc_entry e = { .flags = flags | GAMER_PROC_COUNTED, .uid = uid };
	struct gamer_proc_use fresh = {}, *use;

	use = bpf_map_lookup_elem(&proc_use, &uid);
	if (!use) {
		bpf_map_update_elem(&proc_use, &uid, &fresh, BPF_NOEXIST);
		use = bpf_map_lookup_elem(&proc_use, &uid);
		if (!use)
			return false;
	}
	/* CPUs racing here may overshoot the share by one entry each. */
	if (use->entries >= GAMER_PROC_PER_UID ||
	    bpf_map_update_elem(&proc_tgids, &tgid, &e, BPF_NOEXIST)) {
		__sync_fetch_and_add(&use->refused, 1);
		return false;
	}
	__sync_fetch_and_add(&use->entries, 1);
	return true;
}

/* Remove the entry of @tgid, if any, giving its user's share back. */
static bool procs_remove(u32 tgid)
{
	struct gamer_proc_entry *e;
	struct gamer_proc_use *use;

	e = bpf_map_lookup_elem(&proc_tgids, &tgid);
	if (!e)
		return false;
	if (e->flags & GAMER_PROC_COUNTED) {
		use = bpf_map_lookup_elem(&proc_use, &e->uid);
		if (use && use->entries)
			__sync_fetch_and_sub(&use->entries, 1);
	}
	bpf_map_delete_elem(&proc_tgids, &tgid);
	return true;
}

/* Whether @s starts with the NUL-terminated @prefix. */
static bool starts_with(const char *s, const char *prefix, int max)
{
	int i;

	for (i = 0; i < max; i++) {
		if (!prefix[i])
			return true;
		if (s[i] != prefix[i])
			return false;
	}
	return true;
}

/* Launchers and wrappers, by the comm their exec gives them. */
static bool is_launcher_comm(const char *comm)
{
	return starts_with(comm, "reaper", GAMER_COMM_LEN) ||
	       starts_with(comm, "proton", GAMER_COMM_LEN) ||
	       starts_with(comm, "pressure-vessel", GAMER_COMM_LEN) ||
	       starts_with(comm, "pv-adverb", GAMER_COMM_LEN) ||
	       starts_with(comm, "SteamLaunchWrap", GAMER_COMM_LEN) ||
	       starts_with(comm, "gamescope", GAMER_COMM_LEN) ||
	       starts_with(comm, "lutris", GAMER_COMM_LEN) ||
	       starts_with(comm, "heroic", GAMER_COMM_LEN) ||
	       starts_with(comm, "bottles", GAMER_COMM_LEN) ||
	       starts_with(comm, "wine", GAMER_COMM_LEN);
}

/* Whether the exec'd file name ends in ".exe", in any case. */
static bool is_exe_name(const char *name)
{
	int i, len = 0;

	bpf_for(i, 0, GAMER_PATH_LEN) {
		if (!name[i])
			break;
		len = i + 1;
	}
	if (len < 4 || len > GAMER_PATH_LEN)
		return false;
	return name[len - 4] == '.' &&
	       (name[len - 3] | 0x20) == 'e' &&
	       (name[len - 2] | 0x20) == 'x' &&
	       (name[len - 1] | 0x20) == 'e';
}

struct exec_scratch {
	char filename[GAMER_PATH_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct exec_scratch);
} exec_scratch SEC(".maps");

SEC("tp_btf/sched_process_exec")
int BPF_PROG(procs_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct gamer_proc_entry *self, *parent;
	struct exec_scratch *s;
	u32 zero = 0, tgid = p->tgid, ptgid, uid;
	bool named, below, manager_child;
	char comm[GAMER_COMM_LEN];

	/* --game-comm's match: before the filter, which it does not pass. */
	classify_exec(p);
	s = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!s)
		return 0;
	if (bpf_probe_read_kernel_str(s->filename, sizeof(s->filename), bprm->filename) < 0)
		s->filename[0] = 0;
	__builtin_memcpy(comm, p->comm, sizeof(comm));
	uid = bpf_get_current_uid_gid();

	ptgid = BPF_CORE_READ(p, real_parent, tgid);
	parent = bpf_map_lookup_elem(&proc_tgids, &ptgid);
	self = bpf_map_lookup_elem(&proc_tgids, &tgid);
	named = uid_listed(uid) && (is_launcher_comm(comm) || is_exe_name(s->filename));
	below = parent && (parent->flags & (GAMER_PROC_WATCH | GAMER_PROC_REPORTED));
	manager_child = parent && (parent->flags & GAMER_PROC_CHILDREN);
	if (!named && !below && !self && !manager_child)
		return 0;

	if (self)
		self->flags |= GAMER_PROC_REPORTED;
	else if ((named || below) && !procs_insert(tgid, uid, GAMER_PROC_REPORTED))
		return 0;
	events_proc(p, GAMER_PROC_EXEC, s->filename);
	return 0;
}

/*
 * A child of a watched process is watched too. At this point of fork the
 * forking process is the one running.
 */
__hidden void procs_fork(struct task_struct *p)
{
	u32 ptgid = bpf_get_current_pid_tgid() >> 32, tgid = p->tgid;
	struct gamer_proc_entry *parent;

	parent = bpf_map_lookup_elem(&proc_tgids, &ptgid);
	if (!parent || !(parent->flags & GAMER_PROC_WATCH))
		return;
	procs_insert(tgid, BPF_CORE_READ(p, cred, uid.val), GAMER_PROC_WATCH);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(procs_exit, struct task_struct *p)
{
	u32 tgid = p->tgid;
	bool known;

	/* Only the last thread out ends the process. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	known = procs_remove(tgid) || classify_knows_process(tgid);
	if (known)
		events_proc(p, GAMER_PROC_EXIT, NULL);
	return 0;
}

/*
 * A UNIX socket now listens. An audio server's socket file appears at
 * bind(), and connecting to it names its server only after listen():
 * this tells userspace when to try again, instead of a timer. Only for the
 * users in proc_uids, so nobody else can fill the ring with listens.
 */
SEC("?fexit/unix_listen")
int BPF_PROG(procs_listen, struct socket *sock, int backlog, int ret)
{
	if (ret || !uid_listed(bpf_get_current_uid_gid()))
		return 0;
	events_proc(bpf_get_current_task_btf(), GAMER_PROC_LISTEN, NULL);
	return 0;
}
