// SPDX-License-Identifier: GPL-2.0-only
//
// The detection consumer: the thread that turns exec and exit events from
// BPF, and inotify readiness on /run/user, into the BPF maps the classes
// come from (game_tgids, audio_tgids) and the map of processes whose
// subtree BPF reports execs for (proc_tgids).
//
// It runs beside the event loop, never in it: deciding reads /proc, which
// may take milliseconds the loop must not wait. The loop hands it events
// over a bounded channel and says "inotify is readable" over another.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{select, Receiver};
use libbpf_rs::{MapCore, MapFlags, MapHandle};
use log::{info, warn};

use super::audio::{AudioChange, AudioServer, AudioWatch};
use super::game::{Game, GameChange, GameDetector};
use crate::bpf_intf as intf;
use crate::events::records::Event;

/// How often sockets that refused a connection (bound, not yet listening)
/// are tried again, while there are any.
const RETRY: Duration = Duration::from_millis(5);
/// How long to wait for events otherwise: only a bound on how late the
/// thread notices a closed channel it was not woken for.
const IDLE: Duration = Duration::from_secs(1);

/// The BPF maps detection writes, and the generation counter that tells the
/// BPF side a per-process map changed.
pub struct ProcMaps<'a> {
    pub game_tgids: MapHandle,
    pub audio_tgids: MapHandle,
    pub proc_tgids: MapHandle,
    pub proc_gen: &'a AtomicU64,
}

/// What detection knows now, for the stats.
#[derive(Default, Clone)]
pub struct Detected {
    pub games: Vec<Game>,
    pub audio_servers: Vec<AudioServer>,
}

pub struct Worker<'a> {
    maps: ProcMaps<'a>,
    games: GameDetector,
    audio: Option<AudioWatch>,
    detected: Arc<Mutex<Detected>>,
}

fn monotonic_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| Duration::from(t).as_nanos() as u64)
        .unwrap_or(0)
}

impl<'a> Worker<'a> {
    /// Detection over `proc_root` and `run_user` (normally /proc and
    /// /run/user). The audio watch is created here so that its fd can go
    /// into the event loop's epoll set before the thread starts; without
    /// /run/user there is no audio detection, said once.
    pub fn new(maps: ProcMaps<'a>, proc_root: PathBuf, run_user: PathBuf) -> Self {
        let audio = match AudioWatch::new(&run_user) {
            Ok(w) => Some(w),
            Err(e) => {
                warn!("audio servers will not be detected: {e:#}");
                None
            }
        };
        Worker {
            maps,
            games: GameDetector::new(proc_root, run_user),
            audio,
            detected: Arc::default(),
        }
    }

    pub fn audio_watch(&self) -> Option<&AudioWatch> {
        self.audio.as_ref()
    }

    pub fn detected(&self) -> Arc<Mutex<Detected>> {
        Arc::clone(&self.detected)
    }

    /// Serve until both channels close: `events` carries exec and exit
    /// events, `inotify` a token whenever the audio watch's fd is readable.
    pub fn run(mut self, events: Receiver<Event>, inotify: Receiver<()>) {
        let changes = self.games.startup_scan();
        self.apply_games(changes, None);
        if let Some(a) = self.audio.as_mut() {
            let changes = a.startup_scan();
            self.apply_audio(changes);
        }
        let (mut events_open, mut inotify_open) = (true, true);
        while events_open || inotify_open {
            select! {
                recv(events) -> e => match e {
                    Ok(Event::Proc(p)) => self.on_proc(&p),
                    Ok(_) => {}
                    Err(_) => events_open = false,
                },
                recv(inotify) -> t => match t {
                    Ok(()) => {
                        if let Some(a) = self.audio.as_mut() {
                            let changes = a.handle_events();
                            self.apply_audio(changes);
                        }
                    }
                    Err(_) => inotify_open = false,
                },
                default(self.timeout()) => {}
            }
            if let Some(a) = self.audio.as_mut() {
                let changes = a.retry_pending();
                self.apply_audio(changes);
            }
        }
    }

    fn timeout(&self) -> Duration {
        match &self.audio {
            Some(a) if a.has_pending() => RETRY,
            _ => IDLE,
        }
    }

    fn on_proc(&mut self, p: &intf::gamer_proc_event) {
        if p.kind == intf::gamer_proc_kind_GAMER_PROC_EXIT {
            let changes = self.games.on_exit(p.tgid);
            self.apply_games(changes, None);
            if let Some(a) = self.audio.as_mut() {
                let changes = a.on_exit(p.tgid);
                self.apply_audio(changes);
            }
        } else {
            let changes = self.games.on_exec(p.tgid);
            self.apply_games(changes, Some(p.ts_ns));
        }
    }

    /// Apply game decisions; `exec_ns` is when the deciding exec happened.
    fn apply_games(&mut self, changes: Vec<GameChange>, exec_ns: Option<u64>) {
        for change in changes {
            let result = match &change {
                GameChange::Added { tgid, comm, score } => {
                    let via = intf::gamer_class_via_GAMER_VIA_GAME_TGID;
                    let r = update(&self.maps.game_tgids, *tgid, via);
                    let now = monotonic_ns();
                    let after = exec_ns
                        .map(|e| {
                            format!(
                                ", {:.1} ms after its exec",
                                now.saturating_sub(e) as f64 / 1e6
                            )
                        })
                        .unwrap_or_default();
                    info!(
                        "game detected: tgid {tgid} ({comm}) score {score}{after}, at {:.6}",
                        now as f64 / 1e9
                    );
                    r
                }
                GameChange::Removed { tgid } => {
                    info!("game ended: tgid {tgid}");
                    delete(&self.maps.game_tgids, *tgid)
                }
                GameChange::Watch { tgid } => self.set_watch(*tgid, true),
                GameChange::Unwatch { tgid } => self.set_watch(*tgid, false),
            };
            if let Err(e) = result {
                warn!("applying {change:?}: {e:#}");
            }
        }
        self.maps.proc_gen.fetch_add(1, Ordering::AcqRel);
        self.detected.lock().unwrap().games = self.games.games();
    }

    fn apply_audio(&mut self, changes: Vec<AudioChange>) {
        if changes.is_empty() {
            return;
        }
        for change in &changes {
            let result = match change {
                AudioChange::Up { tgid, kind, socket } => {
                    info!(
                        "audio server up: tgid {tgid} ({}) on {}, at {:.6}",
                        kind.name(),
                        socket.display(),
                        monotonic_ns() as f64 / 1e9
                    );
                    update(
                        &self.maps.audio_tgids,
                        *tgid,
                        intf::gamer_class_via_GAMER_VIA_AUDIO_SERVER,
                    )
                }
                AudioChange::Gone { tgid } => {
                    info!(
                        "audio server gone: tgid {tgid}, at {:.6}",
                        monotonic_ns() as f64 / 1e9
                    );
                    delete(&self.maps.audio_tgids, *tgid)
                }
            };
            if let Err(e) = result {
                warn!("applying {change:?}: {e:#}");
            }
        }
        self.maps.proc_gen.fetch_add(1, Ordering::AcqRel);
        if let Some(a) = self.audio.as_ref() {
            self.detected.lock().unwrap().audio_servers = a.servers();
        }
    }

    /// Set or clear the watch bit of `tgid` in proc_tgids, keeping its other
    /// bits; an entry left with none is removed.
    fn set_watch(&self, tgid: u32, on: bool) -> anyhow::Result<()> {
        let key = tgid.to_ne_bytes();
        let old = self
            .maps
            .proc_tgids
            .lookup(&key, MapFlags::ANY)?
            .map(|v| u32::from_ne_bytes(v[..4].try_into().unwrap()))
            .unwrap_or(0);
        let watch = intf::gamer_proc_flag_GAMER_PROC_WATCH;
        let new = if on { old | watch } else { old & !watch };
        if new == 0 {
            delete(&self.maps.proc_tgids, tgid)
        } else {
            update(&self.maps.proc_tgids, tgid, new)
        }
    }
}

fn update(map: &MapHandle, tgid: u32, value: u32) -> anyhow::Result<()> {
    map.update(&tgid.to_ne_bytes(), &value.to_ne_bytes(), MapFlags::ANY)?;
    Ok(())
}

/// Remove `tgid`; one that is not there (BPF removed it at exit) is fine.
fn delete(map: &MapHandle, tgid: u32) -> anyhow::Result<()> {
    match map.delete(&tgid.to_ne_bytes()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == libbpf_rs::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}
