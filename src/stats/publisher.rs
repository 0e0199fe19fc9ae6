// SPDX-License-Identifier: GPL-2.0-only
//
// Where the latest snapshot and every presented frame live. The stats
// thread publishes a snapshot each second; every reader (a socket client,
// an HTTP request, the `--stats` printer) takes a clone of the `Arc`, so a
// read never copies the metrics and never waits for more than the pointer
// swap. The stats thread also appends each frame to a bounded ring, from
// which the socket's `frames` target hands each client the frames it has
// not read yet, from a cursor of its own: a client that falls further
// behind than the ring holds is told how many frames it lost
// (`FrameBatch::lost`), never handed a silent gap.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::rates::fill_rates;
use super::{lock, Metrics};
use crate::events::records::FrameEvent;

/// Frames kept for clients that have not read them yet: at 1000 fps, 16 s
/// of slack for a client that polls every quarter second.
pub const FRAME_RING_LEN: usize = 16_384;

/// Frames handed out per request at most, so one answer stays a few
/// hundred KiB; a client asks again while `more` is set.
pub const FRAME_BATCH_MAX: usize = 2_048;

pub struct Publisher {
    start: Instant,
    /// The latest snapshot and when it was published.
    latest: Mutex<(Arc<Metrics>, Option<Instant>)>,
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
            latest: Mutex::default(),
            frames: FrameRing::with_capacity(FRAME_RING_LEN),
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
        *lock(&self.latest) = (Arc::new(m), Some(Instant::now()));
    }

    /// The latest snapshot (an empty one with `seq` 0 before the first
    /// publish).
    pub fn latest(&self) -> Arc<Metrics> {
        Arc::clone(&lock(&self.latest).0)
    }

    /// How long ago the latest snapshot was published; `None` before the
    /// first.
    pub fn age(&self) -> Option<Duration> {
        lock(&self.latest).1.map(|at| at.elapsed())
    }
}

/// One presented frame, as the frame event reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedFrame {
    /// The kernel's timestamp of the vblank that presented it,
    /// CLOCK_MONOTONIC ns.
    pub present_ns: u64,
    /// Since the previous presented frame on its CRTC, ns; 0 for a CRTC's
    /// first frame.
    pub interval_ns: u64,
    /// Vblanks that passed without a frame before this one.
    pub missed: u32,
    pub crtc: u32,
    /// The process the frame was delivered to.
    pub tgid: u32,
    /// Whether that process was a game when it was presented.
    pub game: bool,
}

impl From<&FrameEvent> for LoggedFrame {
    fn from(f: &FrameEvent) -> Self {
        LoggedFrame {
            present_ns: f.ts_ns,
            interval_ns: f.interval_ns,
            missed: f.missed,
            crtc: f.crtc,
            tgid: f.tgid,
            game: f.game != 0,
        }
    }
}

/// What one `frames` request returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameBatch {
    /// The frames after the client's cursor, oldest first.
    pub frames: Vec<LoggedFrame>,
    /// Frames that left the ring before this client read them.
    pub lost: u64,
    /// More frames are waiting: ask again now.
    pub more: bool,
}

/// The latest frames, and the number of frames ever pushed (the sequence
/// number the next one gets).
pub struct FrameRing {
    inner: Mutex<(VecDeque<LoggedFrame>, u64)>,
    cap: usize,
}

impl FrameRing {
    pub fn with_capacity(cap: usize) -> Self {
        FrameRing {
            inner: Mutex::default(),
            cap: cap.max(1),
        }
    }

    pub fn push(&self, f: LoggedFrame) {
        let (frames, next) = &mut *lock(&self.inner);
        if frames.len() == self.cap {
            frames.pop_front();
        }
        frames.push_back(f);
        *next += 1;
    }

    /// A cursor at the newest end: its first read returns the frames
    /// pushed from now on.
    pub fn cursor(&self) -> u64 {
        lock(&self.inner).1
    }

    /// The frames after `*cursor`, at most `max`, and the cursor moved
    /// past them.
    pub fn read(&self, cursor: &mut u64, max: usize) -> FrameBatch {
        let (frames, next) = &*lock(&self.inner);
        let oldest = next - frames.len() as u64;
        let lost = oldest.saturating_sub(*cursor);
        let from = (*cursor).max(oldest);
        let batch: Vec<LoggedFrame> = frames
            .range((from - oldest) as usize..)
            .take(max)
            .copied()
            .collect();
        *cursor = from + batch.len() as u64;
        FrameBatch {
            frames: batch,
            lost,
            more: *cursor < *next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::metrics::DispatchMetrics;

    fn frame(i: u64) -> LoggedFrame {
        LoggedFrame {
            present_ns: i,
            interval_ns: 1,
            missed: 0,
            crtc: 0,
            tgid: 7,
            game: false,
        }
    }

    fn times(b: &FrameBatch) -> Vec<u64> {
        b.frames.iter().map(|f| f.present_ns).collect()
    }

    #[test]
    fn a_cursor_sees_each_frame_once_from_when_it_was_made() {
        let ring = FrameRing::with_capacity(8);
        ring.push(frame(1));
        let mut c = ring.cursor();
        assert!(ring.read(&mut c, 10).frames.is_empty());
        ring.push(frame(2));
        ring.push(frame(3));
        let b = ring.read(&mut c, 10);
        assert_eq!((times(&b), b.lost, b.more), (vec![2, 3], 0, false));
        assert!(ring.read(&mut c, 10).frames.is_empty());
    }

    #[test]
    fn a_batch_is_bounded_and_says_more_is_waiting() {
        let ring = FrameRing::with_capacity(8);
        let mut c = ring.cursor();
        for i in 0..5 {
            ring.push(frame(i));
        }
        let b = ring.read(&mut c, 3);
        assert_eq!((times(&b), b.more), (vec![0, 1, 2], true));
        let b = ring.read(&mut c, 3);
        assert_eq!((times(&b), b.more), (vec![3, 4], false));
    }

    #[test]
    fn a_reader_overrun_is_told_how_many_frames_it_lost() {
        let ring = FrameRing::with_capacity(4);
        let mut c = ring.cursor();
        for i in 0..10 {
            ring.push(frame(i));
        }
        let b = ring.read(&mut c, 100);
        assert_eq!((times(&b), b.lost), (vec![6, 7, 8, 9], 6));
        ring.push(frame(10));
        let b = ring.read(&mut c, 100);
        assert_eq!((times(&b), b.lost), (vec![10], 0));
    }

    #[test]
    fn two_cursors_are_independent() {
        let ring = FrameRing::with_capacity(8);
        let (mut a, mut b) = (ring.cursor(), ring.cursor());
        ring.push(frame(1));
        assert_eq!(times(&ring.read(&mut a, 10)), vec![1]);
        ring.push(frame(2));
        assert_eq!(times(&ring.read(&mut b, 10)), vec![1, 2]);
        assert_eq!(times(&ring.read(&mut a, 10)), vec![2]);
    }

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
