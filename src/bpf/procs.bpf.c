/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which process starts and ends are worth telling userspace about, so that
 * launch detection (src/detect/) learns of a game within milliseconds of
 * its exec without ever scanning /proc again after startup.
 *
 * The kernel filters: an exec is reported when the new image looks like
 * Wine or a Windows program (a wine* loader, a .exe file), when it is one of
 * the launchers and wrappers games start under (Steam's reaper, Proton,
 * pressure-vessel, gamescope, Lutris, Heroic, Bottles), or when it happens
 * anywhere below a process userspace asked to watch. Watching is inherited
 * at fork, so a launcher's whole subtree is covered. An exit is reported for
 * the processes userspace has heard of: reported, watched, game and audio
 * server processes.
 *
 * Names only make a process a candidate here; userspace decides, from what
 * /proc says about it and who owns it.
 */
#include <scx/common.bpf.h>
#include "gamer.bpf.h"

/* TGID -> enum gamer_proc_flag bits. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GAMER_MAX_TGIDS);
	__type(key, u32);
	__type(value, u32);
} proc_tgids SEC(".maps");

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
	struct exec_scratch *s;
	u32 zero = 0, tgid = p->tgid, ptgid, *flags, reported = GAMER_PROC_REPORTED;
	char comm[GAMER_COMM_LEN];
	bool report;

	s = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!s)
		return 0;
	if (bpf_probe_read_kernel_str(s->filename, sizeof(s->filename), bprm->filename) < 0)
		s->filename[0] = 0;
	__builtin_memcpy(comm, p->comm, sizeof(comm));

	ptgid = BPF_CORE_READ(p, real_parent, tgid);
	report = is_launcher_comm(comm) || is_exe_name(s->filename) ||
		 bpf_map_lookup_elem(&proc_tgids, &ptgid) ||
		 bpf_map_lookup_elem(&proc_tgids, &tgid);
	if (!report)
		return 0;

	flags = bpf_map_lookup_elem(&proc_tgids, &tgid);
	if (flags)
		*flags |= GAMER_PROC_REPORTED;
	else
		bpf_map_update_elem(&proc_tgids, &tgid, &reported, BPF_NOEXIST);
	events_proc(p, GAMER_PROC_EXEC, s->filename);
	return 0;
}

/*
 * A child of a watched process is watched too. At this point of fork the
 * forking process is the one running.
 */
__hidden void procs_fork(struct task_struct *p)
{
	u32 ptgid = bpf_get_current_pid_tgid() >> 32, tgid = p->tgid, *flags, watch;

	flags = bpf_map_lookup_elem(&proc_tgids, &ptgid);
	if (!flags || !(*flags & GAMER_PROC_WATCH))
		return;
	watch = GAMER_PROC_WATCH;
	bpf_map_update_elem(&proc_tgids, &tgid, &watch, BPF_ANY);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(procs_exit, struct task_struct *p)
{
	u32 tgid = p->tgid;
	bool known;

	/* Only the last thread out ends the process. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	known = bpf_map_lookup_elem(&proc_tgids, &tgid) || classify_knows_process(tgid);
	bpf_map_delete_elem(&proc_tgids, &tgid);
	if (known)
		events_proc(p, GAMER_PROC_EXIT, NULL);
	return 0;
}
