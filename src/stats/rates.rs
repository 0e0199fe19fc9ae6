// SPDX-License-Identifier: GPL-2.0-only
//
// Rates from counter deltas. The event loop fills only totals (counters
// since start); every per-second figure is derived here from two
// consecutive snapshots, in one place, so no view computes it differently.

use super::metrics::Metrics;

/// Per-second rate of a counter that went from `prev` to `cur` in
/// `interval_ms`. A counter that went backwards was reset (the BPF program
/// was loaded again), so everything it holds now is new. 0.0 over an empty
/// interval.
pub fn per_second(prev: u64, cur: u64, interval_ms: u64) -> f64 {
    if interval_ms == 0 {
        return 0.0;
    }
    let delta = if cur >= prev { cur - prev } else { cur };
    delta as f64 * 1000.0 / interval_ms as f64
}

/// Share of one CPU, in %, that `prev_ns` → `cur_ns` of CPU time is over
/// `interval_ms`.
pub fn cpu_percent(prev_ns: u64, cur_ns: u64, interval_ms: u64) -> f64 {
    per_second(prev_ns, cur_ns, interval_ms) / 1e9 * 100.0
}

/// Set `cur.interval_ms` and every rate in `cur` from the totals in `prev`
/// and `cur`. A row new in `cur` counts from zero.
pub fn fill_rates(prev: &Metrics, cur: &mut Metrics) {
    let dt = cur.uptime_ms.saturating_sub(prev.uptime_ms);
    cur.interval_ms = dt;
    let rate = |p, c| per_second(p, c, dt);
    cur.game_cross_llc_migrations_per_s = rate(
        prev.game_cross_llc_migrations,
        cur.game_cross_llc_migrations,
    );
    for (name, c) in &mut cur.classes {
        let p = prev.classes.get(name).cloned().unwrap_or_default();
        c.cpu_pct = cpu_percent(p.cpu_ns, c.cpu_ns, dt);
        c.wakeups_per_s = rate(p.wakeups, c.wakeups);
        c.runq_waits_per_s = rate(p.runq_waits, c.runq_waits);
    }
    for (name, d) in &mut cur.dispatches {
        d.per_s = rate(prev.dispatches.get(name).map_or(0, |p| p.count), d.count);
    }
    for (name, r) in &mut cur.rings {
        let p = prev.rings.get(name).cloned().unwrap_or_default();
        (r.events_per_s, r.drops_per_s) = (rate(p.events, r.events), rate(p.drops, r.drops));
    }
    for (name, ch) in &mut cur.channels {
        let p = prev.channels.get(name).cloned().unwrap_or_default();
        (ch.sent_per_s, ch.dropped_per_s) = (rate(p.sent, ch.sent), rate(p.dropped, ch.dropped));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::metrics::{ChannelMetrics, ClassMetrics, DispatchMetrics, RingMetrics};

    #[test]
    fn per_second_from_deltas() {
        assert_eq!(per_second(100, 600, 500), 1000.0);
        assert_eq!(per_second(0, 3, 1000), 3.0);
        assert_eq!(per_second(5, 5, 1000), 0.0);
        assert_eq!(per_second(5, 9, 0), 0.0);
        // A reset counter: all of what it holds is new.
        assert_eq!(per_second(1_000, 40, 1000), 40.0);
    }

    #[test]
    fn cpu_percent_of_one_cpu() {
        // 250 ms of CPU in 1 s: a quarter of one CPU.
        assert_eq!(cpu_percent(0, 250_000_000, 1000), 25.0);
        // Two CPUs' worth.
        assert_eq!(cpu_percent(1_000_000_000, 3_000_000_000, 1000), 200.0);
    }

    fn snapshot(uptime_ms: u64, n: u64) -> Metrics {
        let mut m = Metrics {
            uptime_ms,
            game_cross_llc_migrations: n / 50,
            ..Default::default()
        };
        m.classes.insert(
            "input".into(),
            ClassMetrics {
                cpu_ns: n * 1_000_000,
                wakeups: n,
                runq_waits: n / 10,
                ..Default::default()
            },
        );
        m.dispatches.insert(
            "shared".into(),
            DispatchMetrics {
                count: n * 2,
                ..Default::default()
            },
        );
        m.rings.insert(
            "frame".into(),
            RingMetrics {
                events: n,
                drops: n / 100,
                ..Default::default()
            },
        );
        m.channels.insert(
            "stats".into(),
            ChannelMetrics {
                sent: n,
                dropped: 1,
                ..Default::default()
            },
        );
        m
    }

    #[test]
    fn every_rate_is_filled_from_the_previous_snapshot() {
        let prev = snapshot(1000, 100);
        let mut cur = snapshot(3000, 500);
        fill_rates(&prev, &mut cur);
        assert_eq!(cur.interval_ms, 2000);
        let c = &cur.classes["input"];
        assert_eq!(c.wakeups_per_s, 200.0);
        assert_eq!(c.runq_waits_per_s, 20.0);
        // 400 ms of CPU over 2 s.
        assert_eq!(c.cpu_pct, 20.0);
        assert_eq!(cur.dispatches["shared"].per_s, 400.0);
        assert_eq!(cur.rings["frame"].events_per_s, 200.0);
        assert_eq!(cur.rings["frame"].drops_per_s, 2.0);
        assert_eq!(cur.channels["stats"].sent_per_s, 200.0);
        assert_eq!(cur.channels["stats"].dropped_per_s, 0.0);
        assert_eq!(cur.game_cross_llc_migrations_per_s, 4.0);
    }

    #[test]
    fn a_row_new_in_this_snapshot_counts_from_zero() {
        let prev = Metrics {
            uptime_ms: 1000,
            ..Default::default()
        };
        let mut cur = snapshot(2000, 50);
        fill_rates(&prev, &mut cur);
        assert_eq!(cur.classes["input"].wakeups_per_s, 50.0);
        assert_eq!(cur.channels["stats"].dropped_per_s, 1.0);
    }
}
