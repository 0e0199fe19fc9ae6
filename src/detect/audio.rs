// SPDX-License-Identifier: GPL-2.0-only
//
// The audio servers: found from their sockets in each eligible user's
// runtime dir (`<uid>/pipewire-0`, `<uid>/pulse/native`), which inotify can
// watch (unlike /proc), and mapped to the process serving each with
// SO_PEERCRED; the peer must be the user owning the runtime dir. Two cases
// need more than one connect:
// - the socket file appears at bind(), before listen(): a refused connect is
//   tried again when BPF reports a UNIX socket listening (and on the 1 s
//   tick, in case that hook is off);
// - under systemd socket activation the user's service manager calls
//   listen(), and the server is the child of it that holds the listening
//   socket (activation.rs). It is looked for when BPF reports an exec by a
//   child of that manager, never on a timer. Such a socket is connected to
//   only once: connecting starts the server, and a server the user stopped
//   must stay stopped.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};
use log::{debug, warn};

use super::activation::{activated_server, is_service_manager, peer_of};
use super::seat::Eligible;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioKind {
    /// `<uid>/pipewire-0`: PipeWire itself.
    PipeWire,
    /// `<uid>/pulse/native`: PulseAudio, or PipeWire's pipewire-pulse.
    Pulse,
}

impl AudioKind {
    pub fn name(self) -> &'static str {
        match self {
            AudioKind::PipeWire => "pipewire",
            AudioKind::Pulse => "pulse",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioChange {
    /// `tgid` serves `socket` (a process serving two is reported for each).
    Up {
        tgid: u32,
        kind: AudioKind,
        socket: PathBuf,
    },
    /// `tgid` serves no socket any more.
    Gone { tgid: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioServer {
    pub tgid: u32,
    pub uid: u32,
    pub kind: AudioKind,
    pub socket: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nobody answers yet (bound but not listening), or its server exited:
    /// connect again on the next listen, or tick.
    Pending,
    /// The user's service manager listens; no child of it holds the socket
    /// yet.
    Activated {
        manager: u32,
    },
    Served {
        tgid: u32,
        manager: Option<u32>,
    },
    /// Another user's process answers: never counted.
    Foreign,
}

struct Socket {
    uid: u32,
    kind: AudioKind,
    /// The socket file's inode: a server that binds again makes a new one.
    ino: u64,
    state: State,
}

/// A directory as (device, inode): a runtime dir that gets a tmpfs mounted
/// over it after we began watching it is a different directory.
type DirId = (u64, u64);

/// A watched runtime dir, and its watched pulse/ dir.
struct UserDir {
    wd: WatchDescriptor,
    id: DirId,
    pulse: Option<(WatchDescriptor, DirId)>,
}

pub struct AudioWatch {
    inotify: Inotify,
    run_user: PathBuf,
    root: WatchDescriptor,
    users: BTreeMap<u32, UserDir>,
    /// Runtime dirs not (yet) their user's (logind makes the directory
    /// before it mounts the user's tmpfs on it), or of users not eligible.
    waiting: BTreeSet<u32>,
    sockets: BTreeMap<PathBuf, Socket>,
    eligible: Eligible,
    /// What changed since the last public call returned.
    changes: Vec<AudioChange>,
}

const DIR_EVENTS: WatchMask = WatchMask::CREATE
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::ONLYDIR);

const PROC: &str = "/proc";

impl AudioWatch {
    /// Watch `run_user` (normally /run/user) for users' runtime dirs.
    pub fn new(run_user: &Path) -> Result<Self> {
        let inotify = Inotify::init().context("creating an inotify instance")?;
        let root = inotify
            .watches()
            .add(run_user, DIR_EVENTS)
            .with_context(|| format!("watching {} for users' runtime dirs", run_user.display()))?;
        Ok(Self {
            inotify,
            run_user: run_user.to_path_buf(),
            root,
            users: BTreeMap::new(),
            waiting: BTreeSet::new(),
            sockets: BTreeMap::new(),
            eligible: Eligible::Sessions,
            changes: Vec::new(),
        })
    }

    /// The inotify fd, non-blocking, for the event loop's epoll set: when it
    /// is readable, call `handle_events`.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }

    /// Watch only the users `eligible` allows from now on (every user with
    /// a runtime dir until called), and look at what they have.
    pub fn set_eligible(&mut self, eligible: Eligible) -> Vec<AudioChange> {
        self.eligible = eligible;
        self.startup_scan()
    }

    /// The sockets there are now.
    pub fn startup_scan(&mut self) -> Vec<AudioChange> {
        self.sync();
        self.take()
    }

    /// Read every pending inotify event, and look again at what is there:
    /// the directories are few, and looking is a few stat() calls.
    pub fn handle_events(&mut self) -> Vec<AudioChange> {
        let mut buffer = [0u8; 4096];
        loop {
            let events = match self.inotify.read_events(&mut buffer) {
                Ok(events) => events,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    warn!("reading inotify events: {e}");
                    break;
                }
            };
            let mut any = false;
            for event in events {
                any = true;
                // Watches of user dirs that go need nothing here: the sync
                // finds such a dir gone or another (unmounted, replaced).
                if event.wd == self.root && event.mask.contains(EventMask::IGNORED) {
                    let dir = self.run_user.display();
                    warn!("{dir} is gone: no new audio servers will be seen");
                }
            }
            if !any {
                break;
            }
        }
        self.sync();
        self.take()
    }

    /// On the 1 s tick: runtime dirs that became their user's or were
    /// mounted over (nothing tells of a mount but its effect), and sockets
    /// bound but not listening, in case the listen hook is off. Costs
    /// stat() and connect(), never a /proc read.
    pub fn on_tick(&mut self) -> Vec<AudioChange> {
        let moved = |(uid, u): (&u32, &UserDir)| dir_id(&self.user_dir(*uid)) != Some(u.id);
        let allowed = |uid: &u32| self.eligible.allows(&self.run_user, *uid);
        if self.users.iter().any(moved) || self.waiting.iter().any(allowed) {
            self.sync();
        }
        self.on_listen()
    }

    /// A UNIX socket started listening somewhere: try the sockets that were
    /// bound and refused.
    pub fn on_listen(&mut self) -> Vec<AudioChange> {
        self.probe_where(|s| s.state == State::Pending);
        self.take()
    }

    /// A child of `ppid` exec'd: if `ppid` is the manager of a socket whose
    /// server is to come, this may be the server.
    pub fn on_exec(&mut self, ppid: u32) -> Vec<AudioChange> {
        self.probe_where(|s| s.state == State::Activated { manager: ppid });
        self.take()
    }

    /// `tgid` exited. The sockets it served (it died without removing them)
    /// wait for a new server.
    pub fn on_exit(&mut self, tgid: u32) -> Vec<AudioChange> {
        let mut served = false;
        for s in self.sockets.values_mut() {
            if let State::Served { tgid: t, manager } = s.state {
                if t == tgid {
                    served = true;
                    s.state =
                        manager.map_or(State::Pending, |manager| State::Activated { manager });
                }
            }
        }
        if served {
            self.changes.push(AudioChange::Gone { tgid });
        }
        self.take()
    }

    /// The service managers that listen for a socket's server: BPF must
    /// report their children's execs, which is how a server they start is
    /// seen.
    pub fn managers(&self) -> BTreeSet<u32> {
        let manager = |s: &Socket| match s.state {
            State::Activated { manager } => Some(manager),
            State::Served { manager, .. } => manager,
            _ => None,
        };
        self.sockets.values().filter_map(manager).collect()
    }

    pub fn servers(&self) -> Vec<AudioServer> {
        let server = |(path, s): (&PathBuf, &Socket)| match s.state {
            State::Served { tgid, .. } => Some(AudioServer {
                tgid,
                uid: s.uid,
                kind: s.kind,
                socket: path.clone(),
            }),
            _ => None,
        };
        self.sockets.iter().filter_map(server).collect()
    }

    fn take(&mut self) -> Vec<AudioChange> {
        std::mem::take(&mut self.changes)
    }

    fn user_dir(&self, uid: u32) -> PathBuf {
        self.run_user.join(uid.to_string())
    }

    /// Bring the watches and the sockets in line with the runtime dirs
    /// there are and with who is eligible.
    fn sync(&mut self) {
        let mut present: BTreeSet<u32> = fs::read_dir(&self.run_user)
            .map(|dir| {
                dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let stale: Vec<u32> = self
            .users
            .iter()
            .filter(|(uid, u)| {
                !present.contains(uid)
                    || !self.eligible.allows(&self.run_user, **uid)
                    || dir_id(&self.user_dir(**uid)) != Some(u.id)
            })
            .map(|(uid, _)| *uid)
            .collect();
        for uid in stale {
            self.drop_user(uid);
        }
        for &uid in &present {
            if !self.users.contains_key(&uid) && self.eligible.allows(&self.run_user, uid) {
                self.add_user(uid);
            }
        }
        present.retain(|uid| !self.users.contains_key(uid));
        self.waiting = present;
        for uid in self.users.keys().copied().collect::<Vec<_>>() {
            self.sync_user(uid);
        }
    }

    fn add_user(&mut self, uid: u32) {
        let dir = self.user_dir(uid);
        let Some(id) = dir_id(&dir) else {
            return;
        };
        // Watch first, then look (sync_user): whatever appears in between
        // is seen twice, never missed.
        let wd = match self.inotify.watches().add(&dir, DIR_EVENTS) {
            Ok(wd) => wd,
            Err(e) => return warn!("watching {}: {e}", dir.display()),
        };
        let pulse = None;
        self.users.insert(uid, UserDir { wd, id, pulse });
        debug!("watching {} for audio sockets", dir.display());
    }

    fn drop_user(&mut self, uid: u32) {
        let Some(user) = self.users.remove(&uid) else {
            return;
        };
        let wds = [Some(user.wd), user.pulse.map(|(wd, _)| wd)];
        for wd in wds.into_iter().flatten() {
            // The kernel has already dropped the watch of a directory that
            // is gone; that is not an error here.
            let _ = self.inotify.watches().remove(wd);
        }
        for path in self.paths_where(|s| s.uid == uid) {
            self.remove_socket(&path);
        }
    }

    /// Bring one user's sockets, and the watch on their pulse/ dir, in line
    /// with what is there.
    fn sync_user(&mut self, uid: u32) {
        let dir = self.user_dir(uid);
        self.sync_socket(dir.join("pipewire-0"), uid, AudioKind::PipeWire);
        let pulse = dir.join("pulse");
        let pulse_id = dir_id(&pulse);
        let Some(user) = self.users.get_mut(&uid) else {
            return;
        };
        if user.pulse.as_ref().map(|(_, id)| *id) != pulse_id {
            if let Some((wd, _)) = user.pulse.take() {
                let _ = self.inotify.watches().remove(wd);
            }
            if let Some(id) = pulse_id {
                match self.inotify.watches().add(&pulse, DIR_EVENTS) {
                    Ok(wd) => user.pulse = Some((wd, id)),
                    Err(e) => warn!("watching {}: {e}", pulse.display()),
                }
            }
        }
        self.sync_socket(pulse.join("native"), uid, AudioKind::Pulse);
    }

    /// Take the socket file at `path` as it is now: a new one is probed at
    /// once, one that changed replaces the old.
    fn sync_socket(&mut self, path: PathBuf, uid: u32, kind: AudioKind) {
        let ino = fs::symlink_metadata(&path)
            .ok()
            .filter(|m| m.file_type().is_socket())
            .map(|m| m.ino());
        if ino.is_some() && self.sockets.get(&path).map(|s| s.ino) == ino {
            return;
        }
        self.remove_socket(&path);
        if let Some(ino) = ino {
            let state = State::Pending;
            let socket = Socket {
                uid,
                kind,
                ino,
                state,
            };
            self.sockets.insert(path.clone(), socket);
            self.probe(&path);
        }
    }

    fn remove_socket(&mut self, path: &Path) {
        let Some(State::Served { tgid, .. }) = self.sockets.remove(path).map(|s| s.state) else {
            return;
        };
        let serves = |s: &Socket| matches!(s.state, State::Served { tgid: t, .. } if t == tgid);
        if !self.sockets.values().any(serves) {
            self.changes.push(AudioChange::Gone { tgid });
        }
    }

    fn paths_where(&self, pick: impl Fn(&Socket) -> bool) -> Vec<PathBuf> {
        let picked = self.sockets.iter().filter(|(_, s)| pick(s));
        picked.map(|(p, _)| p.clone()).collect()
    }

    fn probe_where(&mut self, pick: impl Fn(&Socket) -> bool) {
        for path in self.paths_where(pick) {
            self.probe(&path);
        }
    }

    /// Find who serves the socket at `path`, if it is waiting for that.
    fn probe(&mut self, path: &Path) {
        let Some(s) = self.sockets.get_mut(path) else {
            return;
        };
        let proc = Path::new(PROC);
        let found = match s.state {
            State::Pending => match peer_of(path) {
                Ok((pid, peer_uid)) if peer_uid != s.uid => {
                    warn!(
                        "{}: answered by pid {pid} of uid {peer_uid}, not by its owner {}; ignored",
                        path.display(),
                        s.uid
                    );
                    s.state = State::Foreign;
                    None
                }
                Ok((pid, _)) if is_service_manager(proc, pid) => {
                    s.state = State::Activated { manager: pid };
                    activated_server(proc, pid, path, s.uid).map(|t| (t, Some(pid)))
                }
                Ok((pid, _)) => Some((pid, None)),
                Err(e) => {
                    debug!("{}: no server yet ({e})", path.display());
                    None
                }
            },
            State::Activated { manager } => {
                activated_server(proc, manager, path, s.uid).map(|t| (t, Some(manager)))
            }
            State::Served { .. } | State::Foreign => None,
        };
        if let Some((tgid, manager)) = found {
            s.state = State::Served { tgid, manager };
            self.changes.push(AudioChange::Up {
                tgid,
                kind: s.kind,
                socket: path.to_path_buf(),
            });
        }
    }
}

/// The directory at `path` as (device, inode); None if it is no directory.
fn dir_id(path: &Path) -> Option<DirId> {
    let m = fs::symlink_metadata(path).ok().filter(|m| m.is_dir())?;
    Some((m.dev(), m.ino()))
}
