// SPDX-License-Identifier: GPL-2.0-only
//
// The metrics snapshot every view reads. The `stat(desc)` attributes are
// the one description of each metric: `--help-stats` prints them and scx
// tools read them from the socket's metadata. Rows with a natural name (a
// class, a dispatch path, a ring, a channel) are maps keyed by it, which
// scxstats_to_openmetrics turns into labelled series (`_om_label`).

use std::collections::BTreeMap;

use scx_stats::prelude::*;
use scx_stats_derive::Stats;
use serde::{Deserialize, Serialize};

/// What the socket's metadata carries so that a client can tell scx_gamer
/// from another scx scheduler serving the same path.
pub const SCHEDULER_TAG: (&str, &str) = ("_scheduler", "scx_gamer");

/// Upper edges of the frame-time histogram the views draw, in µs: the
/// frame times of common refresh rates (240, 144, 120, 90, 60, 50, 30, 20
/// and 10 frames per second), then everything slower.
pub const FRAME_HIST_EDGES_US: [u64; 10] = [
    4_167,
    6_944,
    8_333,
    11_111,
    16_667,
    20_000,
    33_333,
    50_000,
    100_000,
    u64::MAX,
];

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
#[serde(default)]
#[stat(
    top,
    desc = "scx_gamer: what the scheduler does, and whether frames, input and audio stay on time",
    _scheduler = "scx_gamer",
    _om_prefix = "scx_gamer_"
)]
pub struct Metrics {
    #[stat(desc = "Snapshots published since the scheduler started; one a second")]
    pub seq: u64,
    #[stat(desc = "Milliseconds since the scheduler started")]
    pub uptime_ms: u64,
    #[stat(
        desc = "Milliseconds since the previous snapshot: the span every per_s rate and cpu_pct covers"
    )]
    pub interval_ms: u64,

    #[stat(desc = "Per thread class (input, audio, compositor, gpu-submit, game)")]
    pub classes: BTreeMap<String, ClassMetrics>,
    #[stat(desc = "Per dispatch path: where the scheduler put each runnable task")]
    pub dispatches: BTreeMap<String, DispatchMetrics>,
    #[stat(
        desc = "Per BPF event ringbuf (input, frame, gpu-submit, runq-wait, exec, migrate, class)"
    )]
    pub rings: BTreeMap<String, RingMetrics>,
    #[stat(
        desc = "Events each input ringbuf dropped, in ring order; the input row of rings sums them",
        _om_skip
    )]
    pub input_ring_drops: Vec<u64>,
    #[stat(desc = "Per channel from the event loop to a consumer")]
    pub channels: BTreeMap<String, ChannelMetrics>,

    #[stat(desc = "Seconds of frames the frame statistics cover (the most recent ones)")]
    pub frame_window_s: u64,
    #[stat(
        desc = "Frames presented in the window: every page flip the display put on screen, on every CRTC, whoever drew it (the compositor's frames)"
    )]
    pub frames: u64,
    #[stat(desc = "Presented frames in the window that one or more vblanks passed without")]
    pub frames_late: u64,
    #[stat(
        desc = "Average frames per second over the window: frames divided by the sum of their frame times"
    )]
    pub fps_avg: f64,
    #[stat(
        desc = "1 % low FPS: frames per second of the slowest 1 % of the window's frames (their count divided by the sum of their frame times)"
    )]
    pub fps_1pct_low: f64,
    #[stat(desc = "Median frame time over the window, in µs")]
    pub frame_p50_us: u64,
    #[stat(desc = "95th percentile frame time over the window, in µs")]
    pub frame_p95_us: u64,
    #[stat(desc = "99th percentile frame time over the window, in µs")]
    pub frame_p99_us: u64,
    #[stat(desc = "99.9th percentile frame time over the window, in µs")]
    pub frame_p999_us: u64,
    #[stat(
        desc = "Frame-time histogram over the window, by refresh-rate band",
        _om_skip
    )]
    pub frame_hist: Vec<FrameBucket>,
    #[stat(
        desc = "Frames presented to game processes in the window that had a previous one (the game's frame times)"
    )]
    pub game_frames: u64,
    #[stat(desc = "The game's average frames per second over the window")]
    pub game_fps_avg: f64,
    #[stat(desc = "The game's 1 % low FPS over the window")]
    pub game_fps_1pct_low: f64,
    #[stat(desc = "The game's median frame time over the window, in µs")]
    pub game_frame_p50_us: u64,
    #[stat(desc = "The game's 99th percentile frame time over the window, in µs")]
    pub game_frame_p99_us: u64,
    #[stat(desc = "Input events in the window that a frame followed (the input-to-frame samples)")]
    pub input_to_frame_samples: u64,
    #[stat(desc = "Median time from an input event to the next frame, in µs")]
    pub input_to_frame_p50_us: u64,
    #[stat(desc = "99th percentile time from an input event to the next frame, in µs")]
    pub input_to_frame_p99_us: u64,

    #[stat(
        desc = "Times a game thread moved to another CPU since the scheduler started (the migrate stream)"
    )]
    pub game_migrations: u64,
    #[stat(desc = "Of those, the moves between CPUs of different last-level caches")]
    pub game_cross_llc_migrations: u64,
    #[stat(desc = "Cross-LLC moves of game threads per second over the last interval")]
    pub game_cross_llc_migrations_per_s: f64,

    #[stat(desc = "Processes treated as the game")]
    pub games: Vec<GameProcess>,
    #[stat(desc = "Audio servers found running")]
    pub audio_servers: Vec<AudioServer>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
#[serde(default)]
#[stat(desc = "One thread class", _om_prefix = "class_", _om_label = "class")]
pub struct ClassMetrics {
    #[stat(desc = "Threads that have held the class since the scheduler started")]
    pub threads: u64,
    #[stat(desc = "CPU time used by threads while they held the class, in ns, since start")]
    pub cpu_ns: u64,
    #[stat(desc = "CPU time of the class over the last interval, in % of one CPU")]
    pub cpu_pct: f64,
    #[stat(desc = "Wakeups of threads while they held the class, since start")]
    pub wakeups: u64,
    #[stat(desc = "Wakeups per second over the last interval")]
    pub wakeups_per_s: f64,
    #[stat(
        desc = "Times the gaming policy raised a thread of the class ahead of its plain deadline, since start"
    )]
    pub boosts: u64,
    #[stat(
        desc = "Times a thread of the class waited on the run queue longer than --runq-wait-us, since start"
    )]
    pub runq_waits: u64,
    #[stat(desc = "Run-queue waits over the bound per second over the last interval")]
    pub runq_waits_per_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
#[serde(default)]
#[stat(
    desc = "One dispatch path",
    _om_prefix = "dispatch_",
    _om_label = "path"
)]
pub struct DispatchMetrics {
    #[stat(desc = "Dispatches by this path since the scheduler started")]
    pub count: u64,
    #[stat(desc = "Dispatches per second over the last interval")]
    pub per_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
#[serde(default)]
#[stat(
    desc = "One BPF event ringbuf",
    _om_prefix = "ring_",
    _om_label = "ring"
)]
pub struct RingMetrics {
    #[stat(desc = "Events read from the ring since the scheduler started")]
    pub events: u64,
    #[stat(desc = "Events the BPF side could not write because the ring was full, since start")]
    pub drops: u64,
    #[stat(desc = "Events read per second over the last interval")]
    pub events_per_s: f64,
    #[stat(desc = "Events dropped per second over the last interval")]
    pub drops_per_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
#[serde(default)]
#[stat(
    desc = "One channel from the event loop to a consumer",
    _om_prefix = "channel_",
    _om_label = "channel"
)]
pub struct ChannelMetrics {
    #[stat(desc = "Messages the event loop handed to the consumer since start")]
    pub sent: u64,
    #[stat(desc = "Messages dropped because the consumer's channel was full, since start")]
    pub dropped: u64,
    #[stat(desc = "Messages sent per second over the last interval")]
    pub sent_per_s: f64,
    #[stat(desc = "Messages dropped per second over the last interval")]
    pub dropped_per_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
#[serde(default)]
#[stat(desc = "One band of the frame-time histogram")]
pub struct FrameBucket {
    #[stat(desc = "Upper edge of the band, in µs (18446744073709551615: no upper edge)")]
    pub le_us: u64,
    #[stat(desc = "Frames in the window whose frame time falls in the band")]
    pub frames: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
#[serde(default)]
#[stat(desc = "A process treated as the game")]
pub struct GameProcess {
    #[stat(desc = "Process id")]
    pub tgid: u64,
    #[stat(desc = "Process name, as in /proc/PID/comm")]
    pub comm: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
#[serde(default)]
#[stat(desc = "A running audio server")]
pub struct AudioServer {
    #[stat(desc = "Process id")]
    pub tgid: u64,
    #[stat(desc = "Which server it is (pipewire, pulseaudio, jackd, ...)")]
    pub kind: String,
}

/// The metadata of every stats struct, for the socket's `stats_meta`
/// request and for `--help-stats`.
pub fn all_meta() -> Vec<StatsMeta> {
    vec![
        Metrics::meta(),
        ClassMetrics::meta(),
        DispatchMetrics::meta(),
        RingMetrics::meta(),
        ChannelMetrics::meta(),
        FrameBucket::meta(),
        GameProcess::meta(),
        AudioServer::meta(),
    ]
}

/// Write the description of every metric, as `--help-stats` prints it.
pub fn describe(w: &mut impl std::io::Write) -> anyhow::Result<()> {
    let data = all_meta()
        .into_iter()
        .fold(StatsServerData::<(), ()>::new(), |d, m| d.add_meta(m));
    data.describe_meta(w, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_a_description() {
        for m in all_meta() {
            assert!(m.attrs.desc.is_some(), "{} has no desc", m.name);
            for (name, f) in &m.fields {
                assert!(f.attrs.desc.is_some(), "{}.{name} has no desc", m.name);
            }
        }
    }

    #[test]
    fn the_top_struct_carries_the_scheduler_tag() {
        let m = Metrics::meta();
        assert!(m.attrs.top.is_some());
        assert_eq!(
            m.attrs.user.get(SCHEDULER_TAG.0).map(String::as_str),
            Some(SCHEDULER_TAG.1)
        );
    }

    #[test]
    fn describe_names_every_field_with_its_description() {
        let mut out = Vec::new();
        describe(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for m in all_meta() {
            assert!(text.contains(&format!("[{}", m.name)), "{}", m.name);
            for (name, f) in &m.fields {
                assert!(text.contains(name.as_str()), "{name}");
                assert!(text.contains(f.attrs.desc.as_deref().unwrap()), "{name}");
            }
        }
    }

    #[test]
    fn the_docs_name_every_field() {
        let docs = include_str!("../../docs/stats.md");
        for m in all_meta() {
            for name in m.fields.keys() {
                assert!(
                    docs.contains(&format!("`{name}`")),
                    "docs/stats.md misses {name}"
                );
            }
        }
        for ring in crate::names::RING_NAMES {
            assert!(docs.contains(&format!("`{ring}`")), "{ring}");
        }
        for path in crate::names::STAT_NAMES {
            assert!(docs.contains(&format!("`{path}`")), "{path}");
        }
    }

    #[test]
    fn json_round_trips_and_tolerates_missing_fields() {
        let mut m = Metrics {
            seq: 3,
            fps_avg: 143.5,
            ..Default::default()
        };
        m.classes.insert(
            "input".into(),
            ClassMetrics {
                threads: 2,
                ..Default::default()
            },
        );
        let back: Metrics = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        let partial: Metrics = serde_json::from_str(r#"{"seq": 9}"#).unwrap();
        assert_eq!(partial.seq, 9);
        assert!(partial.classes.is_empty());
    }
}
