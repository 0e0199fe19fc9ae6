// SPDX-License-Identifier: GPL-2.0-only
//
// The detection thread: turns exec, exit and listen events from BPF,
// inotify readiness on /run/user and seat changes into the BPF maps the
// classes come from (game_tgids, audio_tgids), the processes whose execs
// BPF reports (proc_tgids) and the users it reports them for (proc_uids).
// It runs beside the event loop, never in it: deciding reads /proc, which
// may take milliseconds the loop must not wait. Nothing here runs on a
// timer but the 1 s tick, which reads no /proc.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{never, select, Receiver};
use libbpf_rs::{MapCore, MapFlags, MapHandle};
use log::{info, warn};

use super::audio::{AudioChange, AudioServer, AudioWatch};
use super::game::{Game, GameChange, GameDetector};
use super::seat::{self, Eligible};
use crate::bpf_intf as intf;
use crate::events::records::{read, Event};

/// The tick: runtime dirs mounted over (no event tells of a mount), and a
/// bound on how late the thread notices a closed channel.
const TICK: Duration = Duration::from_secs(1);

/// The BPF maps detection writes, and the generation counter that tells the
/// BPF side a per-process map changed.
pub struct ProcMaps<'a> {
    pub game_tgids: MapHandle,
    pub audio_tgids: MapHandle,
    pub proc_tgids: MapHandle,
    pub proc_uids: MapHandle,
    pub proc_use: MapHandle,
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
    eligible: Eligible,
    seat: Option<Receiver<Eligible>>,
    /// The managers whose children's execs BPF reports now.
    managers: BTreeSet<u32>,
}

fn monotonic_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| Duration::from(t).as_nanos() as u64)
        .unwrap_or(0)
}

impl<'a> Worker<'a> {
    /// Detection over `proc_root`, `run_user` and `seats` (normally /proc,
    /// /run/user and /run/systemd/seats). The audio watch is made here, for
    /// its fd to join the event loop's epoll set before the thread starts.
    pub fn new(maps: ProcMaps<'a>, proc_root: PathBuf, run_user: PathBuf, seats: &Path) -> Self {
        let (eligible, seat) = seat::follow(seats, &run_user);
        let audio = AudioWatch::new(&run_user)
            .map_err(|e| warn!("audio servers will not be detected: {e:#}"))
            .ok();
        Worker {
            maps,
            games: GameDetector::new(proc_root, run_user, eligible.clone()),
            audio,
            detected: Arc::default(),
            eligible,
            seat,
            managers: BTreeSet::new(),
        }
    }

    pub fn audio_watch(&self) -> Option<&AudioWatch> {
        self.audio.as_ref()
    }

    pub fn detected(&self) -> Arc<Mutex<Detected>> {
        Arc::clone(&self.detected)
    }

    /// Serve until both channels close: `events` carries exec, exit and
    /// listen events, `inotify` a token whenever the audio watch's fd is
    /// readable.
    pub fn run(mut self, events: Receiver<Event>, inotify: Receiver<()>) {
        self.write_uids(&[]);
        let changes = self.games.startup_scan();
        self.apply_games(changes, None);
        let eligible = self.eligible.clone();
        self.on_audio(|a| a.set_eligible(eligible));
        let seat = self.seat.take().unwrap_or_else(never);
        let (mut events_open, mut inotify_open) = (true, true);
        let mut tick = Instant::now() + TICK;
        while events_open || inotify_open {
            select! {
                recv(events) -> e => match e {
                    Ok(Event::Proc(p)) => self.on_proc(&p),
                    Ok(_) => {}
                    Err(_) => events_open = false,
                },
                recv(inotify) -> t => match t {
                    Ok(()) => self.on_audio(AudioWatch::handle_events),
                    Err(_) => inotify_open = false,
                },
                recv(seat) -> e => {
                    if let Ok(e) = e {
                        self.on_seat(e);
                    }
                }
                default(tick.saturating_duration_since(Instant::now())) => {}
            }
            if Instant::now() >= tick {
                tick = Instant::now() + TICK;
                self.on_audio(AudioWatch::on_tick);
            }
        }
        self.report_refusals();
    }

    fn on_proc(&mut self, p: &intf::gamer_proc_event) {
        let (tgid, ppid) = (p.tgid, p.ppid);
        match p.kind {
            intf::gamer_proc_kind_GAMER_PROC_EXIT => {
                let changes = self.games.on_exit(tgid);
                self.apply_games(changes, None);
                self.on_audio(|a| a.on_exit(tgid));
                // An exited manager's entry went with it in BPF.
                self.managers.remove(&tgid);
            }
            intf::gamer_proc_kind_GAMER_PROC_LISTEN => self.on_audio(AudioWatch::on_listen),
            _ => {
                let changes = self.games.on_exec(tgid);
                self.apply_games(changes, Some(p.ts_ns));
                self.on_audio(|a| a.on_exec(ppid));
            }
        }
    }

    /// The seat switched: whose execs BPF reports, whose games and audio
    /// servers count.
    fn on_seat(&mut self, eligible: Eligible) {
        let whose = eligible.describe();
        info!("seat changed: game and audio detection for {whose} now");
        let old = std::mem::replace(&mut self.eligible, eligible.clone()).bpf_uids();
        self.write_uids(&old);
        let changes = self.games.set_eligible(eligible.clone());
        self.apply_games(changes, None);
        self.on_audio(|a| a.set_eligible(eligible));
    }

    /// Bring proc_uids in line with `self.eligible`; `old` is what it held.
    fn write_uids(&self, old: &[u32]) {
        let new = self.eligible.bpf_uids();
        for uid in old.iter().filter(|u| !new.contains(u)) {
            if let Err(e) = delete(&self.maps.proc_uids, *uid) {
                warn!("removing uid {uid} from proc_uids: {e:#}");
            }
        }
        for uid in new {
            if let Err(e) = update(&self.maps.proc_uids, uid, 1) {
                warn!("adding uid {uid} to proc_uids: {e:#}");
            }
        }
    }

    /// Say, once at the end, which users had execs left unreported because
    /// they held their whole share of proc_tgids.
    fn report_refusals(&self) {
        let uses = self.maps.proc_use.keys().filter_map(|key| {
            let v = self.maps.proc_use.lookup(&key, MapFlags::ANY).ok()??;
            Some((read::<u32>(&key)?, read::<intf::gamer_proc_use>(&v)?))
        });
        for (uid, u) in uses.filter(|(_, u)| u.refused > 0) {
            warn!(
                "uid {uid}: {} execs not reported, over its share of {} tracked processes",
                u.refused,
                intf::gamer_consts_GAMER_PROC_PER_UID
            );
        }
    }

    /// Apply game decisions; `exec_ns` is when the deciding exec happened.
    fn apply_games(&mut self, changes: Vec<GameChange>, exec_ns: Option<u64>) {
        if changes.is_empty() {
            return;
        }
        let mut classes_changed = false;
        for change in changes {
            let result = match &change {
                GameChange::Added { tgid, comm, score } => {
                    let now = monotonic_ns();
                    let after = exec_ns.map_or(String::new(), |e| {
                        format!(
                            ", {:.1} ms after its exec",
                            now.saturating_sub(e) as f64 / 1e6
                        )
                    });
                    let at = now as f64 / 1e9;
                    info!("game detected: tgid {tgid} ({comm}) score {score}{after}, at {at:.6}");
                    let via = intf::gamer_class_via_GAMER_VIA_GAME_TGID;
                    update(&self.maps.game_tgids, *tgid, via)
                }
                GameChange::Removed { tgid } => {
                    info!("game ended: tgid {tgid}");
                    delete(&self.maps.game_tgids, *tgid)
                }
                GameChange::Watch { tgid } => self.set_flag(*tgid, WATCH, true),
                GameChange::Unwatch { tgid } => self.set_flag(*tgid, WATCH, false),
            };
            // Only the class maps are behind proc_gen: a watch changes none.
            let watch = matches!(
                change,
                GameChange::Watch { .. } | GameChange::Unwatch { .. }
            );
            classes_changed |= !watch;
            if let Err(e) = result {
                warn!("applying {change:?}: {e:#}");
            }
        }
        if classes_changed {
            self.maps.proc_gen.fetch_add(1, Ordering::AcqRel);
        }
        self.detected.lock().unwrap().games = self.games.games();
    }

    /// Run `f` on the audio watch, if there is one, and apply what changed.
    fn on_audio(&mut self, f: impl FnOnce(&mut AudioWatch) -> Vec<AudioChange>) {
        let Some(a) = self.audio.as_mut() else {
            return;
        };
        let changes = f(a);
        // A socket found waiting for its manager changes no class, but
        // changes which managers' children BPF reports.
        self.sync_managers();
        if changes.is_empty() {
            return;
        }
        for change in &changes {
            let at = monotonic_ns() as f64 / 1e9;
            let result = match change {
                AudioChange::Up { tgid, kind, socket } => {
                    let (kind, socket) = (kind.name(), socket.display());
                    info!("audio server up: tgid {tgid} ({kind}) on {socket}, at {at:.6}");
                    let via = intf::gamer_class_via_GAMER_VIA_AUDIO_SERVER;
                    update(&self.maps.audio_tgids, *tgid, via)
                }
                AudioChange::Gone { tgid } => {
                    info!("audio server gone: tgid {tgid}, at {at:.6}");
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

    /// Have BPF report the execs of the children of every manager a
    /// socket-activated server is to come from, and of no other.
    fn sync_managers(&mut self) {
        let Some(now) = self.audio.as_ref().map(AudioWatch::managers) else {
            return;
        };
        let gone = self.managers.difference(&now).map(|t| (*t, false));
        let new = now.difference(&self.managers).map(|t| (*t, true));
        for (tgid, on) in gone.chain(new) {
            if let Err(e) = self.set_flag(tgid, CHILDREN, on) {
                warn!("reporting the execs of manager {tgid}'s children: {e:#}");
            }
        }
        self.managers = now;
    }

    /// Set or clear `flag` of `tgid` in proc_tgids, keeping its other
    /// bits; an entry left with none is removed. An entry BPF counts is
    /// only ever changed in place, so its count stays right.
    fn set_flag(&self, tgid: u32, flag: u32, on: bool) -> anyhow::Result<()> {
        let (key, map) = (tgid.to_ne_bytes(), &self.maps.proc_tgids);
        let old = map.lookup(&key, MapFlags::ANY)?;
        let old = old.and_then(|v| read::<intf::gamer_proc_entry>(&v));
        let mut entry = old.unwrap_or(intf::gamer_proc_entry { flags: 0, uid: 0 });
        entry.flags = (entry.flags & !flag) | if on { flag } else { 0 };
        if entry.flags == 0 {
            return delete(map, tgid);
        }
        // EXIST: an entry BPF removed meanwhile (the process exited) is not
        // brought back; NO_EXIST: nor is one BPF made meanwhile overwritten.
        let flags = old.map_or(MapFlags::NO_EXIST, |_| MapFlags::EXIST);
        match map.update(&key, bytes_of(&entry), flags) {
            Err(e) if !(old.is_some() && e.kind() == libbpf_rs::ErrorKind::NotFound) => {
                Err(e.into())
            }
            _ => Ok(()),
        }
    }
}

const WATCH: u32 = intf::gamer_proc_flag_GAMER_PROC_WATCH;
const CHILDREN: u32 = intf::gamer_proc_flag_GAMER_PROC_CHILDREN;

/// The bytes of a plain C record, to write to a map.
fn bytes_of<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: T is one of bindgen's records, integers only and no padding
    // bytes, so all of its bytes are initialised.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

fn update(map: &MapHandle, key: u32, value: u32) -> anyhow::Result<()> {
    map.update(&key.to_ne_bytes(), &value.to_ne_bytes(), MapFlags::ANY)?;
    Ok(())
}

/// Remove `key`; one that is not there (BPF removed it at exit) is fine.
fn delete(map: &MapHandle, key: u32) -> anyhow::Result<()> {
    match map.delete(&key.to_ne_bytes()) {
        Err(e) if e.kind() != libbpf_rs::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}
