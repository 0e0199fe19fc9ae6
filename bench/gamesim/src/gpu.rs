// SPDX-License-Identifier: GPL-2.0-only
//
// GPU submits through a real DRM driver: vgem, the virtual GEM driver. It
// has no command stream; a client submits work by attaching a fence to a
// buffer (DRM_IOCTL_VGEM_FENCE_ATTACH) and signals the fence when the work
// is done. The submit thread does that once per frame, so a scheduler sees
// the frame chain's last thread make a real submit ioctl, as a game's
// submit thread does with a real GPU driver.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;

const fn iowr(nr: u64, size: u64) -> u64 {
    (3 << 30) | (size << 16) | ((b'd' as u64) << 8) | nr
}
const fn iow(nr: u64, size: u64) -> u64 {
    (1 << 30) | (size << 16) | ((b'd' as u64) << 8) | nr
}

/// struct drm_mode_create_dumb
#[repr(C)]
#[derive(Default)]
struct CreateDumb {
    height: u32,
    width: u32,
    bpp: u32,
    flags: u32,
    handle: u32,
    pitch: u32,
    size: u64,
}

/// struct drm_vgem_fence_attach
#[repr(C)]
#[derive(Default)]
struct FenceAttach {
    handle: u32,
    flags: u32,
    out_fence: u32,
    pad: u32,
}

/// struct drm_vgem_fence_signal
#[repr(C)]
#[derive(Default)]
struct FenceSignal {
    fence: u32,
    flags: u32,
}

const CREATE_DUMB: u64 = iowr(0xB2, std::mem::size_of::<CreateDumb>() as u64);
const FENCE_ATTACH: u64 = iowr(0x41, std::mem::size_of::<FenceAttach>() as u64);
const FENCE_SIGNAL: u64 = iow(0x42, std::mem::size_of::<FenceSignal>() as u64);
const VGEM_FENCE_WRITE: u32 = 1;

pub struct Vgem {
    card: File,
    handle: u32,
}

fn ioctl<T>(fd: &File, req: u64, arg: &mut T, what: &str) -> Result<(), String> {
    // SAFETY: `arg` is the #[repr(C)] struct the request number encodes.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, arg as *mut T) };
    if ret < 0 {
        return Err(format!("{what}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

impl Vgem {
    /// Open vgem's card (found by its driver's name in the sysfs path, on
    /// whatever bus the kernel put it) and make the buffer to fence.
    pub fn open() -> Result<Self, String> {
        let mut cards: Vec<_> = fs::read_dir("/sys/class/drm")
            .map_err(|e| format!("/sys/class/drm: {e}"))?
            .filter_map(|e| e.ok())
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("card") && !name.contains('-')
            })
            .collect();
        cards.sort_by_key(|e| e.file_name());
        let card = cards
            .iter()
            .find(|e| {
                fs::canonicalize(e.path())
                    .map(|p| p.to_string_lossy().contains("/vgem/"))
                    .unwrap_or(false)
            })
            .ok_or("no vgem card (is the vgem module loaded?)")?;
        let path = format!("/dev/dri/{}", card.file_name().to_string_lossy());
        let card = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("{path}: {e}"))?;
        let mut dumb = CreateDumb {
            height: 64,
            width: 64,
            bpp: 32,
            ..Default::default()
        };
        ioctl(&card, CREATE_DUMB, &mut dumb, "vgem create buffer")?;
        Ok(Vgem {
            card,
            handle: dumb.handle,
        })
    }

    /// One submit: attach a write fence to the buffer and signal it.
    pub fn submit(&self) -> Result<(), String> {
        let mut attach = FenceAttach {
            handle: self.handle,
            flags: VGEM_FENCE_WRITE,
            ..Default::default()
        };
        ioctl(&self.card, FENCE_ATTACH, &mut attach, "vgem fence attach")?;
        let mut signal = FenceSignal {
            fence: attach.out_fence,
            flags: 0,
        };
        ioctl(&self.card, FENCE_SIGNAL, &mut signal, "vgem fence signal")
    }
}
