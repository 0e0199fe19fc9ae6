// SPDX-License-Identifier: GPL-2.0-only
//
// What the running scheduler feeds the stats with. Once a second the event
// loop gathers the totals (BPF counters, its own counts, what detection
// knows) into a `Metrics` and hands it to the stats thread, which adds the
// frame figures from the frame and input events it receives as a consumer
// of the loop, publishes, and prints the `--stats` block when it is due.
// Each frame also goes to the publisher's frame ring, for readers of every
// frame.

use std::sync::Arc;

use crossbeam_channel::{select, Receiver};

use super::frames::FrameTracker;
use super::publisher::LoggedFrame;
use super::{format_block, AudioServer, Figures, GameProcess, Metrics, Publisher};
use crate::bpf_intf::class_counters;
use crate::classes::CLASS_NAMES;
use crate::detect::worker::Detected;
use crate::events::event_loop::LoopCounts;
use crate::events::records::{Event, Kind, MigrateEvent};

/// The totals of one snapshot. `dispatch` and `ring_drops` are in the
/// order of `STAT_NAMES` and `enum gamer_ring`; `input_ring_drops` has one
/// entry per input ringbuf.
pub struct Totals<'a> {
    pub classes: &'a [class_counters],
    pub dispatch: &'a [(&'static str, u64)],
    pub ring_drops: &'a [u64],
    pub input_ring_drops: &'a [u64],
    pub events: &'a LoopCounts,
    pub detected: &'a Detected,
}

/// A snapshot holding every total; the stats thread adds the rest.
pub fn snapshot(t: &Totals<'_>) -> Metrics {
    let mut m = Metrics::default();
    for (name, c) in CLASS_NAMES.iter().zip(t.classes) {
        let row = m.classes.entry(name.to_string()).or_default();
        row.threads = c.threads;
        row.cpu_ns = c.cpu_ns;
        row.wakeups = c.wakeups;
        row.boosts = c.boosts;
        row.runq_waits = c.runq_waits;
    }
    for (name, n) in t.dispatch {
        m.dispatches.entry(name.to_string()).or_default().count = *n;
    }
    for kind in Kind::ALL {
        let row = m.rings.entry(kind.name().to_string()).or_default();
        row.events = t.events.events[kind as usize];
        row.drops = t.ring_drops.get(kind.ring() as usize).copied().unwrap_or(0);
    }
    m.input_ring_drops = t.input_ring_drops.to_vec();
    for c in &t.events.channels {
        let row = m.channels.entry(c.name.to_string()).or_default();
        row.sent = c.sent;
        row.dropped = c.dropped;
    }
    m.games = t
        .detected
        .games
        .iter()
        .map(|g| GameProcess {
            tgid: u64::from(g.tgid),
            comm: g.comm.clone(),
        })
        .collect();
    m.audio_servers = t
        .detected
        .audio_servers
        .iter()
        .map(|a| AudioServer {
            tgid: u64::from(a.tgid),
            kind: a.kind.name().to_string(),
        })
        .collect();
    m
}

/// The game's CPU changes seen in the migrate stream since start.
#[derive(Default)]
struct GameMigrations {
    all: u64,
    cross_llc: u64,
}

impl GameMigrations {
    fn on_migrate(&mut self, e: &MigrateEvent) {
        if e.class_mask & (1 << crate::bpf_intf::gamer_class_GAMER_CLASS_GAME) == 0 {
            return;
        }
        self.all += 1;
        self.cross_llc += u64::from(e.cross_llc != 0);
    }

    fn fill(&self, m: &mut Metrics) {
        m.game_migrations = self.all;
        m.game_cross_llc_migrations = self.cross_llc;
    }
}

/// The stats thread: frame, input and migrate events from `events`, snapshots of
/// totals from `ticks`; publishes each snapshot, and prints the `--stats`
/// block every `print_every` snapshots. Ends when both channels close.
pub fn run(
    events: Receiver<Event>,
    ticks: Receiver<Metrics>,
    publisher: Arc<Publisher>,
    print_every: Option<u64>,
) {
    let mut frames = FrameTracker::new();
    let mut migrations = GameMigrations::default();
    let (mut events_open, mut ticks_open) = (true, true);
    while events_open || ticks_open {
        select! {
            recv(events) -> e => match e {
                Ok(Event::Frame(f)) => {
                    frames.on_present(&f);
                    publisher.frames().push(LoggedFrame::from(&f));
                }
                Ok(Event::Input(i)) => frames.on_input(i.ts_ns),
                Ok(Event::Migrate(e)) => migrations.on_migrate(&e),
                Ok(_) => {}
                Err(_) => events_open = false,
            },
            recv(ticks) -> t => match t {
                Ok(mut m) => {
                    frames.fill(&mut m);
                    migrations.fill(&mut m);
                    publisher.publish(m);
                    let latest = publisher.latest();
                    if print_every.is_some_and(|n| latest.seq.is_multiple_of(n)) {
                        println!("{}", format_block(&latest, Figures::Rates));
                    }
                }
                Err(_) => ticks_open = false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::event_loop::ChannelCounts;

    #[test]
    fn only_the_game_threads_moves_count_and_cross_llc_apart() {
        let mut e: MigrateEvent = crate::events::records::read(&[0u8; 64]).unwrap();
        let mut g = GameMigrations::default();
        let game = 1 << crate::bpf_intf::gamer_class_GAMER_CLASS_GAME;
        for (mask, cross) in [(game, 1), (game | 1, 0), (1, 1), (game, 1)] {
            (e.class_mask, e.cross_llc) = (mask, cross);
            g.on_migrate(&e);
        }
        let mut m = Metrics::default();
        g.fill(&mut m);
        assert_eq!((m.game_migrations, m.game_cross_llc_migrations), (3, 2));
    }

    #[test]
    fn snapshot_carries_every_total_by_name() {
        let mut classes = [class_counters {
            threads: 0,
            wakeups: 0,
            cpu_ns: 0,
            boosts: 0,
            runq_waits: 0,
        }; 5];
        classes[4].threads = 3;
        classes[4].runq_waits = 2;
        let mut events = LoopCounts::default();
        events.events[Kind::Frame as usize] = 60;
        events.channels.push(ChannelCounts {
            name: "stats",
            sent: 59,
            dropped: 1,
        });
        events.events[Kind::Class as usize] = 9;
        let mut drops = vec![0; Kind::ALL.len()];
        drops[Kind::Frame.ring() as usize] = 4;
        drops[Kind::Class.ring() as usize] = 2;
        let m = snapshot(&Totals {
            classes: &classes,
            dispatch: &[("shared", 10)],
            ring_drops: &drops,
            input_ring_drops: &[0, 3, 0],
            events: &events,
            detected: &Detected::default(),
        });
        assert_eq!(m.classes["game"].threads, 3);
        assert_eq!(m.classes["game"].runq_waits, 2);
        assert_eq!(m.dispatches["shared"].count, 10);
        assert_eq!((m.rings["frame"].events, m.rings["frame"].drops), (60, 4));
        // The class ring drops assignments the log would show: counted too.
        assert_eq!((m.rings["class"].events, m.rings["class"].drops), (9, 2));
        assert_eq!(m.input_ring_drops, [0, 3, 0]);
        assert_eq!(
            (m.channels["stats"].sent, m.channels["stats"].dropped),
            (59, 1)
        );
    }
}
