// SPDX-License-Identifier: GPL-2.0-only
//
// A busy snapshot with known numbers, for the tests of the views.

use super::metrics::*;

pub fn sample() -> Metrics {
    let mut m = Metrics {
        seq: 3723,
        uptime_ms: 3_723_000,
        interval_ms: 1000,
        frame_window_s: 10,
        frames: 1438,
        fps_avg: 143.8,
        fps_1pct_low: 98.2,
        frame_p50_us: 6_950,
        frame_p95_us: 7_400,
        frame_p99_us: 9_810,
        frame_p999_us: 12_100,
        input_to_frame_samples: 312,
        input_to_frame_p50_us: 4_100,
        input_to_frame_p99_us: 9_000,
        input_ring_drops: vec![0, 0, 3, 0],
        games: vec![GameProcess {
            tgid: 4242,
            comm: "hl2_linux".into(),
        }],
        audio_servers: vec![AudioServer {
            tgid: 1200,
            kind: "pipewire".into(),
        }],
        ..Default::default()
    };
    let hist = [120, 1250, 40, 20, 6, 1, 1, 0, 0, 0];
    m.frame_hist = FRAME_HIST_EDGES_US
        .iter()
        .zip(hist)
        .map(|(&le_us, frames)| FrameBucket { le_us, frames })
        .collect();
    for (i, name) in crate::classes::CLASS_NAMES.iter().enumerate() {
        let i = i as u64;
        m.classes.insert(
            name.to_string(),
            ClassMetrics {
                threads: 3 + i,
                cpu_ns: 4_000_000_000 * (i + 1),
                cpu_pct: 0.4 + 10.0 * i as f64,
                wakeups: 3_000_000,
                wakeups_per_s: 1000.0 - 100.0 * i as f64,
                boosts: 12 * (i + 1),
                runq_waits: i,
                runq_waits_per_s: 0.0,
            },
        );
    }
    for (i, name) in crate::names::STAT_NAMES.iter().enumerate() {
        m.dispatches.insert(
            name.to_string(),
            DispatchMetrics {
                count: 1_000_000 / (i as u64 + 1),
                per_s: 1200.0 / (i as f64 + 1.0),
            },
        );
    }
    for (name, per_s, drops) in [
        ("input", 800.0, 3),
        ("frame", 144.0, 0),
        ("gpu-submit", 300.0, 0),
        ("runq-wait", 0.5, 0),
        ("exec", 2.0, 0),
    ] {
        m.rings.insert(
            name.into(),
            RingMetrics {
                events: 1_000_000,
                drops,
                events_per_s: per_s,
                drops_per_s: 0.0,
            },
        );
    }
    m.channels.insert(
        "stats".into(),
        ChannelMetrics {
            sent: 3_000_000,
            dropped: 0,
            sent_per_s: 1000.0,
            dropped_per_s: 0.0,
        },
    );
    m.channels.insert(
        "watch-input".into(),
        ChannelMetrics {
            sent: 40_000,
            dropped: 2,
            sent_per_s: 10.0,
            dropped_per_s: 0.0,
        },
    );
    m
}
