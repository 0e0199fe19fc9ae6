// SPDX-License-Identifier: GPL-2.0-only
//
// Every presented frame, one by one, for readers that want each frame
// rather than the once-a-second summary (`--monitor --frame-log`). The
// stats thread appends each frame event it receives; the stats socket's
// `frames` target hands each client the frames it has not read yet, from
// a cursor of its own.
//
// Bounded: the ring keeps the latest `FRAME_RING_LEN` frames. A client
// that falls further behind than that is told how many frames it lost
// (`FrameBatch::lost`), never handed a silent gap.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::events::records::FrameEvent;

/// Frames kept for clients that have not read them yet: at 1000 fps, 16 s
/// of slack for a client that polls every quarter second.
pub const FRAME_RING_LEN: usize = 16_384;

/// Frames handed out per request at most, so one answer stays a few
/// hundred KiB; a client asks again while `more` is set.
pub const FRAME_BATCH_MAX: usize = 2_048;

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

struct Inner {
    frames: VecDeque<LoggedFrame>,
    /// The number of frames ever pushed: the sequence number the next one
    /// gets.
    next: u64,
}

pub struct FrameRing {
    inner: Mutex<Inner>,
    cap: usize,
}

impl Default for FrameRing {
    fn default() -> Self {
        Self::with_capacity(FRAME_RING_LEN)
    }
}

impl FrameRing {
    pub fn with_capacity(cap: usize) -> Self {
        FrameRing {
            inner: Mutex::new(Inner {
                frames: VecDeque::new(),
                next: 0,
            }),
            cap: cap.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push(&self, f: LoggedFrame) {
        let mut inner = self.lock();
        if inner.frames.len() == self.cap {
            inner.frames.pop_front();
        }
        inner.frames.push_back(f);
        inner.next += 1;
    }

    /// A cursor at the newest end: its first read returns the frames
    /// pushed from now on.
    pub fn cursor(&self) -> u64 {
        self.lock().next
    }

    /// The frames after `*cursor`, at most `max`, and the cursor moved
    /// past them.
    pub fn read(&self, cursor: &mut u64, max: usize) -> FrameBatch {
        let inner = self.lock();
        let oldest = inner.next - inner.frames.len() as u64;
        let lost = oldest.saturating_sub(*cursor);
        let from = (*cursor).max(oldest);
        let skip = (from - oldest) as usize;
        let frames: Vec<LoggedFrame> = inner.frames.iter().skip(skip).take(max).copied().collect();
        *cursor = from + frames.len() as u64;
        FrameBatch {
            frames,
            lost,
            more: *cursor < inner.next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
