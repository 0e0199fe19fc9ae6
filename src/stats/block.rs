// SPDX-License-Identifier: GPL-2.0-only
//
// The concise block `--stats N` prints every N seconds, `--monitor` prints
// when its output is not a terminal, and the scheduler logs once when it
// stops: a few plain lines, one topic per line, with the rates over the last
// interval or, in the exit summary, the totals since the start.

use std::fmt::Write;

use super::metrics::Metrics;
use super::text::{clean, compact, ms, ordered, procs, uptime};
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
    let _ = writeln!(
        out,
        "scx_gamer {} {}  game: {}  audio: {}",
        if totals { "totals after" } else { "up" },
        uptime(m.uptime_ms),
        procs(&m.games, |g| format!("{}[{}]", clean(&g.comm), g.tgid), " "),
        procs(
            &m.audio_servers,
            |a| format!("{}[{}]", clean(&a.kind), a.tgid),
            " "
        )
    );
    let (p50, p95, p99, p999) = (
        m.frame_p50_us,
        m.frame_p95_us,
        m.frame_p99_us,
        m.frame_p999_us,
    );
    let _ = match m.frames {
        0 => writeln!(out, "  frames   none in the last {}s", m.frame_window_s),
        n => writeln!(
            out,
            "  frames   {n} in {}s  avg {:.1} fps  1% low {:.1} fps  \
             p50/p95/p99/p99.9 {}/{}/{}/{} ms  late {}",
            m.frame_window_s,
            m.fps_avg,
            m.fps_1pct_low,
            ms(p50),
            ms(p95),
            ms(p99),
            ms(p999),
            m.frames_late
        ),
    };
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
        let (p50, p99) = (m.input_to_frame_p50_us, m.input_to_frame_p99_us);
        let n = m.input_to_frame_samples;
        let _ = writeln!(
            out,
            "  input->frame  p50 {} ms  p99 {} ms  ({n} samples)",
            ms(p50),
            ms(p99)
        );
    }
    if m.game_migrations > 0 {
        let rate = match figures {
            Figures::Rates => format!(" ({}/s)", compact(m.game_cross_llc_migrations_per_s)),
            Figures::Totals => String::new(),
        };
        let (all, cross) = (m.game_migrations, m.game_cross_llc_migrations);
        let _ = writeln!(out, "  game migrations  {all}  cross-LLC {cross}{rate}");
    }

    let (cpu, wakeups) = if totals {
        ("cpu-ms", "wakeups")
    } else {
        ("cpu%", "wakeups/s")
    };
    if !m.classes.is_empty() {
        let _ = writeln!(
            out,
            "  {:<12}{:>8}{cpu:>7}{wakeups:>10}{:>8}{:>8}",
            "class", "threads", "boosts", "rqwaits"
        );
    }
    for (name, c) in ordered(&m.classes, &CLASS_NAMES) {
        let (cpu, wakeups) = match figures {
            Figures::Rates => (c.cpu_pct, compact(c.wakeups_per_s)),
            Figures::Totals => (c.cpu_ns as f64 / 1e6, c.wakeups.to_string()),
        };
        let (name, threads, boosts, waits) = (clean(name), c.threads, c.boosts, c.runq_waits);
        let _ = writeln!(
            out,
            "  {name:<12}{threads:>8}{cpu:>7.1}{wakeups:>10}{boosts:>8}{waits:>8}"
        );
    }

    // "name 12/s" or "name 12345", and " (N dropped)" when something was.
    let figure = |name: &str, per_s: f64, total: u64, dropped: u64| {
        let value = match figures {
            Figures::Rates => format!("{}/s", compact(per_s)),
            Figures::Totals => total.to_string(),
        };
        let dropped = if dropped > 0 {
            format!(" ({dropped} dropped)")
        } else {
            String::new()
        };
        format!("{} {value}{dropped}", clean(name))
    };
    let mut line = |title: &str, items: Vec<String>| {
        if !items.is_empty() {
            let _ = writeln!(out, "  {title} {}", items.join("  "));
        }
    };
    let dispatches = ordered(&m.dispatches, &STAT_NAMES).into_iter();
    line(
        "dispatch",
        dispatches
            .map(|(n, d)| figure(n, d.per_s, d.count, 0))
            .collect(),
    );
    let rings = ordered(&m.rings, &RING_NAMES).into_iter();
    line(
        "events  ",
        rings
            .map(|(n, r)| figure(n, r.events_per_s, r.events, r.drops))
            .collect(),
    );
    if m.input_ring_drops.iter().any(|&d| d > 0) {
        let per_ring: Vec<String> = m.input_ring_drops.iter().map(u64::to_string).collect();
        line("input drops by ring:", vec![per_ring.join(" ")]);
    }
    let channels = m.channels.iter();
    line(
        "channels",
        channels
            .map(|(n, c)| figure(n, c.sent_per_s, c.sent, c.dropped))
            .collect(),
    );
    out
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
