// SPDX-License-Identifier: GPL-2.0-only
//
// What the stats tests share: a snapshot with known contents, published the
// way the scheduler publishes it, and a wait for conditions that take a
// moment (a server thread, another process).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use scx_gamer::stats::{
    AudioServer, ClassMetrics, DispatchMetrics, FrameBucket, GameProcess, Metrics, Publisher,
    RingMetrics, FRAME_HIST_EDGES_US,
};

pub fn snapshot() -> Metrics {
    let mut m = Metrics {
        frames: 600,
        frame_window_s: 10,
        fps_avg: 60.0,
        fps_1pct_low: 48.5,
        frame_p50_us: 16_667,
        frame_p95_us: 17_100,
        frame_p99_us: 19_800,
        frame_p999_us: 20_600,
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
    m.frame_hist = FRAME_HIST_EDGES_US
        .iter()
        .zip([0, 0, 0, 10, 540, 40, 10, 0, 0, 0])
        .map(|(&le_us, frames)| FrameBucket { le_us, frames })
        .collect();
    for (i, name) in scx_gamer::classes::CLASS_NAMES.iter().enumerate() {
        m.classes.insert(
            name.to_string(),
            ClassMetrics {
                threads: i as u64 + 1,
                wakeups: 1000,
                ..Default::default()
            },
        );
    }
    m.dispatches.insert(
        "shared".into(),
        DispatchMetrics {
            count: 5000,
            ..Default::default()
        },
    );
    m.rings.insert(
        "frame".into(),
        RingMetrics {
            events: 600,
            ..Default::default()
        },
    );
    m
}

/// A publisher holding `snapshot()` as its first published snapshot.
pub fn published() -> Arc<Publisher> {
    let p = Arc::new(Publisher::new());
    p.publish(snapshot());
    p
}

/// Poll `f` until it gives a value or `limit` passes.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
