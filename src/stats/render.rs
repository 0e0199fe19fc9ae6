// SPDX-License-Identifier: GPL-2.0-only
//
// The `--monitor` screen as text: exactly `height` lines, none wider than
// `width`, from one snapshot. No terminal I/O here (src/stats/monitor.rs
// does that), so the layout is tested as plain strings. ASCII only, so a
// character is a column on every terminal and in every locale.
//
// Top to bottom, most important first, since a short terminal cuts the
// bottom: who is running, the frames, the classes, then the machinery
// (dispatch paths, rings, channels).

use std::fmt::Write;

use super::metrics::Metrics;
use super::text::{band_label, clean, clip, compact, ms, ordered, procs, uptime};
use crate::classes::CLASS_NAMES;
use crate::names::{RING_NAMES, STAT_NAMES};

/// Shown instead of the last line when the screen is too short.
const MORE: &str = "-- more below: enlarge the terminal --";

pub fn render(m: &Metrics, width: usize, height: usize) -> String {
    let mut lines = Vec::new();
    header(m, width, &mut lines);
    lines.push(String::new());
    frames(m, width, &mut lines);
    lines.push(String::new());
    classes(m, &mut lines);
    lines.push(String::new());
    dispatches(m, width, &mut lines);
    lines.push(String::new());
    rings(m, &mut lines);
    if !m.channels.is_empty() {
        lines.push(String::new());
        channels(m, &mut lines);
    }

    if lines.len() > height {
        lines.truncate(height.saturating_sub(1));
        if height > 0 {
            lines.push(MORE.to_string());
        }
    }
    lines.resize(height, String::new());
    lines
        .iter()
        .map(|l| clip(l, width))
        .collect::<Vec<_>>()
        .join("\n")
}

fn header(m: &Metrics, width: usize, out: &mut Vec<String>) {
    let left = format!("scx_gamer  up {}  snapshot #{}", uptime(m.uptime_ms), m.seq);
    let right = "q: quit";
    if left.len() + 2 + right.len() <= width {
        out.push(format!("{left:<w$}{right}", w = width - right.len()));
    } else {
        out.push(left);
    }
    let games = procs(
        &m.games,
        |g| format!("{} ({})", clean(&g.comm), g.tgid),
        ", ",
    );
    let audio = procs(
        &m.audio_servers,
        |a| format!("{} ({})", clean(&a.kind), a.tgid),
        ", ",
    );
    out.push(format!("game: {games}    audio: {audio}"));
}

fn frames(m: &Metrics, width: usize, out: &mut Vec<String>) {
    if m.frames == 0 {
        out.push(format!("FRAMES  last {} s: no frames", m.frame_window_s));
    } else {
        out.push(format!(
            "FRAMES  last {} s: {} presented  avg {:.1} fps  1% low {:.1} fps  late {}",
            m.frame_window_s, m.frames, m.fps_avg, m.fps_1pct_low, m.frames_late
        ));
        out.push(format!(
            "  frame time    p50 {} ms  p95 {} ms  p99 {} ms  p99.9 {} ms",
            ms(m.frame_p50_us),
            ms(m.frame_p95_us),
            ms(m.frame_p99_us),
            ms(m.frame_p999_us)
        ));
        if m.game_frames == 0 {
            out.push("  game frames   none presented by a game".to_string());
        } else {
            out.push(format!(
                "  game frames   {}  avg {:.1} fps  1% low {:.1} fps  p50 {} ms  p99 {} ms",
                m.game_frames,
                m.game_fps_avg,
                m.game_fps_1pct_low,
                ms(m.game_frame_p50_us),
                ms(m.game_frame_p99_us)
            ));
        }
    }
    if m.input_to_frame_samples == 0 {
        out.push("  input->frame  no samples".to_string());
    } else {
        out.push(format!(
            "  input->frame  p50 {} ms  p99 {} ms  ({} samples)",
            ms(m.input_to_frame_p50_us),
            ms(m.input_to_frame_p99_us),
            m.input_to_frame_samples
        ));
    }
    if m.frames == 0 {
        return;
    }

    // "  <label:20> |<bar>| <count:6> <pct:5.1>%"
    const FIXED: usize = 2 + 20 + 1 + 1 + 1 + 6 + 1 + 6;
    let bar_width = width.saturating_sub(FIXED + 1).min(50);
    let most = m.frame_hist.iter().map(|b| b.frames).max().unwrap_or(0);
    let mut prev_us = 0;
    for b in &m.frame_hist {
        let label = band_label(b.le_us, prev_us);
        prev_us = b.le_us;
        let pct = 100.0 * b.frames as f64 / m.frames as f64;
        let mut line = format!("  {label:<20}");
        if bar_width >= 5 {
            let len = if most == 0 {
                0
            } else {
                ((b.frames as f64 / most as f64) * bar_width as f64).round() as usize
            };
            let _ = write!(line, " |{:<bar_width$}|", "#".repeat(len));
        }
        let _ = write!(line, " {:>6} {:>5.1}%", b.frames, pct);
        out.push(line);
    }
}

fn classes(m: &Metrics, out: &mut Vec<String>) {
    out.push(format!(
        "{:<12}{:>8}{:>8}{:>11}{:>9}{:>9}{:>10}",
        "CLASS", "THREADS", "CPU%", "WAKEUPS/S", "BOOSTS", "RQWAITS", "RQWAITS/S"
    ));
    for (name, c) in ordered(&m.classes, &CLASS_NAMES) {
        out.push(format!(
            "{:<12}{:>8}{:>8.1}{:>11}{:>9}{:>9}{:>10}",
            clip(&clean(name), 11),
            c.threads,
            c.cpu_pct,
            compact(c.wakeups_per_s),
            c.boosts,
            c.runq_waits,
            compact(c.runq_waits_per_s)
        ));
    }
}

/// "DISPATCH/S  name value  name value ..." wrapped to `width`.
fn dispatches(m: &Metrics, width: usize, out: &mut Vec<String>) {
    const TITLE: &str = "DISPATCH/S  ";
    let items: Vec<String> = ordered(&m.dispatches, &STAT_NAMES)
        .into_iter()
        .map(|(name, d)| format!("{} {}", clean(name), compact(d.per_s)))
        .collect();
    let mut line = TITLE.to_string();
    let mut first = true;
    for item in items {
        if !first && line.len() + 2 + item.len() > width {
            out.push(std::mem::replace(&mut line, " ".repeat(TITLE.len())));
            first = true;
        }
        if !first {
            line.push_str("  ");
        }
        line.push_str(&item);
        first = false;
    }
    out.push(line);
}

fn rings(m: &Metrics, out: &mut Vec<String>) {
    out.push(format!(
        "{:<14}{:>10}{:>10}{:>10}",
        "RING", "EVENTS/S", "DROPS", "DROPS/S"
    ));
    for (name, r) in ordered(&m.rings, &RING_NAMES) {
        out.push(format!(
            "{:<14}{:>10}{:>10}{:>10}",
            clip(&clean(name), 13),
            compact(r.events_per_s),
            r.drops,
            compact(r.drops_per_s)
        ));
    }
    if m.input_ring_drops.iter().any(|&d| d > 0) {
        let per_ring: Vec<String> = m.input_ring_drops.iter().map(u64::to_string).collect();
        out.push(format!("  input drops by ring: {}", per_ring.join(" ")));
    }
}

fn channels(m: &Metrics, out: &mut Vec<String>) {
    out.push(format!(
        "{:<14}{:>10}{:>10}{:>11}",
        "CHANNEL", "SENT/S", "DROPPED", "DROPPED/S"
    ));
    for (name, c) in &m.channels {
        out.push(format!(
            "{:<14}{:>10}{:>10}{:>11}",
            clip(&clean(name), 13),
            compact(c.sent_per_s),
            c.dropped,
            compact(c.dropped_per_s)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testdata::sample;

    fn lines(m: &Metrics, w: usize, h: usize) -> Vec<String> {
        render(m, w, h).split('\n').map(str::to_string).collect()
    }

    #[test]
    fn full_screen_layout() {
        let l = lines(&sample(), 100, 60);
        assert_eq!(l.len(), 60);
        assert_eq!(
            l[0],
            format!("{:<93}q: quit", "scx_gamer  up 1h02m03s  snapshot #3723")
        );
        assert_eq!(l[1], "game: hl2_linux (4242)    audio: pipewire (1200)");
        assert_eq!(
            l[3],
            "FRAMES  last 10 s: 1438 presented  avg 143.8 fps  1% low 98.2 fps  late 0"
        );
        assert_eq!(
            l[4],
            "  frame time    p50 6.95 ms  p95 7.40 ms  p99 9.81 ms  p99.9 12.10 ms"
        );
        assert_eq!(l[5], "  game frames   none presented by a game");
        assert_eq!(
            l[6],
            "  input->frame  p50 4.10 ms  p99 9.00 ms  (312 samples)"
        );
        // The fullest band has the full 50-column bar.
        assert_eq!(
            l[8],
            format!("  <=   6.9 ms  144 fps |{}|   1250  86.9%", "#".repeat(50))
        );
        assert_eq!(
            l[16],
            format!("  >  100.0 ms          |{}|      0   0.0%", " ".repeat(50))
        );
        assert_eq!(
            l[18],
            "CLASS        THREADS    CPU%  WAKEUPS/S   BOOSTS  RQWAITS RQWAITS/S"
        );
        assert_eq!(
            l[19],
            "input              3     0.4       1.0k       12        0         0"
        );
        assert!(l[23].starts_with("game               7    40.4"));
        assert!(
            l[25].starts_with("DISPATCH/S  direct-idle 1.2k  topology-idle 600  enqueue-idle 400")
        );
        let ring = l.iter().position(|s| s.starts_with("RING")).unwrap();
        assert_eq!(l[ring + 1], "input                800         3         0");
        assert_eq!(l[ring + 6], "  input drops by ring: 0 0 3 0");
        let ch = l.iter().position(|s| s.starts_with("CHANNEL")).unwrap();
        assert_eq!(l[ch + 2], "watch-input           10         2          0");
        // Padding to the full height after the last section.
        assert!(l[ch + 3..].iter().all(String::is_empty));
    }

    #[test]
    fn every_size_gives_exactly_the_screen() {
        let m = sample();
        for (w, h) in [(0, 0), (1, 1), (20, 5), (40, 12), (80, 24), (200, 80)] {
            let l = lines(&m, w, h);
            if h == 0 {
                assert_eq!(render(&m, w, h), "");
                continue;
            }
            assert_eq!(l.len(), h, "{w}x{h}");
            assert!(l.iter().all(|s| s.chars().count() <= w), "{w}x{h}: {l:?}");
        }
    }

    #[test]
    fn a_short_screen_says_there_is_more() {
        let l = lines(&sample(), 80, 10);
        assert_eq!(l[9], MORE);
        assert!(l[0].starts_with("scx_gamer"));
    }

    #[test]
    fn narrow_screens_drop_the_bars_and_wrap_dispatches() {
        let l = lines(&sample(), 42, 60);
        assert_eq!(l[8], "  <=   6.9 ms  144 fps   1250  86.9%");
        let d = l.iter().position(|s| s.starts_with("DISPATCH/S")).unwrap();
        assert_eq!(l[d], "DISPATCH/S  direct-idle 1.2k");
        assert!(l[d + 1].starts_with("            topology-idle 600"));
    }

    #[test]
    fn game_frame_times_sit_under_the_presented_frames() {
        let mut m = sample();
        m.game_frames = 590;
        m.game_fps_avg = 59.0;
        m.game_fps_1pct_low = 30.1;
        m.game_frame_p50_us = 16_667;
        m.game_frame_p99_us = 33_333;
        let l = lines(&m, 100, 60);
        assert_eq!(
            l[5],
            "  game frames   590  avg 59.0 fps  1% low 30.1 fps  p50 16.67 ms  p99 33.33 ms"
        );
    }

    #[test]
    fn no_frames_and_no_processes() {
        let l = lines(&Metrics::default(), 80, 24);
        assert_eq!(l[1], "game: none    audio: none");
        assert_eq!(l[3], "FRAMES  last 0 s: no frames");
        assert_eq!(l[4], "  input->frame  no samples");
        assert_eq!(
            l[6],
            "CLASS        THREADS    CPU%  WAKEUPS/S   BOOSTS  RQWAITS RQWAITS/S"
        );
    }

    #[test]
    fn terminal_escapes_in_names_are_not_passed_through() {
        let mut m = sample();
        m.games[0].comm = "\x1b[2J\x1b]0;pwn\x07".into();
        let s = render(&m, 100, 40);
        assert!(!s.contains('\x1b') && !s.contains('\x07'));
    }
}
