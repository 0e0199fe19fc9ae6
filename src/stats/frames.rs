// SPDX-License-Identifier: GPL-2.0-only
//
// Frame statistics over the last FRAME_WINDOW_S seconds, from the frame and
// input events (definitions in docs/stats.md):
// - frame time: the interval the frame event carries (the display's frames,
//   whoever drew them); game frame time: between two frames presented to
//   the same game process, or the interval present.bpf.c credits a game
//   drawing through a compositor;
// - percentiles by nearest rank, exact: a window holds at most a few
//   thousand values a second, so it keeps them all and sorts once a second;
// - 1 % low FPS: the slowest ⌈n/100⌉ frames (at least one), their count
//   over the sum of their frame times;
// - input to frame: the first input after a frame, until the next frame;
//   an input no frame follows within a second is no sample.

use super::metrics::{FrameBucket, Metrics, FRAME_HIST_EDGES_US};
use crate::events::records::FrameEvent;

/// Seconds of history the frame statistics cover.
pub const FRAME_WINDOW_S: usize = 10;

/// An input with no frame this long after it was not answered by a frame.
const MAX_INPUT_TO_FRAME_NS: u64 = 1_000_000_000;

/// Frame boundaries remembered to pair an input event that is read after
/// the frame that answered it (the two come through different rings).
const RECENT_FRAMES: usize = 16;

/// Game processes whose latest presented frame is remembered at once.
const GAME_SLOTS: usize = 8;

/// The values recorded in the last `FRAME_WINDOW_S` seconds, one slot per
/// `rotate()`.
#[derive(Debug)]
pub struct Window {
    slots: Vec<Vec<u64>>,
    cur: usize,
    sorted: Vec<u64>,
}

impl Window {
    pub fn new(slots: usize) -> Self {
        Window {
            slots: vec![Vec::new(); slots.max(1)],
            cur: 0,
            sorted: Vec::new(),
        }
    }

    pub fn record(&mut self, v: u64) {
        self.slots[self.cur].push(v);
    }

    /// Start a new slot, forgetting the oldest (its memory is reused).
    pub fn rotate(&mut self) {
        self.cur = (self.cur + 1) % self.slots.len();
        self.slots[self.cur].clear();
    }

    /// How many values the window holds.
    pub fn len(&self) -> usize {
        self.slots.iter().map(Vec::len).sum()
    }

    /// Every value in the window, smallest first.
    pub fn sorted(&mut self) -> &[u64] {
        self.sorted.clear();
        self.slots.iter().for_each(|s| self.sorted.extend(s));
        self.sorted.sort_unstable();
        &self.sorted
    }
}

/// The `q`-quantile of `sorted` by nearest rank (the smallest value that
/// ⌈q·n⌉ values do not exceed); 0 for no values.
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len().max(1)) - 1)
        .map_or(0, |&v| v)
}

/// Frames per second of `sorted`'s frame times (µs), and of its slowest
/// ⌈n/100⌉ (the 1 % low); 0 for no frames.
fn fps(sorted: &[u64]) -> (f64, f64) {
    let rate = |v: &[u64]| {
        let total: u64 = v.iter().sum();
        if total == 0 {
            0.0
        } else {
            v.len() as f64 * 1e6 / total as f64
        }
    };
    let slow = sorted.len().div_ceil(100);
    (rate(sorted), rate(&sorted[sorted.len() - slow..]))
}

#[derive(Debug)]
pub struct FrameTracker {
    frames: Window,
    late: Window,
    game_frames: Window,
    input_to_frame: Window,
    /// The last frame boundaries, oldest first.
    recent: std::collections::VecDeque<u64>,
    /// The earliest input still waiting for a frame.
    pending_input_ns: Option<u64>,
    /// The frame an input was last paired with; it answers no other input.
    last_paired_frame_ns: u64,
    /// Seconds filled so far, up to the window's length.
    filled: usize,
    /// (TGID, latest presented frame) of the game processes seen; the
    /// oldest is forgotten first.
    game_last: [(u32, u64); GAME_SLOTS],
}

impl Default for FrameTracker {
    fn default() -> Self {
        Self::new()
    }
}

fn ns_to_us(ns: u64) -> u64 {
    ns.saturating_add(500) / 1000
}

impl FrameTracker {
    pub fn new() -> Self {
        FrameTracker {
            frames: Window::new(FRAME_WINDOW_S),
            late: Window::new(FRAME_WINDOW_S),
            game_frames: Window::new(FRAME_WINDOW_S),
            input_to_frame: Window::new(FRAME_WINDOW_S),
            recent: Default::default(),
            pending_input_ns: None,
            last_paired_frame_ns: 0,
            filled: 0,
            game_last: [(0, 0); GAME_SLOTS],
        }
    }

    /// A presented frame, as its frame event reports it.
    pub fn on_present(&mut self, f: &FrameEvent) {
        self.on_frame(f.ts_ns, f.interval_ns);
        if f.missed > 0 {
            self.late.record(0);
        }
        if f.game != 0 {
            self.on_game_frame(f.tgid, f.ts_ns);
        } else if f.game_tgid != 0 && f.game_interval_ns > 0 {
            self.game_frames.record(ns_to_us(f.game_interval_ns));
        }
    }

    /// A frame presented for game process `tgid` at `ts_ns`: its slot, or
    /// the one least recently presented to (a free one has time 0).
    fn on_game_frame(&mut self, tgid: u32, ts_ns: u64) {
        let slots = &mut self.game_last;
        let i = match slots.iter().position(|&(t, _)| t == tgid) {
            Some(i) if ts_ns > slots[i].1 => {
                self.game_frames.record(ns_to_us(ts_ns - slots[i].1));
                i
            }
            Some(i) => i,
            None => (0..GAME_SLOTS).min_by_key(|&i| slots[i].1).unwrap_or(0),
        };
        slots[i] = (tgid, ts_ns);
    }

    /// A frame boundary at `ts_ns` (CLOCK_MONOTONIC, as BPF's
    /// bpf_ktime_get_ns), `interval_ns` after the previous one; an interval
    /// of 0 (no previous frame) is not a frame time.
    pub fn on_frame(&mut self, ts_ns: u64, interval_ns: u64) {
        if interval_ns > 0 {
            self.frames.record(ns_to_us(interval_ns));
        }
        if self.recent.len() == RECENT_FRAMES {
            self.recent.pop_front();
        }
        self.recent.push_back(ts_ns);
        if let Some(input) = self.pending_input_ns.filter(|&i| ts_ns >= i) {
            self.pending_input_ns = None;
            self.pair(input, ts_ns);
        }
    }

    /// An input event at `ts_ns` (same clock as the frames).
    pub fn on_input(&mut self, ts_ns: u64) {
        match self.recent.iter().copied().filter(|&f| f >= ts_ns).min() {
            // With the ring full, a frame between the input and the oldest
            // one kept may have been forgotten: no sample then.
            Some(frame)
                if self.recent.len() == RECENT_FRAMES
                    && Some(frame) == self.recent.iter().copied().min() => {}
            Some(frame) => self.pair(ts_ns, frame),
            None => {
                let earliest = self.pending_input_ns.map_or(ts_ns, |p| p.min(ts_ns));
                self.pending_input_ns = Some(earliest);
            }
        }
    }

    fn pair(&mut self, input_ns: u64, frame_ns: u64) {
        if frame_ns <= self.last_paired_frame_ns {
            return;
        }
        let latency = frame_ns - input_ns;
        if latency <= MAX_INPUT_TO_FRAME_NS {
            self.input_to_frame.record(ns_to_us(latency));
            self.last_paired_frame_ns = frame_ns;
        }
    }

    /// Fill the frame fields of `m` from the window, then start the next
    /// second. Called once per published snapshot.
    pub fn fill(&mut self, m: &mut Metrics) {
        self.filled = (self.filled + 1).min(FRAME_WINDOW_S);
        m.frame_window_s = self.filled as u64;

        let f = self.frames.sorted();
        m.frames = f.len() as u64;
        (m.fps_avg, m.fps_1pct_low) = fps(f);
        m.frame_p50_us = quantile(f, 0.50);
        m.frame_p95_us = quantile(f, 0.95);
        m.frame_p99_us = quantile(f, 0.99);
        m.frame_p999_us = quantile(f, 0.999);
        let mut below = 0;
        m.frame_hist = FRAME_HIST_EDGES_US
            .iter()
            .map(|&le_us| {
                let upto = f.partition_point(|&v| v <= le_us);
                let frames = (upto - std::mem::replace(&mut below, upto)) as u64;
                FrameBucket { le_us, frames }
            })
            .collect();

        m.frames_late = self.late.len() as u64;
        let g = self.game_frames.sorted();
        m.game_frames = g.len() as u64;
        (m.game_fps_avg, m.game_fps_1pct_low) = fps(g);
        m.game_frame_p50_us = quantile(g, 0.50);
        m.game_frame_p99_us = quantile(g, 0.99);

        let l = self.input_to_frame.sorted();
        m.input_to_frame_samples = l.len() as u64;
        m.input_to_frame_p50_us = quantile(l, 0.50);
        m.input_to_frame_p99_us = quantile(l, 0.99);

        for w in [
            &mut self.frames,
            &mut self.late,
            &mut self.game_frames,
            &mut self.input_to_frame,
        ] {
            w.rotate();
        }
    }
}

#[cfg(test)]
#[path = "frames_tests.rs"]
mod tests;
