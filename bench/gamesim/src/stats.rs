// SPDX-License-Identifier: GPL-2.0-only
//
// The arithmetic of the report: percentiles, 1 % low FPS and the missed-frame
// ratio, kept apart from the threads so it can be tested on known data.

/// The value below which `p` percent of `sorted` lies (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // The small epsilon keeps 99.9 % of 1000 at rank 999 despite rounding.
    let rank = ((p / 100.0) * sorted.len() as f64 - 1e-9).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// "1 % low" FPS: the frame rate over the slowest 1 % of frames (at least
/// one frame), as game benchmarks report it.
pub fn one_percent_low_fps(frame_ms: &[f64]) -> f64 {
    if frame_ms.is_empty() {
        return 0.0;
    }
    let mut v = frame_ms.to_vec();
    v.sort_by(|a, b| b.total_cmp(a));
    let n = (v.len() / 100).max(1);
    let mean = v[..n].iter().sum::<f64>() / n as f64;
    if mean > 0.0 {
        1000.0 / mean
    } else {
        0.0
    }
}

/// After a periodic job woken at `wake` finishes at `done`: when to wake
/// next, how many whole periods were overrun (skipped), and whether this
/// period's work was late (finished after the next period began).
pub fn next_period(wake: u64, period: u64, done: u64) -> (u64, u64, bool) {
    let deadline = wake + period;
    if done <= deadline {
        return (deadline, 0, false);
    }
    let skipped = (done - deadline).div_ceil(period);
    (deadline + skipped * period, skipped, true)
}

/// Frame results of one run, and the summary the report prints.
#[derive(Debug, Default)]
pub struct FrameLog {
    /// Time from one frame's completion to the next one's, in ms.
    pub frame_ms: Vec<f64>,
    /// Completion minus deadline for each frame, in ms (positive: late).
    pub lateness_ms: Vec<f64>,
    /// Frame slots that passed with no frame started, because the one
    /// before ran over them.
    pub skipped_slots: u64,
}

#[derive(Debug, PartialEq)]
pub struct FrameSummary {
    pub frames: usize,
    pub missed: u64,
    pub missed_ratio: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub one_percent_low_fps: f64,
    pub max_late_ms: f64,
}

impl FrameLog {
    pub fn summary(&self) -> FrameSummary {
        let late = self.lateness_ms.iter().filter(|&&l| l > 0.0).count() as u64;
        let missed = late + self.skipped_slots;
        let slots = self.lateness_ms.len() as u64 + self.skipped_slots;
        let mut sorted = self.frame_ms.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        FrameSummary {
            frames: self.lateness_ms.len(),
            missed,
            missed_ratio: if slots > 0 {
                missed as f64 / slots as f64
            } else {
                0.0
            },
            p50_ms: percentile(&sorted, 50.0),
            p99_ms: percentile(&sorted, 99.0),
            p999_ms: percentile(&sorted, 99.9),
            one_percent_low_fps: one_percent_low_fps(&self.frame_ms),
            max_late_ms: self
                .lateness_ms
                .iter()
                .cloned()
                .fold(f64::MIN, f64::max)
                .max(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_a_thousand() {
        let v: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 500.0);
        assert_eq!(percentile(&v, 99.0), 990.0);
        assert_eq!(percentile(&v, 99.9), 999.0);
        assert_eq!(percentile(&v, 100.0), 1000.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
        assert_eq!(percentile(&[7.0], 99.9), 7.0);
    }

    #[test]
    fn one_percent_low_averages_the_slowest_frames() {
        // 198 frames at 10 ms and 2 at 40 ms: the slowest 1 % are the two
        // 40 ms frames, so 25 FPS.
        let mut v = vec![10.0; 198];
        v.extend([40.0, 40.0]);
        assert!((one_percent_low_fps(&v) - 25.0).abs() < 1e-9);
        // Fewer than 100 frames still count the slowest one.
        assert!((one_percent_low_fps(&[10.0, 20.0]) - 50.0).abs() < 1e-9);
    }

    #[test]
    fn missed_counts_late_frames_and_skipped_slots() {
        let log = FrameLog {
            frame_ms: vec![16.0, 16.0, 33.0, 16.0],
            lateness_ms: vec![-5.0, -1.0, 2.0, -3.0],
            skipped_slots: 1,
        };
        let s = log.summary();
        assert_eq!(s.frames, 4);
        assert_eq!(s.missed, 2);
        assert!((s.missed_ratio - 0.4).abs() < 1e-9);
        assert_eq!(s.max_late_ms, 2.0);
        assert_eq!(s.p50_ms, 16.0);
    }

    #[test]
    fn periods_overrun_are_skipped_and_late() {
        assert_eq!(next_period(100, 5, 104), (105, 0, false));
        assert_eq!(next_period(100, 5, 105), (105, 0, false));
        assert_eq!(next_period(100, 5, 106), (110, 1, true));
        assert_eq!(next_period(100, 5, 116), (120, 3, true));
    }

    #[test]
    fn an_on_time_run_misses_nothing() {
        let log = FrameLog {
            frame_ms: vec![16.6; 10],
            lateness_ms: vec![-4.0; 10],
            skipped_slots: 0,
        };
        let s = log.summary();
        assert_eq!(s.missed, 0);
        assert_eq!(s.missed_ratio, 0.0);
        assert_eq!(s.max_late_ms, 0.0);
    }
}
