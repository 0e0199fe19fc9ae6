// SPDX-License-Identifier: GPL-2.0-only
//
// Frame statistics from the event streams: frame times and the time from an
// input event to the frame that follows it, over the last few seconds. The
// event loop feeds it events as they come and asks it once a second to fill
// the frame fields of the snapshot.
//
// Definitions (docs/stats.md repeats them):
// - Frame time: the interval the frame event carries, between a presented
//   frame and the previous one on the same CRTC (the kernel's vblank
//   timestamps). These are the display's frames, whoever drew them.
// - Game frame time: between two presented frames delivered to the same
//   game process, for a game that flips its own frames (it holds the
//   display).
// - Late frame: a presented frame that one or more vblanks passed without.
// - Percentiles: nearest rank over the window's frames, at histogram
//   precision (exact below 128 µs, within 0.8 % above).
// - Average FPS: frames divided by the sum of their frame times.
// - 1 % low FPS: the FPS of the slowest 1 % of frames, i.e. the number of
//   those frames (⌈n/100⌉, at least one) divided by the sum of their frame
//   times. With fewer than 100 frames it is the FPS of the slowest frame.
// - Input to frame: for the first input event after a frame, the time until
//   the next frame boundary. Later inputs before that frame are not samples
//   (the frame answers the first one), and an input no frame follows within
//   a second is not either (the game was paused or not drawing).

use super::histogram::Window;
use super::metrics::{FrameBucket, Metrics, FRAME_HIST_EDGES_US};
use crate::events::records::FrameEvent;

/// Seconds of history the frame statistics cover.
pub const FRAME_WINDOW_S: usize = 10;

/// An input with no frame this long after it was not answered by a frame.
const MAX_INPUT_TO_FRAME_NS: u64 = 1_000_000_000;

const BANDS: usize = FRAME_HIST_EDGES_US.len();

/// Frame boundaries remembered to pair an input event that is read after
/// the frame that answered it (the two come through different rings).
const RECENT_FRAMES: usize = 16;

/// Game processes whose latest presented frame is remembered at once.
const GAME_SLOTS: usize = 8;

#[derive(Debug)]
pub struct FrameTracker {
    frames: Window,
    /// Frames per histogram band, one row per second like `frames`'s slots,
    /// counted exactly (a band edge need not fall on a bucket edge).
    bands: [[u64; BANDS]; FRAME_WINDOW_S],
    band_slot: usize,
    input_to_frame: Window,
    /// The last frame boundaries, oldest first once `recent_len` is full.
    recent: [u64; RECENT_FRAMES],
    recent_len: usize,
    recent_next: usize,
    /// The earliest input still waiting for a frame.
    pending_input_ns: Option<u64>,
    /// The frame an input was last paired with; it answers no other input.
    last_paired_frame_ns: u64,
    /// Seconds filled so far, up to the window's length.
    filled: usize,
    /// Late frames per second, one slot per second like `frames`'s.
    late: [u64; FRAME_WINDOW_S],
    game_frames: Window,
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
            bands: [[0; BANDS]; FRAME_WINDOW_S],
            band_slot: 0,
            input_to_frame: Window::new(FRAME_WINDOW_S),
            recent: [0; RECENT_FRAMES],
            recent_len: 0,
            recent_next: 0,
            pending_input_ns: None,
            last_paired_frame_ns: 0,
            filled: 0,
            late: [0; FRAME_WINDOW_S],
            game_frames: Window::new(FRAME_WINDOW_S),
            game_last: [(0, 0); GAME_SLOTS],
        }
    }

    /// A presented frame, as its frame event reports it.
    pub fn on_present(&mut self, f: &FrameEvent) {
        self.on_frame(f.ts_ns, f.interval_ns);
        if f.missed > 0 {
            self.late[self.band_slot] += 1;
        }
        if f.game != 0 {
            self.on_game_frame(f.tgid, f.ts_ns);
        }
    }

    /// A frame presented for game process `tgid` at `ts_ns`.
    fn on_game_frame(&mut self, tgid: u32, ts_ns: u64) {
        let slot = match self.game_last.iter().position(|&(t, _)| t == tgid) {
            Some(i) => {
                let last = self.game_last[i].1;
                if ts_ns > last {
                    self.game_frames.record(ns_to_us(ts_ns - last));
                }
                i
            }
            None => {
                // A free slot, or the one least recently presented to.
                let (i, _) = self
                    .game_last
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, &(_, ts))| ts)
                    .unwrap_or((0, &(0, 0)));
                i
            }
        };
        self.game_last[slot] = (tgid, ts_ns);
    }

    /// A frame boundary at `ts_ns` (CLOCK_MONOTONIC, as BPF's
    /// bpf_ktime_get_ns), `interval_ns` after the previous one; an interval
    /// of 0 (no previous frame) is not a frame time.
    pub fn on_frame(&mut self, ts_ns: u64, interval_ns: u64) {
        if interval_ns > 0 {
            let us = ns_to_us(interval_ns);
            self.frames.record(us);
            let band = FRAME_HIST_EDGES_US
                .iter()
                .position(|&le| us <= le)
                .unwrap_or(BANDS - 1);
            self.bands[self.band_slot][band] += 1;
        }
        self.recent[self.recent_next] = ts_ns;
        self.recent_next = (self.recent_next + 1) % RECENT_FRAMES;
        self.recent_len = (self.recent_len + 1).min(RECENT_FRAMES);
        if let Some(input) = self.pending_input_ns {
            if ts_ns >= input {
                self.pending_input_ns = None;
                self.pair(input, ts_ns);
            }
        }
    }

    /// An input event at `ts_ns` (same clock as the frames).
    pub fn on_input(&mut self, ts_ns: u64) {
        let recent = &self.recent[..self.recent_len];
        let answer = recent.iter().copied().filter(|&f| f >= ts_ns).min();
        match answer {
            Some(frame) => {
                // With the ring full, a frame between the input and the
                // oldest one kept may have been forgotten: no sample then.
                let oldest = recent.iter().copied().min().unwrap_or(0);
                let maybe_forgotten = self.recent_len == RECENT_FRAMES && frame == oldest;
                if !maybe_forgotten {
                    self.pair(ts_ns, frame);
                }
            }
            None => {
                let earliest = self.pending_input_ns.map_or(ts_ns, |p| p.min(ts_ns));
                self.pending_input_ns = Some(earliest);
            }
        }
    }

    fn pair(&mut self, input_ns: u64, frame_ns: u64) {
        if frame_ns <= self.last_paired_frame_ns && self.last_paired_frame_ns != 0 {
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
        self.filled = (self.filled + 1).min(self.frames.slots());
        m.frame_window_s = self.filled as u64;

        let h = self.frames.merged();
        m.frames = h.count();
        m.fps_avg = fps(h.count() as f64, h.sum() as f64);
        m.fps_1pct_low = fps(1.0, h.mean_of_largest(0.01));
        m.frame_p50_us = h.quantile(0.50);
        m.frame_p95_us = h.quantile(0.95);
        m.frame_p99_us = h.quantile(0.99);
        m.frame_p999_us = h.quantile(0.999);
        m.frame_hist = FRAME_HIST_EDGES_US
            .iter()
            .enumerate()
            .map(|(band, &le_us)| FrameBucket {
                le_us,
                frames: self.bands.iter().map(|slot| slot[band]).sum(),
            })
            .collect();

        m.frames_late = self.late.iter().sum();
        let g = self.game_frames.merged();
        m.game_frames = g.count();
        m.game_fps_avg = fps(g.count() as f64, g.sum() as f64);
        m.game_fps_1pct_low = fps(1.0, g.mean_of_largest(0.01));
        m.game_frame_p50_us = g.quantile(0.50);
        m.game_frame_p99_us = g.quantile(0.99);

        let l = self.input_to_frame.merged();
        m.input_to_frame_samples = l.count();
        m.input_to_frame_p50_us = l.quantile(0.50);
        m.input_to_frame_p99_us = l.quantile(0.99);

        self.frames.rotate();
        self.band_slot = (self.band_slot + 1) % FRAME_WINDOW_S;
        self.bands[self.band_slot] = [0; BANDS];
        self.late[self.band_slot] = 0;
        self.game_frames.rotate();
        self.input_to_frame.rotate();
    }
}

/// Frames per second for `frames` frames that took `total_us`; 0 when there
/// is no time to divide by.
fn fps(frames: f64, total_us: f64) -> f64 {
    if total_us > 0.0 {
        frames * 1e6 / total_us
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn filled(t: &mut FrameTracker) -> Metrics {
        let mut m = Metrics::default();
        t.fill(&mut m);
        m
    }

    fn presented(tgid: u32, ts_ns: u64, interval_ns: u64, missed: u32, game: bool) -> FrameEvent {
        FrameEvent {
            ts_ns,
            delivered_ns: ts_ns + 50_000,
            interval_ns,
            seq: 0,
            submit_to_present_ns: 0,
            compositor_latency_ns: 0,
            tgid,
            tid: tgid,
            crtc: 0,
            missed,
            dropped: 0,
            game: u32::from(game),
        }
    }

    #[test]
    fn game_frame_times_are_per_game_process_and_late_frames_are_counted() {
        let mut t = FrameTracker::new();
        // A game at 30 fps on a 60 Hz display (one vblank missed per frame),
        // and a second game process at 60 fps, on another CRTC.
        for i in 1..=30u64 {
            t.on_present(&presented(100, i * 33_333_333, 33_333_333, 1, true));
        }
        for i in 1..=60u64 {
            t.on_present(&presented(200, i * 16_666_667 + 1000, 16_666_667, 0, true));
        }
        // The compositor's own frames are no game's.
        for i in 1..=10u64 {
            t.on_present(&presented(300, 5 * MS + i * 16 * MS, 16 * MS, 0, false));
        }
        let m = filled(&mut t);
        assert_eq!(m.frames, 100);
        assert_eq!(m.frames_late, 30);
        // Each process's first frame has no predecessor of its own.
        assert_eq!(m.game_frames, 29 + 59);
        assert!((m.game_frame_p50_us as f64 - 16_667.0).abs() <= 16_667.0 / 128.0);
        assert!((m.game_frame_p99_us as f64 - 33_333.0).abs() <= 33_333.0 / 128.0);
        assert!(
            (m.game_fps_1pct_low - 30.0).abs() < 0.3,
            "{}",
            m.game_fps_1pct_low
        );
        // Late frames leave the window with their second.
        for _ in 0..FRAME_WINDOW_S {
            filled(&mut t);
        }
        let m = filled(&mut t);
        assert_eq!((m.frames_late, m.game_frames), (0, 0));
    }

    #[test]
    fn more_game_processes_than_slots_forget_the_stalest() {
        let mut t = FrameTracker::new();
        for tgid in 0..GAME_SLOTS as u32 + 1 {
            t.on_present(&presented(
                1000 + tgid,
                u64::from(tgid + 1) * MS,
                0,
                0,
                true,
            ));
        }
        // The first process was forgotten: its next frame starts afresh.
        t.on_present(&presented(1000, 100 * MS, 0, 0, true));
        // The last one is remembered: one frame time of 1 ms.
        let last = 1000 + GAME_SLOTS as u32;
        t.on_present(&presented(last, (GAME_SLOTS as u64 + 2) * MS, 0, 0, true));
        let m = filled(&mut t);
        assert_eq!(m.game_frames, 1);
        assert_eq!(m.game_frame_p50_us, 1000);
    }

    #[test]
    fn steady_60_fps() {
        let mut t = FrameTracker::new();
        let mut ts = 0;
        for _ in 0..60 {
            ts += 16_666_667;
            t.on_frame(ts, 16_666_667);
        }
        let m = filled(&mut t);
        assert_eq!(m.frames, 60);
        assert_eq!(m.frame_p50_us, 16_667);
        assert_eq!(m.frame_p999_us, 16_667);
        assert!((m.fps_avg - 59.999).abs() < 0.01, "{}", m.fps_avg);
        assert!((m.fps_1pct_low - 59.999).abs() < 0.01);
        assert_eq!(m.frame_window_s, 1);
        // All of them in the 60 fps band (≤ 16 667 µs).
        let band: Vec<u64> = m.frame_hist.iter().map(|b| b.frames).collect();
        assert_eq!(band, [0, 0, 0, 0, 60, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn one_slow_frame_in_a_hundred_sets_the_1pct_low() {
        let mut t = FrameTracker::new();
        for i in 0..99 {
            t.on_frame(i * 10 * MS, 10 * MS);
        }
        t.on_frame(1000 * MS, 50 * MS);
        let m = filled(&mut t);
        assert_eq!(m.frames, 100);
        // The slowest 1 % is the one 50 ms frame: 20 fps.
        assert!((m.fps_1pct_low - 20.0).abs() < 0.2, "{}", m.fps_1pct_low);
        // 100 frames in 99·10 + 50 = 1040 ms.
        assert!((m.fps_avg - 100_000.0 / 1040.0).abs() < 0.01);
        assert!((m.frame_p50_us as f64 - 10_000.0).abs() <= 10_000.0 / 128.0);
        assert!((m.frame_p99_us as f64 - 10_000.0).abs() <= 10_000.0 / 128.0);
        assert_eq!(m.frame_p999_us, 50_000);
        let slow = m.frame_hist.iter().find(|b| b.le_us == 50_000).unwrap();
        assert_eq!(slow.frames, 1);
    }

    #[test]
    fn the_window_slides_one_second_per_fill() {
        let mut t = FrameTracker::new();
        t.on_frame(1, 20 * MS);
        assert_eq!(filled(&mut t).frames, 1);
        for s in 0..FRAME_WINDOW_S - 1 {
            let m = filled(&mut t);
            assert_eq!(m.frames, 1, "second {s}");
        }
        let m = filled(&mut t);
        assert_eq!(m.frames, 0);
        assert_eq!(m.frame_window_s, FRAME_WINDOW_S as u64);
        assert_eq!(m.fps_avg, 0.0);
        assert_eq!(m.fps_1pct_low, 0.0);
    }

    #[test]
    fn histogram_bands_are_exact_at_their_edges() {
        let mut t = FrameTracker::new();
        // Just inside and just outside the 60 fps edge (16 667 µs), which
        // share a histogram bucket.
        t.on_frame(1, 16_667_000);
        t.on_frame(2, 16_700_000);
        t.on_frame(3, 500_000_000);
        let m = filled(&mut t);
        let band = |le| m.frame_hist.iter().find(|b| b.le_us == le).unwrap().frames;
        assert_eq!(band(16_667), 1);
        assert_eq!(band(20_000), 1);
        assert_eq!(band(u64::MAX), 1);
        assert_eq!(m.frame_hist.iter().map(|b| b.frames).sum::<u64>(), 3);
        // The bands slide with the window.
        for _ in 0..FRAME_WINDOW_S {
            filled(&mut t);
        }
        assert!(t.bands.iter().flatten().all(|&c| c == 0));
        assert_eq!(
            filled(&mut t)
                .frame_hist
                .iter()
                .map(|b| b.frames)
                .sum::<u64>(),
            0
        );
    }

    #[test]
    fn zero_intervals_are_not_frame_times() {
        let mut t = FrameTracker::new();
        t.on_frame(5, 0);
        assert_eq!(filled(&mut t).frames, 0);
    }

    #[test]
    fn first_input_after_a_frame_is_paired_with_the_next_frame() {
        let mut t = FrameTracker::new();
        t.on_frame(100 * MS, 16 * MS);
        t.on_input(102 * MS);
        // A second input before the frame is answered by the same frame.
        t.on_input(105 * MS);
        t.on_frame(110 * MS, 10 * MS);
        let m = filled(&mut t);
        assert_eq!(m.input_to_frame_samples, 1);
        assert_eq!(m.input_to_frame_p50_us, 8_000);
    }

    #[test]
    fn input_read_after_its_frame_still_pairs() {
        let mut t = FrameTracker::new();
        t.on_frame(100 * MS, 16 * MS);
        t.on_frame(116 * MS, 16 * MS);
        // Read late through its own ring: the frame at 116 ms answered it.
        t.on_input(110 * MS);
        // An earlier input for the same frame, read later still: no sample.
        t.on_input(108 * MS);
        let m = filled(&mut t);
        assert_eq!(m.input_to_frame_samples, 1);
        assert_eq!(m.input_to_frame_p50_us, 6_000);
    }

    #[test]
    fn an_input_no_frame_answers_within_a_second_is_not_a_sample() {
        let mut t = FrameTracker::new();
        t.on_input(MS);
        t.on_frame(3000 * MS, 10 * MS);
        assert_eq!(filled(&mut t).input_to_frame_samples, 0);
        // The pending input is gone: the next frame answers nothing.
        t.on_frame(3010 * MS, 10 * MS);
        assert_eq!(filled(&mut t).input_to_frame_samples, 0);
    }

    #[test]
    fn an_input_older_than_the_frames_kept_is_not_guessed() {
        let mut t = FrameTracker::new();
        for i in 0..RECENT_FRAMES as u64 + 4 {
            t.on_frame(100 * MS + i * 10 * MS, 10 * MS);
        }
        t.on_input(MS);
        assert_eq!(filled(&mut t).input_to_frame_samples, 0);
    }

    #[test]
    fn latency_percentiles_over_known_samples() {
        let mut t = FrameTracker::new();
        let mut ts = 0;
        // Inputs answered after 1, 2, ..., 100 ms.
        for d in 1..=100u64 {
            ts += 200 * MS;
            t.on_input(ts);
            t.on_frame(ts + d * MS, 16 * MS);
        }
        let m = filled(&mut t);
        assert_eq!(m.input_to_frame_samples, 100);
        assert!((m.input_to_frame_p50_us as f64 - 50_000.0).abs() <= 50_000.0 / 128.0);
        assert!((m.input_to_frame_p99_us as f64 - 99_000.0).abs() <= 99_000.0 / 128.0);
    }
}
