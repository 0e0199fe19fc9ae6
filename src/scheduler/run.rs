// SPDX-License-Identifier: GPL-2.0-only
//
// Serving one attachment: the event loop on this thread, its consumers
// (launch detection, stats, the `--watch-*` printer) on their own, until a
// signal or the kernel ends it; then the totals' stats block and why it ended.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use crossbeam_channel::{Receiver, Sender};
use libbpf_rs::{MapCore, MapHandle};
use log::info;
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use scx_utils::{uei_exited, uei_read, ScxExitKind};

use super::maps::read_counters;
use super::{Ending, Scheduler};
use crate::detect;
use crate::detect::worker::Detected;
use crate::events::event_loop::{self, EventLoop};
use crate::events::records::{self, Event, Kind};
use crate::launch::LaunchSocket;
use crate::names::STAT_NAMES;
use crate::stats;

/// The period of the loop's housekeeping: the TAI offset, the counters.
const TICK: Duration = Duration::from_secs(1);
/// Event loop tokens of the fds besides the ringbufs.
const SIGNAL_TOKEN: u64 = 0;
const TICK_TOKEN: u64 = 1;
const AUDIO_TOKEN: u64 = 2;
const LAUNCH_TOKEN: u64 = 3;
/// How many events may wait for each consumer before new ones are dropped
/// (and counted): the stats thread's is a second of an 8 kHz mouse.
const DETECT_BACKLOG: usize = 1024;
const STATS_BACKLOG: usize = 8192;
const WATCH_BACKLOG: usize = 8192;

/// What the loop serves besides its ringbufs, and where it sends things.
struct LoopIo<'a> {
    signals: &'a SignalFd,
    launch: Option<(&'a LaunchSocket, &'a MapHandle)>,
    tick: &'a TimerFd,
    inotify: &'a Sender<()>,
    ticks: &'a Sender<stats::Metrics>,
    detected: &'a Mutex<Detected>,
}

impl<'obj> Scheduler<'obj> {
    /// Serve the event loop until a signal arrives on `signals` or the
    /// kernel ends the scheduler, then detach and say which.
    pub fn run(&mut self, signals: &SignalFd, launch: Option<&LaunchSocket>) -> Result<Ending> {
        use libbpf_rs::skel::Skel;
        let maps: Vec<(Kind, libbpf_rs::Map)> = self
            .skel
            .object()
            .maps()
            .filter_map(|m| Kind::of_map(&m.name().to_string_lossy()).map(|k| (k, m)))
            .collect();
        let rings: Vec<(Kind, &dyn MapCore)> =
            maps.iter().map(|(k, m)| (*k, m as &dyn MapCore)).collect();

        let mut consumers = Vec::new();
        let printer = (!self.watch.is_empty()).then(|| {
            let (c, rx) = event_loop::consumer("watch", &self.watch, WATCH_BACKLOG);
            consumers.push(c);
            std::thread::spawn(move || print_events(rx))
        });
        let (c, detect_rx) = event_loop::consumer("detect", &[Kind::Proc], DETECT_BACKLOG);
        consumers.push(c);
        let stats_kinds = [Kind::Frame, Kind::Input, Kind::Migrate];
        let (c, stats_rx) = event_loop::consumer("stats", &stats_kinds, STATS_BACKLOG);
        consumers.push(c);
        let (ticks_tx, ticks_rx) = crossbeam_channel::bounded(2);
        let mut events = EventLoop::new(&rings, consumers)?;
        events.add_fd(signals.as_fd(), SIGNAL_TOKEN, false)?;
        let tick = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .context("creating the tick timer")?;
        tick.set(
            Expiration::Interval(TimeSpec::from_duration(TICK)),
            TimerSetTimeFlags::empty(),
        )
        .context("arming the tick timer")?;
        events.add_tick(tick.as_fd(), TICK_TOKEN)?;
        self.shared.update_tai_offset();

        let worker = detect::worker::Worker::new(
            self.proc_maps()?,
            PathBuf::from("/proc"),
            PathBuf::from(detect::RUN_USER),
            Path::new(detect::seat::SEATS_DIR),
        );
        if let Some(audio) = worker.audio_watch() {
            events.add_fd(audio.fd(), AUDIO_TOKEN, true)?;
        }
        if let Some(launch) = launch {
            events.add_fd(launch.fd(), LAUNCH_TOKEN, false)?;
        }
        let game_tgids =
            MapHandle::try_from(&self.skel.maps.game_tgids).context("opening map game_tgids")?;
        let (inotify_tx, inotify_rx) = crossbeam_channel::bounded(1);

        let detected = worker.detected();
        let publisher = Arc::clone(&self.publisher);
        let print_every = self.print_stats_every;
        let signal = std::thread::scope(|s| -> Result<Option<Signal>> {
            s.spawn(move || worker.run(detect_rx, inotify_rx));
            s.spawn(move || stats::feed::run(stats_rx, ticks_rx, publisher, print_every));
            let loop_io = LoopIo {
                signals,
                launch: launch.map(|l| (l, &game_tgids)),
                tick: &tick,
                inotify: &inotify_tx,
                ticks: &ticks_tx,
                detected: &detected,
            };
            let signal = self.serve(&mut events, &loop_io);
            events.drain();
            // The stats thread publishes the final totals before it sees
            // the channels close, and ends once it has handled them.
            let _ = ticks_tx.send(self.stats_snapshot(&events, &detected));
            drop((events, inotify_tx, ticks_tx));
            signal
        })?;
        let totals = stats::format_block(&self.publisher.latest(), stats::Figures::Totals);
        info!("{totals}");
        if let Some(p) = printer {
            let _ = p.join();
        }
        // Dropping the link detaches; the kernel then records why it ended.
        self.link.take();
        let kind = self.skel.maps.data_data.as_ref().unwrap().uei.kind;
        let exit = uei_read!(&self.skel, uei);
        match exit.report() {
            Ok(()) => {}
            Err(why) if kind >= ScxExitKind::Error as i32 => return Ok(Ending::Failed(why)),
            // sysrq-S: someone wants the default scheduler back.
            Err(why) => return Err(why),
        }
        Ok(match signal {
            Some(_) => Ending::Signal,
            None => Ending::Exited(exit),
        })
    }

    /// The loop itself, until a signal or the kernel ends the scheduler.
    fn serve(&self, events: &mut EventLoop, io: &LoopIo<'_>) -> Result<Option<Signal>> {
        while !uei_exited!(&self.skel, uei) {
            for token in events.wait()? {
                match token {
                    SIGNAL_TOKEN => {
                        events.count_syscall();
                        if let Some(info) = io.signals.read_signal().context("reading signalfd")? {
                            let sig =
                                Signal::try_from(info.ssi_signo as i32).unwrap_or(Signal::SIGTERM);
                            info!("{sig} received, detaching");
                            return Ok(Some(sig));
                        }
                    }
                    TICK_TOKEN => {
                        events.count_syscall();
                        let _ = nix::unistd::read(io.tick, &mut [0u8; 8]);
                        self.shared.update_tai_offset();
                        // A stats thread still busy with the previous
                        // snapshot skips this one.
                        let _ = io.ticks.try_send(self.stats_snapshot(events, io.detected));
                    }
                    // The detection thread reads the inotify fd itself; a
                    // full channel means it has yet to, which is as good.
                    AUDIO_TOKEN => {
                        let _ = io.inotify.try_send(());
                    }
                    LAUNCH_TOKEN => {
                        if let Some((socket, game_tgids)) = io.launch {
                            socket.serve(Path::new("/proc"), &mut |tgid| {
                                self.shared.mark_game(game_tgids, tgid)
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(None)
    }

    /// The totals of a stats snapshot, read now. Counters that cannot be
    /// read are left out, and said so.
    fn stats_snapshot(&self, events: &EventLoop, detected: &Mutex<Detected>) -> stats::Metrics {
        let c = read_counters(&self.skel)
            .map_err(|e| log::warn!("BPF counters unavailable: {e:#}"))
            .unwrap_or_default();
        let dispatch: Vec<_> = STAT_NAMES.iter().copied().zip(c.dispatch).collect();
        stats::feed::snapshot(&stats::feed::Totals {
            classes: &c.classes,
            dispatch: &dispatch,
            ring_drops: &c.ring_drops,
            input_ring_drops: &c.input_ring_drops,
            events: &events.counts(),
            detected: &detected.lock().map(|d| d.clone()).unwrap_or_default(),
        })
    }

    /// Handles on the maps launch detection writes.
    fn proc_maps(&self) -> Result<detect::worker::ProcMaps<'obj>> {
        let handle = |m: &libbpf_rs::Map| {
            MapHandle::try_from(m)
                .with_context(|| format!("opening map {}", m.name().to_string_lossy()))
        };
        Ok(detect::worker::ProcMaps {
            game_tgids: handle(&self.skel.maps.game_tgids)?,
            audio_tgids: handle(&self.skel.maps.audio_tgids)?,
            proc_tgids: handle(&self.skel.maps.proc_tgids)?,
            proc_uids: handle(&self.skel.maps.proc_uids)?,
            proc_use: handle(&self.skel.maps.proc_use)?,
            proc_gen: self.shared.proc_gen,
        })
    }
}

/// The printer thread of `--watch-*`: events on stdout, one line each;
/// class assignments (`--log-classes`) in the log.
fn print_events(rx: Receiver<Event>) {
    use std::io::Write;
    let stdout = std::io::stdout();
    for event in rx {
        let line = records::describe(&event);
        if matches!(event, Event::Class(_)) {
            info!("{line}");
        } else if writeln!(stdout.lock(), "{line}").is_err() {
            // stdout is gone (a closed pipe): nothing left to print to.
            return;
        }
    }
}
