// SPDX-License-Identifier: GPL-2.0-only
//
// The names userspace gives intf.h's enums, and the fixed places every
// layer agrees on. It imports nothing else of the crate, so the flags, the
// scheduler, the event loop and the stats read it without importing one
// another.

use crate::bpf_intf as intf;

/// The stats socket's path unless --stats-socket says otherwise: where the
/// scx tools look for a scheduler's statistics.
pub const DEFAULT_STATS_SOCKET: &str = "/var/run/scx/root/stats";

/// An event stream from the BPF side: one record type, its ringbuf (the
/// input stream has GAMER_NR_INPUT_RINGS of them) and its drop counter.
/// Also the index of the loop's per-stream counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Input,
    Frame,
    GpuSubmit,
    RunqWait,
    Proc,
    Migrate,
    Class,
}

/// Each stream's name in stats, logs and `--watch-events`, its ringbuf map
/// in events.bpf.c (a prefix for the input rings), and its `enum gamer_ring`
/// slot in ring_drops, in `Kind` order.
const STREAMS: [(&str, &str, u32); Kind::ALL.len()] = [
    ("input", "input_ring_", intf::gamer_ring_GAMER_RING_INPUT),
    ("frame", "frame_events", intf::gamer_ring_GAMER_RING_FRAME),
    (
        "gpu-submit",
        "gpu_events",
        intf::gamer_ring_GAMER_RING_GPU_SUBMIT,
    ),
    (
        "runq-wait",
        "runq_wait_events",
        intf::gamer_ring_GAMER_RING_RUNQ_WAIT,
    ),
    // Exec, exit and listen records share the stream launch detection
    // reads; it is named for the record that matters most.
    ("exec", "proc_events", intf::gamer_ring_GAMER_RING_PROC),
    (
        "migrate",
        "migrate_events",
        intf::gamer_ring_GAMER_RING_MIGRATE,
    ),
    ("class", "class_events", intf::gamer_ring_GAMER_RING_CLASS),
];

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Input,
        Kind::Frame,
        Kind::GpuSubmit,
        Kind::RunqWait,
        Kind::Proc,
        Kind::Migrate,
        Kind::Class,
    ];

    pub const fn name(self) -> &'static str {
        STREAMS[self as usize].0
    }

    /// Where the BPF side counts this stream's drops (`enum gamer_ring`).
    pub const fn ring(self) -> u32 {
        STREAMS[self as usize].2
    }

    /// A bit for masks of kinds.
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The stream a map of the BPF object carries, from its name; `None`
    /// for maps that are no event ringbuf.
    pub fn of_map(map_name: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| match (k, STREAMS[*k as usize].1) {
                (Kind::Input, prefix) => map_name
                    .strip_prefix(prefix)
                    .is_some_and(|n| n.parse::<u32>().is_ok()),
                (_, map) => map_name == map,
            })
    }
}

/// `--watch-events` takes the stream names; the class stream, the last one,
/// is printed by `--log-classes` instead.
impl clap::ValueEnum for Kind {
    fn value_variants<'a>() -> &'a [Self] {
        &Kind::ALL[..Kind::ALL.len() - 1]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()))
    }
}

/// The stream names in `Kind::ALL` order, as the views list the rings.
pub const RING_NAMES: [&str; Kind::ALL.len()] = {
    let mut names = [""; Kind::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = STREAMS[i].0;
        i += 1;
    }
    names
};

/// Dispatch paths, named in the order of `enum gamer_stat` in intf.h.
pub const STAT_NAMES: [&str; intf::gamer_stat_NR_GSTATS as usize] = [
    "direct-idle",
    "topology-idle",
    "enqueue-idle",
    "kthread-local",
    "shared",
    "critical",
    "keep-running",
    "cpu-release",
    "displaced",
    "preempt-kick",
    "starve-guard",
    "aged",
    "input-tier",
];

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn stat_names_follow_the_enum() {
        assert_eq!(STAT_NAMES[intf::gamer_stat_GSTAT_SHARED as usize], "shared");
        assert_eq!(
            STAT_NAMES[intf::gamer_stat_GSTAT_CPU_RELEASE as usize],
            "cpu-release"
        );
        assert_eq!(
            STAT_NAMES[intf::gamer_stat_GSTAT_INPUT_TIER as usize],
            "input-tier"
        );
    }

    #[test]
    fn every_stream_has_its_own_name_ring_and_map() {
        for (i, k) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(Kind::from_name(k.name()), Some(k));
            assert_eq!(RING_NAMES[i], k.name());
            assert_eq!(k.ring(), i as u32, "{k:?} counts its drops elsewhere");
        }
        assert_eq!(Kind::ALL.len(), intf::gamer_ring_GAMER_NR_RINGS as usize);
    }

    #[test]
    fn ring_maps_are_recognised_by_name() {
        assert_eq!(Kind::of_map("input_ring_15"), Some(Kind::Input));
        assert_eq!(Kind::of_map("input_rings"), None);
        assert_eq!(Kind::of_map("proc_events"), Some(Kind::Proc));
        assert_eq!(Kind::of_map("class_events"), Some(Kind::Class));
        assert_eq!(Kind::of_map("migrate_events"), Some(Kind::Migrate));
        assert_eq!(Kind::of_map("game_tgids"), None);
    }

    #[test]
    fn the_watch_flag_takes_every_stream_but_class() {
        let names: Vec<String> = Kind::value_variants()
            .iter()
            .filter_map(|k| k.to_possible_value())
            .map(|v| v.get_name().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "input",
                "frame",
                "gpu-submit",
                "runq-wait",
                "exec",
                "migrate"
            ]
        );
    }
}
