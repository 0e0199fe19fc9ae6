// SPDX-License-Identifier: GPL-2.0-only
//
// Unit tests of the frame statistics (frames.rs).

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
        game_tgid: 0,
        game_interval_ns: 0,
    }
}

#[test]
fn a_composited_game_frame_time_is_the_interval_bpf_credited() {
    let mut t = FrameTracker::new();
    // The compositor presents every 16 ms; every second presentation
    // carries a new frame of game 100 (the first has no interval yet).
    for i in 1..=20u64 {
        let mut f = presented(300, i * 16 * MS, 16 * MS, 0, false);
        if i % 2 == 0 {
            f.game_tgid = 100;
            f.game_interval_ns = if i > 2 { 32 * MS } else { 0 };
        }
        t.on_present(&f);
    }
    let m = filled(&mut t);
    assert_eq!((m.frames, m.game_frames), (20, 9));
    assert_eq!((m.game_frame_p50_us, m.game_frame_p99_us), (32_000, 32_000));
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
    assert!(t.frames.sorted().is_empty());
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

#[test]
fn small_values_are_exact_at_every_quantile() {
    let v: Vec<u64> = (1..=100).collect();
    assert_eq!(quantile(&v, 0.5), 50);
    assert_eq!(quantile(&v, 0.95), 95);
    assert_eq!(quantile(&v, 0.99), 99);
    assert_eq!(quantile(&v, 0.999), 100);
    assert_eq!(quantile(&v, 1.0), 100);
    assert_eq!(quantile(&v, 0.001), 1);
}

#[test]
fn large_values_are_exact_too() {
    // 1 ms to 100 ms in 1 ms steps, recorded shuffled by a fixed stride.
    let mut w = Window::new(1);
    for i in 0..100u64 {
        w.record(((i * 37) % 100 + 1) * 1000 + 1);
    }
    let v = w.sorted();
    assert_eq!(quantile(v, 0.5), 50_001);
    assert_eq!(quantile(v, 0.99), 99_001);
    assert_eq!(quantile(v, 1.0), 100_001);
}

#[test]
fn one_value_is_reported_at_every_quantile() {
    let v = [16_667; 10];
    for q in [0.5, 0.99, 0.999] {
        assert_eq!(quantile(&v, q), 16_667);
    }
    let (avg, low) = fps(&v);
    assert!((avg - 59.998).abs() < 0.001 && (low - 59.998).abs() < 0.001);
}

#[test]
fn no_values_report_zero() {
    assert_eq!(quantile(&[], 0.5), 0);
    assert_eq!(fps(&[]), (0.0, 0.0));
}

#[test]
fn the_1pct_low_is_the_slowest_hundredth_rounded_up() {
    // 201 frames: the slowest three (⌈2.01⌉) make the 1 % low.
    let mut v = vec![10_000; 198];
    v.extend([20_000, 40_000, 60_000]);
    assert_eq!(fps(&v).1, 3.0 * 1e6 / 120_000.0);
}

#[test]
fn huge_values_are_kept_whole() {
    let v = [10, u64::MAX / 4];
    assert_eq!(quantile(&v, 1.0), u64::MAX / 4);
    assert_eq!(quantile(&v, 0.5), 10);
}

#[test]
fn window_forgets_slots_older_than_its_length() {
    let mut w = Window::new(3);
    w.record(300);
    w.rotate();
    w.record(200);
    w.rotate();
    w.record(100);
    assert_eq!(w.sorted(), [100, 200, 300]);
    w.rotate();
    // The slot holding 300 is reused.
    assert_eq!(w.sorted(), [100, 200]);
    w.rotate();
    w.rotate();
    assert!(w.sorted().is_empty());
}
