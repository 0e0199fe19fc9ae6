// SPDX-License-Identifier: GPL-2.0-only
//
// The one place the latest snapshot lives. The event loop publishes a new
// one each second; every reader (a socket client, an HTTP request, the
// `--stats` printer) takes a clone of the `Arc`, so a read never copies the
// metrics and never waits for more than the pointer swap.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::frame_ring::FrameRing;
use super::metrics::Metrics;
use super::rates::fill_rates;

struct Latest {
    metrics: Arc<Metrics>,
    at: Option<Instant>,
}

pub struct Publisher {
    start: Instant,
    latest: Mutex<Latest>,
    /// Each presented frame, for readers of every frame (the socket's
    /// `frames` target).
    frames: FrameRing,
}

impl Default for Publisher {
    fn default() -> Self {
        Self::new()
    }
}

impl Publisher {
    /// Uptime counts from here.
    pub fn new() -> Self {
        Publisher {
            start: Instant::now(),
            latest: Mutex::new(Latest {
                metrics: Arc::new(Metrics::default()),
                at: None,
            }),
            frames: FrameRing::default(),
        }
    }

    pub fn frames(&self) -> &FrameRing {
        &self.frames
    }

    /// Make `m` the latest snapshot. Its `seq`, `uptime_ms`, `interval_ms`
    /// and rates are set here from the previous snapshot; the caller fills
    /// the totals. One publisher thread: two concurrent publishes could
    /// compute rates against the same previous snapshot.
    pub fn publish(&self, mut m: Metrics) {
        let prev = self.latest();
        m.seq = prev.seq + 1;
        m.uptime_ms = self.start.elapsed().as_millis() as u64;
        fill_rates(&prev, &mut m);
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        latest.metrics = Arc::new(m);
        latest.at = Some(Instant::now());
    }

    /// The latest snapshot (an empty one with `seq` 0 before the first
    /// publish).
    pub fn latest(&self) -> Arc<Metrics> {
        let latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&latest.metrics)
    }

    /// How long ago the latest snapshot was published; `None` before the
    /// first.
    pub fn age(&self) -> Option<Duration> {
        let latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        latest.at.map(|at| at.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::metrics::DispatchMetrics;

    #[test]
    fn readers_share_the_snapshot_until_the_next_publish() {
        let p = Publisher::new();
        assert_eq!(p.latest().seq, 0);
        assert!(p.age().is_none());

        p.publish(Metrics::default());
        let a = p.latest();
        let b = p.latest();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.seq, 1);
        assert!(p.age().is_some());

        p.publish(Metrics::default());
        let c = p.latest();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.seq, 2);
        // The old snapshot stays whole for whoever still holds it.
        assert_eq!(a.seq, 1);
    }

    #[test]
    fn publish_fills_rates_against_the_previous_snapshot() {
        let p = Publisher::new();
        let with_count = |count| {
            let mut m = Metrics::default();
            m.dispatches.insert(
                "shared".into(),
                DispatchMetrics {
                    count,
                    ..Default::default()
                },
            );
            m
        };
        p.publish(with_count(10));
        std::thread::sleep(Duration::from_millis(20));
        p.publish(with_count(1010));
        let m = p.latest();
        assert!(m.interval_ms >= 20, "{}", m.interval_ms);
        let expect = 1000.0 * 1000.0 / m.interval_ms as f64;
        assert_eq!(m.dispatches["shared"].per_s, expect);
    }
}
