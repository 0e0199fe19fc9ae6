/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Class evidence from device drivers: reads of input devices (input), GPU
 * submits (GPU submit) and frames put on the display (compositor).
 * classify.bpf.c turns the evidence into classes; this file decides what
 * counts as evidence, which for some drivers is narrower than "the hooked
 * function succeeded" (docs/classification.md).
 *
 * Every hook here is optional: userspace enables each one only when its
 * kernel function exists, so a missing driver disables that hook alone.
 */
#include <scx/common.bpf.h>
#include "gamer.bpf.h"

/* DRM_MODE_ATOMIC_TEST_ONLY from the DRM uapi: a check, not a commit. */
#define DRM_ATOMIC_TEST_ONLY	0x0100

/*
 * Input: a read of an input device that returned events. evdev is what
 * games and compositors read; hidraw is how Steam Input and some games read
 * controllers directly.
 */
SEC("?fexit/evdev_read")
int BPF_PROG(input_evdev_read, struct file *file, void *buf, size_t count, void *ppos, long ret)
{
	if (ret <= 0)
		return 0;
	classify_mark_current(GAMER_CLASS_INPUT, GAMER_VIA_EVDEV_READ);
	events_input_read(file, buf, ret);
	return 0;
}

/*
 * hidraw also serves devices nobody plays with: UPSes, FIDO keys, RGB and
 * fan controllers, sensors. What a device is shows in the usage of the
 * application collections of its report descriptor, which the HID core has
 * parsed into hid_device->collection by the time a hidraw node exists.
 */
#define HID_COLLECTION_APPLICATION	1
/* Generic Desktop usages (HID Usage Tables, page 0x01): the devices a person drives. */
#define HID_GD_POINTER			0x00010001
#define HID_GD_MOUSE			0x00010002
#define HID_GD_JOYSTICK			0x00010004
#define HID_GD_GAMEPAD			0x00010005
#define HID_GD_KEYBOARD			0x00010006
#define HID_GD_KEYPAD			0x00010007
#define HID_GD_MULTIAXIS		0x00010008
/* Enough for any real device's collections; bounds the loop for the verifier. */
#define HID_MAX_COLLECTIONS		64

/* Not in every architecture's vmlinux.h (hidraw is often a module); CO-RE finds it. */
struct hidraw_list___gamer {
	struct hidraw *hidraw;
} __attribute__((preserve_access_index));

static bool hid_usage_is_human(u32 usage)
{
	switch (usage) {
	case HID_GD_POINTER:
	case HID_GD_MOUSE:
	case HID_GD_JOYSTICK:
	case HID_GD_GAMEPAD:
	case HID_GD_KEYBOARD:
	case HID_GD_KEYPAD:
	case HID_GD_MULTIAXIS:
		return true;
	}
	return false;
}

/* Whether hidraw file @file is a device a person drives, by its application collections. */
static bool hidraw_is_human(struct file *file)
{
	struct hidraw_list___gamer *list = BPF_CORE_READ(file, private_data);
	struct hid_device *hid = BPF_CORE_READ(list, hidraw, hid);
	struct hid_collection *coll, c;
	u32 n;
	int i;

	if (!hid)
		return false;
	coll = BPF_CORE_READ(hid, collection);
	n = BPF_CORE_READ(hid, maxcollection);
	if (!coll)
		return false;
	bpf_for(i, 0, HID_MAX_COLLECTIONS) {
		if (i >= n)
			break;
		if (bpf_probe_read_kernel(&c, sizeof(c), &coll[i]))
			break;
		if (c.type == HID_COLLECTION_APPLICATION && hid_usage_is_human(c.usage))
			return true;
	}
	return false;
}

SEC("?fexit/hidraw_read")
int BPF_PROG(input_hidraw_read, struct file *file, void *buf, size_t count, void *ppos, long ret)
{
	if (ret > 0 && hidraw_is_human(file))
		classify_mark_current(GAMER_CLASS_INPUT, GAMER_VIA_HIDRAW_READ);
	return 0;
}

/* A successful GPU submit by the current thread, through @driver. */
static void gpu_submitted(u32 driver, u32 kind)
{
	classify_mark_current(GAMER_CLASS_GPU_SUBMIT, GAMER_VIA_GPU_IOCTL);
	events_gpu_submit(task_ctx(bpf_get_current_task_btf()), driver, kind);
	/* For the frames of a game drawing through a compositor (present.bpf.c). */
	if (classify_current_in_game())
		present_game_submitted(bpf_get_current_pid_tgid() >> 32);
}

/*
 * GPU submit: the submit ioctl of each driver, counted when it succeeds.
 * They all share the DRM ioctl signature (device, data, file) -> int.
 */
#define GPU_SUBMIT_HOOK(fn, driver, kind)					\
SEC("?fexit/" #fn)								\
int BPF_PROG(gpu_##fn, void *dev, void *data, void *file, int ret)		\
{										\
	if (!ret)								\
		gpu_submitted(driver, kind);					\
	return 0;								\
}

GPU_SUBMIT_HOOK(amdgpu_cs_ioctl, GAMER_GPU_AMDGPU, GAMER_SUBMIT_COMMANDS)
GPU_SUBMIT_HOOK(i915_gem_execbuffer2_ioctl, GAMER_GPU_I915, GAMER_SUBMIT_COMMANDS)
GPU_SUBMIT_HOOK(xe_exec_ioctl, GAMER_GPU_XE, GAMER_SUBMIT_COMMANDS)
GPU_SUBMIT_HOOK(nouveau_gem_ioctl_pushbuf, GAMER_GPU_NOUVEAU, GAMER_SUBMIT_COMMANDS)
GPU_SUBMIT_HOOK(virtio_gpu_execbuffer_ioctl, GAMER_GPU_VIRTIO, GAMER_SUBMIT_COMMANDS)
GPU_SUBMIT_HOOK(msm_ioctl_gem_submit, GAMER_GPU_MSM, GAMER_SUBMIT_COMMANDS)
GPU_SUBMIT_HOOK(panfrost_ioctl_submit, GAMER_GPU_PANFROST, GAMER_SUBMIT_COMMANDS)
GPU_SUBMIT_HOOK(panthor_ioctl_group_submit, GAMER_GPU_PANTHOR, GAMER_SUBMIT_COMMANDS)
/*
 * vgem, the virtual GEM driver of software rendering and of DRM's own
 * tests, has no command stream: attaching a fence to a buffer is how its
 * users submit work that others wait on.
 */
GPU_SUBMIT_HOOK(vgem_fence_attach_ioctl, GAMER_GPU_VGEM, GAMER_SUBMIT_FENCE)

/*
 * NVIDIA's driver queues work in memory it maps into the process and rings
 * a mapped doorbell, with no ioctl per submit. Its ioctls are generic
 * resource-manager calls (allocate, free, control, map) that every client
 * makes alike: a CUDA job, nvidia-smi and a game's renderer issue the same
 * numbers, and graphics and compute differ only in the class of the objects
 * allocated once at start. So a successful ioctl counts only as
 * corroboration: from a thread of a process already named as the game it
 * marks that thread as the one driving the GPU; from anyone else it is
 * nothing (docs/classification.md).
 */
SEC("?fexit/nvidia_unlocked_ioctl")
int BPF_PROG(gpu_nvidia_unlocked_ioctl, void *file, unsigned int cmd, unsigned long arg, long ret)
{
	if (!ret && classify_current_in_game())
		gpu_submitted(GAMER_GPU_NVIDIA, GAMER_SUBMIT_DRIVER_IOCTL);
	return 0;
}

/*
 * Compositor: a frame put on the display. DRM refuses both ioctls to anyone
 * but the display's master, so success is proof of the role.
 */
SEC("?fexit/drm_mode_atomic_ioctl")
int BPF_PROG(compositor_atomic, void *dev, void *data, void *file_priv, int ret)
{
	u32 flags = 0;

	/* Only a refusal for being busy says something about frames. */
	if (ret && ret != -EBUSY)
		return 0;
	/* struct drm_mode_atomic starts with its flags (uapi, stable). */
	if (bpf_probe_read_kernel(&flags, sizeof(flags), data) || (flags & DRM_ATOMIC_TEST_ONLY))
		return 0;
	if (!ret)
		classify_mark_compositor(GAMER_VIA_DRM_ATOMIC);
	events_commit(task_ctx(bpf_get_current_task_btf()), ret);
	return 0;
}

SEC("?fexit/drm_mode_page_flip_ioctl")
int BPF_PROG(compositor_page_flip, void *dev, void *data, void *file_priv, int ret)
{
	if (ret && ret != -EBUSY)
		return 0;
	if (!ret)
		classify_mark_compositor(GAMER_VIA_DRM_PAGE_FLIP);
	events_commit(task_ctx(bpf_get_current_task_btf()), ret);
	return 0;
}
