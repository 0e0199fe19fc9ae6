// SPDX-License-Identifier: GPL-2.0-only
//
// The userspace half of thread classification (src/bpf/classify.bpf.c does
// the work): the class names, the --game-comm bytes the BPF side matches,
// and how a class event is shown. Which optional class hooks the kernel
// can take is src/hooks.rs; which processes the command line names as the
// game is src/detect/named.rs.

use crate::bpf_intf;

pub const NR_CLASSES: usize = bpf_intf::gamer_class_GAMER_NR_CLASSES as usize;

/// Class names, in the order of `enum gamer_class` in intf.h.
pub const CLASS_NAMES: [&str; NR_CLASSES] = ["input", "audio", "compositor", "gpu-submit", "game"];

/// How a class was gained, in the order of `enum gamer_class_via`.
const VIA_NAMES: [&str; bpf_intf::gamer_class_via_GAMER_NR_VIAS as usize] = [
    "evdev-read",
    "hidraw-read",
    "pcm-period",
    "audio-server",
    "drm-atomic",
    "drm-page-flip",
    "gpu-ioctl",
    "game-tgid",
    "wake-chain",
];

/// The kernel's fixed-size comm field for a name already checked by the CLI.
pub fn comm_bytes(name: &str) -> [i8; bpf_intf::gamer_consts_GAMER_COMM_LEN as usize] {
    let mut out = [0i8; bpf_intf::gamer_consts_GAMER_COMM_LEN as usize];
    let room = out.len() - 1;
    for (o, b) in out.iter_mut().zip(name.bytes().take(room)) {
        *o = b as i8;
    }
    out
}

/// A human line for one class event from the BPF side.
pub fn describe_event(e: &bpf_intf::class_event) -> String {
    let class = CLASS_NAMES.get(e.class_id as usize).unwrap_or(&"?");
    let via = VIA_NAMES.get(e.via as usize).unwrap_or(&"?");
    let mut line = format!(
        "class {class}: tid {} ({}) tgid {} via {via}",
        e.tid,
        crate::events::records::c_chars(&e.comm),
        e.tgid
    );
    if e.waker_tid != 0 {
        line.push_str(&format!(" from tid {}", e.waker_tid));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_every_enum_value() {
        assert_eq!(CLASS_NAMES.len(), NR_CLASSES);
        assert_eq!(
            CLASS_NAMES[bpf_intf::gamer_class_GAMER_CLASS_GAME as usize],
            "game"
        );
        assert_eq!(
            VIA_NAMES[bpf_intf::gamer_class_via_GAMER_VIA_WAKE_CHAIN as usize],
            "wake-chain"
        );
    }

    #[test]
    fn comm_bytes_are_nul_terminated() {
        let b = comm_bytes("hl2_linux");
        assert_eq!(b[0], b'h' as i8);
        assert_eq!(b[9], 0);
        assert_eq!(comm_bytes("exactly15bytes!")[15], 0);
    }

    #[test]
    fn events_are_described_with_their_waker() {
        let mut e = bpf_intf::class_event {
            ts_ns: 1,
            tid: 31,
            tgid: 30,
            class_id: bpf_intf::gamer_class_GAMER_CLASS_INPUT,
            via: bpf_intf::gamer_class_via_GAMER_VIA_WAKE_CHAIN,
            waker_tid: 33,
            pad: 0,
            comm: [0; 16],
        };
        for (d, s) in e.comm.iter_mut().zip(b"render") {
            *d = *s as i8;
        }
        assert_eq!(
            describe_event(&e),
            "class input: tid 31 (render) tgid 30 via wake-chain from tid 33"
        );
    }
}
