/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Frames as the player sees them: one frame event per page flip the
 * display really presented, taken where the kernel delivers the flip's
 * completion event to the process that asked for it (docs/events.md).
 *
 * A commit or flip ioctl returning says only that a frame was queued: a
 * non-blocking commit returns before the flip, and a flip can land one or
 * more vblanks later than asked. DRM's vblank code sends every completion
 * event through send_vblank_event(), with the vblank sequence number and
 * the kernel's timestamp of that vblank (CLOCK_MONOTONIC, the same value
 * the drm_vblank_event tracepoint and the event's reader get). So the
 * frame time here is the kernel's, and a missed vblank is counted from the
 * sequence numbers rather than guessed from intervals.
 *
 * The hook is optional like every driver hook: DRM is a module, and
 * userspace enables the hook only when send_vblank_event is in the kernel.
 */
#include <scx/common.bpf.h>
#include "gamer.bpf.h"

/*
 * The few DRM fields read here, as local CO-RE flavours: libbpf matches
 * them by name against the running kernel's BTF (the drm module's), and
 * they do not depend on the DRM types being in the vmlinux.h this is
 * compiled against (arm64's has none, since DRM is a module there).
 */
struct drm_device;

struct drm_file___present {
	struct pid *pid;
} __attribute__((preserve_access_index));

struct drm_pending_event___present {
	struct drm_file___present *file_priv;
} __attribute__((preserve_access_index));

struct drm_event___present {
	u32 type;
} __attribute__((preserve_access_index));

struct drm_pending_vblank_event___present {
	struct drm_pending_event___present base;
	unsigned int pipe;
	union {
		struct drm_event___present base;
	} event;
} __attribute__((preserve_access_index));

/* DRM_EVENT_FLIP_COMPLETE from the DRM uapi: a page flip's completion. */
#define DRM_EVENT_FLIP_COMPLETE	0x02

/* One CRTC of one DRM device. */
struct crtc_key {
	u64 dev;
	u32 pipe;
	u32 pad;
};

/* What the next frame on a CRTC needs from the previous one. */
struct crtc_state {
	u64 last_ts_ns;
	u64 last_seq;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, struct crtc_key);
	__type(value, struct crtc_state);
} crtc_states SEC(".maps");

/* The process a DRM file belongs to: DRM keeps its opener's (or latest user's) TGID. */
static u32 drm_file_tgid(struct drm_file___present *file)
{
	struct pid *pid = BPF_CORE_READ(file, pid);

	return pid ? BPF_CORE_READ(pid, numbers[0].nr) : 0;
}

SEC("?fentry/send_vblank_event")
int BPF_PROG(present_flip, struct drm_device *dev, struct drm_pending_vblank_event___present *e,
	     u64 seq, s64 now)
{
	struct crtc_key key = { .dev = (u64)dev, .pipe = BPF_CORE_READ(e, pipe) };
	struct crtc_state *st, fresh = {};
	struct frame_event draft = {};
	struct drm_file___present *file = BPF_CORE_READ(e, base.file_priv);

	/*
	 * A vblank wait's event (drmWaitVBlank) is not a frame, and the
	 * completion of the kernel's own commits (no file) goes to no one.
	 */
	if (!file || BPF_CORE_READ(e, event.base.type) != DRM_EVENT_FLIP_COMPLETE)
		return 0;

	st = bpf_map_lookup_elem(&crtc_states, &key);
	if (!st) {
		bpf_map_update_elem(&crtc_states, &key, &fresh, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&crtc_states, &key);
		if (!st)
			return 0;
	}
	draft.ts_ns = now;
	draft.seq = seq;
	draft.crtc = key.pipe;
	draft.tgid = drm_file_tgid(file);
	if (st->last_ts_ns && (u64)now > st->last_ts_ns)
		draft.interval_ns = now - st->last_ts_ns;
	if (st->last_ts_ns && seq > st->last_seq + 1)
		draft.missed = seq - st->last_seq - 1;
	st->last_ts_ns = now;
	st->last_seq = seq;

	events_frame_presented(&draft);
	return 0;
}
