// SPDX-License-Identifier: GPL-2.0-only
//
// The concise block `--stats N` prints every N seconds, `--monitor` prints
// when its output is not a terminal, and the scheduler logs once when it
// stops: a few plain lines, one topic per line, with the rates over the last
// interval or, in the exit summary, the totals since the start.

use std::fmt::Write;

use super::metrics::Metrics;
use super::text::{clean, compact, ms, ordered, uptime};
use crate::classes::CLASS_NAMES;
use crate::names::{RING_NAMES, STAT_NAMES};

/// Which figures the block gives for classes, dispatch paths, rings and
/// channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figures {
    /// Per second over the last interval: a running scheduler.
    Rates,
    /// Exact counts since the start: the summary of a whole run.
    Totals,
}

/// The block for one snapshot, ending in a newline.
pub fn format_block(m: &Metrics, figures: Figures) -> String {
    let totals = figures == Figures::Totals;
    let mut out = String::new();
    let games: Vec<String> = m
        .games
        .iter()
        .map(|g| format!("{}[{}]", clean(&g.comm), g.tgid))
        .collect();
    let audio: Vec<String> = m
        .audio_servers
        .iter()
        .map(|a| format!("{}[{}]", clean(&a.kind), a.tgid))
        .collect();
    let or_none = |v: Vec<String>| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(" ")
        }
    };
    let _ = writeln!(
        out,
        "scx_gamer {} {}  game: {}  audio: {}",
        if totals { "totals after" } else { "up" },
        uptime(m.uptime_ms),
        or_none(games),
        or_none(audio)
    );

    if m.frames > 0 {
        let _ = writeln!(
            out,
            "  frames   {} in {}s  avg {:.1} fps  1% low {:.1} fps  p50/p95/p99/p99.9 {}/{}/{}/{} ms  late {}",
            m.frames,
            m.frame_window_s,
            m.fps_avg,
            m.fps_1pct_low,
            ms(m.frame_p50_us),
            ms(m.frame_p95_us),
            ms(m.frame_p99_us),
            ms(m.frame_p999_us),
            m.frames_late
        );
    } else {
        let _ = writeln!(out, "  frames   none in the last {}s", m.frame_window_s);
    }
    if m.game_frames > 0 {
        let _ = writeln!(
            out,
            "  game frames  {}  avg {:.1} fps  1% low {:.1} fps  p50/p99 {}/{} ms",
            m.game_frames,
            m.game_fps_avg,
            m.game_fps_1pct_low,
            ms(m.game_frame_p50_us),
            ms(m.game_frame_p99_us)
        );
    }
    if m.input_to_frame_samples > 0 {
        let _ = writeln!(
            out,
            "  input->frame  p50 {} ms  p99 {} ms  ({} samples)",
            ms(m.input_to_frame_p50_us),
            ms(m.input_to_frame_p99_us),
            m.input_to_frame_samples
        );
    }

    if m.game_migrations > 0 {
        let rate = if totals {
            String::new()
        } else {
            format!(" ({}/s)", compact(m.game_cross_llc_migrations_per_s))
        };
        let _ = writeln!(
            out,
            "  game migrations  {}  cross-LLC {}{rate}",
            m.game_migrations, m.game_cross_llc_migrations
        );
    }

    let (cpu, wakeups) = if totals {
        ("cpu-ms", "wakeups")
    } else {
        ("cpu%", "wakeups/s")
    };
    if !m.classes.is_empty() {
        let _ = writeln!(
            out,
            "  {:<12}{:>8}{:>7}{:>10}{:>8}{:>8}",
            "class", "threads", cpu, wakeups, "boosts", "rqwaits"
        );
    }
    for (name, c) in ordered(&m.classes, &CLASS_NAMES) {
        let (cpu, wakeups) = if totals {
            (c.cpu_ns as f64 / 1e6, c.wakeups.to_string())
        } else {
            (c.cpu_pct, compact(c.wakeups_per_s))
        };
        let _ = writeln!(
            out,
            "  {:<12}{:>8}{:>7.1}{:>10}{:>8}{:>8}",
            clean(name),
            c.threads,
            cpu,
            wakeups,
            c.boosts,
            c.runq_waits
        );
    }

    let dispatches: Vec<String> = ordered(&m.dispatches, &STAT_NAMES)
        .into_iter()
        .map(|(name, d)| figure(name, figures, d.per_s, d.count, 0))
        .collect();
    line(&mut out, "dispatch", &dispatches, "  ");

    let rings: Vec<String> = ordered(&m.rings, &RING_NAMES)
        .into_iter()
        .map(|(name, r)| figure(name, figures, r.events_per_s, r.events, r.drops))
        .collect();
    line(&mut out, "events  ", &rings, "  ");
    if m.input_ring_drops.iter().any(|&d| d > 0) {
        let per_ring: Vec<String> = m.input_ring_drops.iter().map(u64::to_string).collect();
        let _ = writeln!(out, "  input drops by ring: {}", per_ring.join(" "));
    }

    let channels: Vec<String> = m
        .channels
        .iter()
        .map(|(name, c)| figure(name, figures, c.sent_per_s, c.sent, c.dropped))
        .collect();
    line(&mut out, "channels", &channels, "  ");
    out
}

/// "name 12/s" or "name 12345", and " (N dropped)" when something was.
fn figure(name: &str, figures: Figures, per_s: f64, total: u64, dropped: u64) -> String {
    let mut s = match figures {
        Figures::Rates => format!("{} {}/s", clean(name), compact(per_s)),
        Figures::Totals => format!("{} {total}", clean(name)),
    };
    if dropped > 0 {
        let _ = write!(s, " ({dropped} dropped)");
    }
    s
}

fn line(out: &mut String, title: &str, items: &[String], sep: &str) {
    if !items.is_empty() {
        let _ = writeln!(out, "  {title} {}", items.join(sep));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::testdata::sample;

    #[test]
    fn block_for_a_busy_snapshot() {
        let b = format_block(&sample(), Figures::Rates);
        let lines: Vec<&str> = b.lines().collect();
        assert_eq!(
            lines[0],
            "scx_gamer up 1h02m03s  game: hl2_linux[4242]  audio: pipewire[1200]"
        );
        assert_eq!(
            lines[1],
            "  frames   1438 in 10s  avg 143.8 fps  1% low 98.2 fps  \
             p50/p95/p99/p99.9 6.95/7.40/9.81/12.10 ms  late 0"
        );
        assert_eq!(
            lines[2],
            "  input->frame  p50 4.10 ms  p99 9.00 ms  (312 samples)"
        );
        assert_eq!(
            lines[3],
            "  class        threads   cpu% wakeups/s  boosts rqwaits"
        );
        assert_eq!(
            lines[4],
            "  input              3    0.4      1.0k      12       0"
        );
        assert_eq!(
            lines[8],
            "  game               7   40.4       600      60       4"
        );
        // Dispatch paths in the scheduler's order.
        assert!(lines[9]
            .starts_with("  dispatch direct-idle 1.2k/s  topology-idle 600/s  enqueue-idle"));
        assert!(lines[10].contains("frame 144/s"));
        assert!(lines[10].contains("input 800/s (3 dropped)"));
        assert_eq!(lines[11], "  input drops by ring: 0 0 3 0");
        assert_eq!(
            lines[12],
            "  channels stats 1.0k/s  watch-input 10/s (2 dropped)"
        );
        assert!(b.ends_with('\n'));
    }

    #[test]
    fn game_frames_have_their_own_line_next_to_the_presented_frames() {
        let mut m = sample();
        m.frames_late = 7;
        m.game_frames = 590;
        m.game_fps_avg = 59.0;
        m.game_fps_1pct_low = 30.1;
        m.game_frame_p50_us = 16_667;
        m.game_frame_p99_us = 33_333;
        let b = format_block(&m, Figures::Rates);
        let lines: Vec<&str> = b.lines().collect();
        assert!(lines[1].ends_with("ms  late 7"), "{}", lines[1]);
        assert_eq!(
            lines[2],
            "  game frames  590  avg 59.0 fps  1% low 30.1 fps  p50/p99 16.67/33.33 ms"
        );
    }

    #[test]
    fn the_exit_summary_gives_exact_totals() {
        let b = format_block(&sample(), Figures::Totals);
        let lines: Vec<&str> = b.lines().collect();
        assert!(lines[0].starts_with("scx_gamer totals after 1h02m03s  game: hl2_linux[4242]"));
        assert_eq!(
            lines[3],
            "  class        threads cpu-ms   wakeups  boosts rqwaits"
        );
        assert_eq!(
            lines[4],
            "  input              3 4000.0   3000000      12       0"
        );
        assert!(lines[9]
            .starts_with("  dispatch direct-idle 1000000  topology-idle 500000  enqueue-idle"));
        assert!(lines[10].contains("input 1000000 (3 dropped)  frame 1000000  "));
        assert_eq!(
            lines[12],
            "  channels stats 3000000  watch-input 40000 (2 dropped)"
        );
        assert!(!b.contains("/s"), "{b}");
    }

    #[test]
    fn game_migrations_show_once_there_are_any() {
        let mut m = sample();
        assert!(!format_block(&m, Figures::Rates).contains("migrations"));
        (m.game_migrations, m.game_cross_llc_migrations) = (40, 12);
        m.game_cross_llc_migrations_per_s = 3.0;
        assert!(format_block(&m, Figures::Rates)
            .contains("\n  game migrations  40  cross-LLC 12 (3/s)\n"));
        let totals = format_block(&m, Figures::Totals);
        assert!(
            totals.contains("\n  game migrations  40  cross-LLC 12\n"),
            "{totals}"
        );
    }

    #[test]
    fn block_for_an_idle_snapshot() {
        let b = format_block(&Metrics::default(), Figures::Rates);
        assert_eq!(
            b,
            "scx_gamer up 0s  game: none  audio: none\n  frames   none in the last 0s\n"
        );
    }

    #[test]
    fn names_are_cleaned() {
        let mut m = sample();
        m.games[0].comm = "evil\x1b]0;x\x07".into();
        assert!(format_block(&m, Figures::Rates).contains("game: evil?]0;x?[4242]"));
    }
}
