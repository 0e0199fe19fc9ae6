// SPDX-License-Identifier: GPL-2.0-only
//
// The records the BPF side puts in its ringbufs (defined in intf.h, turned
// into Rust by bindgen), copied out of ringbuf memory by value and carried
// to the consumers as one `Event`; nothing here allocates.

use std::mem::size_of;

use crate::bpf_intf as intf;

pub type InputEvent = intf::input_event_rec;
pub type FrameEvent = intf::frame_event;
pub type ProcEvent = intf::gamer_proc_event;
pub type MigrateEvent = intf::migrate_event;

pub use crate::names::Kind;

/// `Event`, one record of any stream, with a variant per `Kind` of the
/// same name holding that stream's intf.h record.
macro_rules! events {
    ($($kind:ident($record:ty)),* $(,)?) => {
        #[derive(Clone, Copy, Debug)]
        pub enum Event {
            $($kind($record)),*
        }

        impl Event {
            /// Read a record of stream `kind` from ringbuf bytes; `None` when
            /// it is shorter than its type (a layout mismatch, never expected).
            pub fn parse(kind: Kind, data: &[u8]) -> Option<Event> {
                Some(match kind {
                    $(Kind::$kind => Event::$kind(read(data)?)),*
                })
            }
        }
    };
}

events!(
    Input(InputEvent),
    Frame(FrameEvent),
    GpuSubmit(intf::gpu_submit_event),
    RunqWait(intf::runq_wait_event),
    Proc(ProcEvent),
    Migrate(MigrateEvent),
    Class(intf::class_event),
);

/// Copy a plain C record out of `data`. The types are bindgen's, made of
/// integers and byte arrays only, so every bit pattern is a valid value.
pub(crate) fn read<T: Copy>(data: &[u8]) -> Option<T> {
    if data.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: the length is checked above, read_unaligned needs no
    // alignment, and T is a plain-old-data record (see above).
    Some(unsafe { std::ptr::read_unaligned(data.as_ptr().cast::<T>()) })
}

/// A NUL-padded C string as text.
pub fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

pub(crate) fn c_chars(chars: &[std::os::raw::c_char]) -> String {
    c_str(&chars.iter().map(|&c| c as u8).collect::<Vec<u8>>())
}

pub fn gpu_driver_name(driver: u32) -> &'static str {
    const NAMES: [&str; intf::gamer_gpu_driver_GAMER_NR_GPU_DRIVERS as usize] = [
        "amdgpu",
        "i915",
        "xe",
        "nouveau",
        "virtio-gpu",
        "msm",
        "panfrost",
        "panthor",
        "nvidia",
        "vgem",
    ];
    NAMES.get(driver as usize).copied().unwrap_or("unknown")
}

pub fn submit_kind_name(kind: u32) -> &'static str {
    match kind {
        intf::gamer_submit_kind_GAMER_SUBMIT_COMMANDS => "commands",
        intf::gamer_submit_kind_GAMER_SUBMIT_FENCE => "fence",
        intf::gamer_submit_kind_GAMER_SUBMIT_DRIVER_IOCTL => "driver-ioctl",
        _ => "unknown",
    }
}

pub fn proc_kind_name(kind: u32) -> &'static str {
    match kind {
        intf::gamer_proc_kind_GAMER_PROC_EXEC => "exec",
        intf::gamer_proc_kind_GAMER_PROC_EXIT => "exit",
        intf::gamer_proc_kind_GAMER_PROC_LISTEN => "listen",
        _ => "unknown",
    }
}

/// The names of the classes in a class mask, joined with '+'.
pub fn class_mask_names(mask: u32) -> String {
    let names: Vec<&str> = crate::classes::CLASS_NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join("+")
    }
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// One line per event, for `--watch-input` / `--watch-events`. Times are
/// CLOCK_MONOTONIC seconds, as the kernel stamps them.
pub fn describe(event: &Event) -> String {
    match event {
        Event::Input(e) => format!(
            "{:.6} input event{} type={} code={} value={} tid={} cpu={} latency={:.1}us",
            e.ts_ns as f64 / 1e9,
            e.device,
            e.type_,
            e.code,
            e.value,
            e.tid,
            e.cpu,
            us(e.latency_ns)
        ),
        // The presentation time is printed in whole ns as well, so that it
        // can be matched exactly against the drm_vblank_event tracepoint.
        Event::Frame(e) => format!(
            "{:.6} frame crtc={} seq={} present-ns={} tgid={} tid={} game={} interval={:.1}us \
             missed={} dropped={} delivery={:.1}us submit-to-present={:.1}us \
             compositor-latency={:.1}us game-frame-of={} game-frame-interval={:.1}us",
            e.ts_ns as f64 / 1e9,
            e.crtc,
            e.seq,
            e.ts_ns,
            e.tgid,
            e.tid,
            e.game,
            us(e.interval_ns),
            e.missed,
            e.dropped,
            us(e.delivered_ns.saturating_sub(e.ts_ns)),
            us(e.submit_to_present_ns),
            us(e.compositor_latency_ns),
            e.game_tgid,
            us(e.game_interval_ns)
        ),
        Event::GpuSubmit(e) => format!(
            "{:.6} gpu-submit tid={} tgid={} driver={} kind={} interval={:.1}us",
            e.ts_ns as f64 / 1e9,
            e.tid,
            e.tgid,
            gpu_driver_name(e.driver),
            submit_kind_name(e.kind),
            us(e.interval_ns)
        ),
        Event::RunqWait(e) => format!(
            "{:.6} runq-wait tid={} tgid={} comm={} class={} bound={:.1}us wait={:.1}us \
             over={:.1}us cpu={}",
            e.ts_ns as f64 / 1e9,
            e.tid,
            e.tgid,
            c_chars(&e.comm),
            class_mask_names(e.class_mask),
            us(e.bound_ns),
            us(e.wait_ns),
            us(e.over_ns),
            e.cpu
        ),
        Event::Proc(e) => format!(
            "{:.6} {} pid={} ppid={} uid={} comm={} file={}",
            e.ts_ns as f64 / 1e9,
            proc_kind_name(e.kind),
            e.tgid,
            e.ppid,
            e.uid,
            c_chars(&e.comm),
            c_chars(&e.filename)
        ),
        Event::Migrate(e) => format!(
            "{:.6} migrate tid={} tgid={} comm={} class={} from={} to={} cross-llc={}",
            e.ts_ns as f64 / 1e9,
            e.tid,
            e.tgid,
            c_chars(&e.comm),
            class_mask_names(e.class_mask),
            e.from_cpu,
            e.to_cpu,
            e.cross_llc
        ),
        Event::Class(e) => crate::classes::describe_event(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of<T: Copy>(v: &T) -> Vec<u8> {
        // SAFETY: reading the bytes of a plain C record.
        unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()).to_vec() }
    }

    #[test]
    fn parse_reads_a_record_back_and_refuses_short_data() {
        let e = InputEvent {
            ts_ns: 7,
            latency_ns: 1500,
            tid: 42,
            cpu: 1,
            device: 3,
            type_: 1,
            code: 30,
            value: 1,
            pad: 0,
        };
        let data = bytes_of(&e);
        match Event::parse(Kind::Input, &data) {
            Some(Event::Input(back)) => {
                assert_eq!(
                    (back.tid, back.code, back.value, back.latency_ns),
                    (42, 30, 1, 1500)
                )
            }
            other => panic!("parsed {other:?}"),
        }
        assert!(Event::parse(Kind::Input, &data[..data.len() - 1]).is_none());
        // A record is read wherever it starts: ringbuf data is 8-aligned,
        // but nothing here relies on it.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&data);
        assert!(matches!(
            Event::parse(Kind::Input, &shifted[1..]),
            Some(Event::Input(_))
        ));
    }

    #[test]
    fn describe_names_the_fields_a_reader_looks_for() {
        let e = InputEvent {
            ts_ns: 2_000_000_000,
            latency_ns: 2500,
            tid: 9,
            cpu: 0,
            device: 4,
            type_: 1,
            code: 30,
            value: 1,
            pad: 0,
        };
        let line = describe(&Event::Input(e));
        assert!(
            line.contains("input event4 type=1 code=30 value=1 tid=9"),
            "{line}"
        );
        assert!(line.ends_with("latency=2.5us"), "{line}");
    }

    #[test]
    fn names_cover_every_value() {
        assert_eq!(
            gpu_driver_name(intf::gamer_gpu_driver_GAMER_GPU_VGEM),
            "vgem"
        );
        assert_eq!(gpu_driver_name(99), "unknown");
        assert_eq!(class_mask_names(0), "none");
        assert_eq!(class_mask_names(0b10001), "input+game");
    }

    #[test]
    fn proc_events_say_which_kind_they_are() {
        let mut e: ProcEvent = read(&[0u8; size_of::<ProcEvent>()]).unwrap();
        e.tgid = 77;
        let mut line = |kind| {
            e.kind = kind;
            describe(&Event::Proc(e))
        };
        assert!(line(intf::gamer_proc_kind_GAMER_PROC_EXEC).contains(" exec pid=77 "));
        assert!(line(intf::gamer_proc_kind_GAMER_PROC_EXIT).contains(" exit pid=77 "));
        assert!(line(intf::gamer_proc_kind_GAMER_PROC_LISTEN).contains(" listen pid=77 "));
        assert!(line(99).contains(" unknown pid=77 "));
    }

    #[test]
    fn migrate_lines_carry_both_cpus_and_the_cache_flag() {
        let mut e: MigrateEvent = read(&[0u8; size_of::<MigrateEvent>()]).unwrap();
        (e.tid, e.from_cpu, e.to_cpu, e.cross_llc, e.class_mask) = (5, 1, 6, 1, 0b10000);
        let line = describe(&Event::Migrate(e));
        assert!(
            line.ends_with(" migrate tid=5 tgid=0 comm= class=game from=1 to=6 cross-llc=1"),
            "{line}"
        );
    }

    #[test]
    fn c_str_stops_at_nul() {
        assert_eq!(c_str(b"Game.exe\0\0junk"), "Game.exe");
        assert_eq!(c_str(b"full"), "full");
    }
}
