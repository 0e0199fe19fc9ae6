// SPDX-License-Identifier: GPL-2.0-only
//
// The audio servers: found from their sockets in each logged-in user's
// runtime dir (`<uid>/pipewire-0`, `<uid>/pulse/native`), which inotify can
// watch (unlike /proc). A socket is mapped to the process serving it with
// SO_PEERCRED, which names the process that called listen(). Two cases need
// more than one connect:
// - the socket file appears at bind(), before listen(): a refused connect is
//   tried again when BPF reports a UNIX socket listening (and on the 1 s
//   tick, in case that hook is off);
// - with systemd socket activation the user's service manager calls
//   listen(), and the server is the child of it that holds the listening
//   socket (src/detect/activation.rs). It is looked for when BPF reports an
//   exec by a child of that manager, never on a timer. Such a socket is
//   connected to only once: connecting starts the server, and a server the
//   user stopped must stay stopped.
// Only the users `Eligible` allows are watched (src/detect/seat.rs); the
// peer must be the user owning the runtime dir.

use std::collections::{BTreeMap, BTreeSet, HashMap};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    /// `tgid` serves `socket`. A process serving two sockets is reported
    /// for each.
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

const PIPEWIRE_SOCKET: &str = "pipewire-0";
const PULSE_DIR: &str = "pulse";
const PULSE_SOCKET: &str = "native";

#[derive(Debug, Clone, Copy)]
enum Dir {
    Root,
    User(u32),
    Pulse(u32),
}

/// A directory as (device, inode): a runtime dir that gets a tmpfs mounted
/// over it after we began watching it is a different directory.
type DirId = (u64, u64);

struct UserDir {
    wd: WatchDescriptor,
    id: DirId,
    pulse: Option<(WatchDescriptor, DirId)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nobody answers yet (bound but not listening), or its server exited:
    /// connect again on the next listen, or tick.
    Pending,
    /// The user's service manager listens (socket activation); the server
    /// is its child holding the socket, and none does yet.
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

pub struct AudioWatch {
    inotify: Inotify,
    run_user: PathBuf,
    proc_root: PathBuf,
    dirs: HashMap<WatchDescriptor, Dir>,
    users: BTreeMap<u32, UserDir>,
    /// Runtime dirs that exist but are not (yet) their user's (logind makes
    /// the directory before it mounts the user's tmpfs on it), or whose
    /// user is not eligible.
    waiting: BTreeSet<u32>,
    sockets: BTreeMap<PathBuf, Socket>,
    eligible: Eligible,
}

const DIR_EVENTS: WatchMask = WatchMask::CREATE
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::ONLYDIR);

impl AudioWatch {
    /// Watch `run_user` (normally /run/user) for users' runtime dirs.
    pub fn new(run_user: &Path) -> Result<Self> {
        let inotify = Inotify::init().context("creating an inotify instance")?;
        let wd = inotify
            .watches()
            .add(run_user, DIR_EVENTS)
            .with_context(|| format!("watching {} for users' runtime dirs", run_user.display()))?;
        Ok(Self {
            inotify,
            run_user: run_user.to_path_buf(),
            proc_root: PathBuf::from("/proc"),
            dirs: HashMap::from([(wd, Dir::Root)]),
            users: BTreeMap::new(),
            waiting: BTreeSet::new(),
            sockets: BTreeMap::new(),
            eligible: Eligible::Sessions,
        })
    }

    /// The inotify fd, non-blocking, for the event loop's epoll set: when it
    /// is readable, call `handle_events`.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }

    /// Watch only the users `eligible` allows from now on (every user with
    /// a runtime dir until called).
    pub fn set_eligible(&mut self, eligible: Eligible) -> Vec<AudioChange> {
        self.eligible = eligible;
        let mut changes = Vec::new();
        self.sync_root(&mut changes);
        changes
    }

    fn allows(&self, uid: u32) -> bool {
        self.eligible.allows(&self.run_user, uid)
    }

    /// The sockets there are now, once at start.
    pub fn startup_scan(&mut self) -> Vec<AudioChange> {
        let mut changes = Vec::new();
        self.sync_root(&mut changes);
        changes
    }

    /// Read every pending inotify event and act on it.
    pub fn handle_events(&mut self) -> Vec<AudioChange> {
        let mut root = false;
        let mut users = BTreeSet::new();
        let mut overflow = false;
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
                if event.mask.contains(EventMask::Q_OVERFLOW) {
                    overflow = true;
                    continue;
                }
                let Some(&dir) = self.dirs.get(&event.wd) else {
                    continue;
                };
                if event.mask.contains(EventMask::IGNORED) {
                    // The directory is gone or unmounted: its watch with it.
                    self.dirs.remove(&event.wd);
                    match dir {
                        Dir::Root => warn!(
                            "{} is gone: no new audio servers will be seen",
                            self.run_user.display()
                        ),
                        Dir::User(uid) => {
                            if self.users.get(&uid).is_some_and(|u| u.wd == event.wd) {
                                if let Some((pulse, _)) =
                                    self.users.remove(&uid).and_then(|u| u.pulse)
                                {
                                    self.dirs.remove(&pulse);
                                }
                                root = true;
                            }
                        }
                        Dir::Pulse(uid) => {
                            if let Some(u) = self.users.get_mut(&uid) {
                                if u.pulse.as_ref().is_some_and(|(wd, _)| *wd == event.wd) {
                                    u.pulse = None;
                                }
                            }
                            users.insert(uid);
                        }
                    }
                    continue;
                }
                match dir {
                    Dir::Root => root = true,
                    Dir::User(uid) | Dir::Pulse(uid) => {
                        users.insert(uid);
                    }
                }
            }
            if !any {
                break;
            }
        }
        if overflow {
            // Events were lost: look at everything again.
            root = true;
            users.extend(self.users.keys().copied());
        }

        let mut changes = Vec::new();
        if root {
            self.sync_root(&mut changes);
        }
        for uid in users {
            if self.users.contains_key(&uid) {
                self.sync_user(uid, &mut changes);
            }
        }
        changes
    }

    /// On the 1 s tick: runtime dirs that became their user's or were
    /// mounted over (nothing tells of a mount but its effect), and sockets
    /// bound but not listening, in case the listen hook is off. Costs
    /// stat() and connect(), never a /proc read.
    pub fn on_tick(&mut self) -> Vec<AudioChange> {
        let mut changes = Vec::new();
        let moved: Vec<u32> = self
            .users
            .iter()
            .filter(|(uid, u)| dir_id(&self.user_dir(**uid)).ok() != Some(u.id))
            .map(|(uid, _)| *uid)
            .collect();
        for uid in moved {
            self.drop_user(uid, &mut changes);
            self.waiting.insert(uid);
        }
        for uid in self.waiting.clone() {
            if self.allows(uid) {
                self.add_user(uid, &mut changes);
            }
        }
        self.on_listen_into(&mut changes);
        changes
    }

    /// A UNIX socket started listening somewhere: try the sockets that were
    /// bound and refused.
    pub fn on_listen(&mut self) -> Vec<AudioChange> {
        let mut changes = Vec::new();
        self.on_listen_into(&mut changes);
        changes
    }

    fn on_listen_into(&mut self, changes: &mut Vec<AudioChange>) {
        for path in self.sockets_where(|s| s.state == State::Pending) {
            self.probe(&path, changes);
        }
    }

    /// A child of `ppid` exec'd: if `ppid` is the manager of a socket whose
    /// server is to come, this may be the server.
    pub fn on_exec(&mut self, ppid: u32) -> Vec<AudioChange> {
        let mut changes = Vec::new();
        let waiting = self.sockets_where(|s| s.state == State::Activated { manager: ppid });
        for path in waiting {
            self.probe(&path, &mut changes);
        }
        changes
    }

    /// The service managers that listen for a socket's server: BPF must
    /// report their children's execs, which is how a server they start is
    /// seen.
    pub fn managers(&self) -> BTreeSet<u32> {
        self.sockets
            .values()
            .filter_map(|s| match s.state {
                State::Activated { manager }
                | State::Served {
                    manager: Some(manager),
                    ..
                } => Some(manager),
                _ => None,
            })
            .collect()
    }

    /// `tgid` exited. If it served a socket that is still there (it died
    /// without removing it), it is gone; the socket waits for a new server.
    pub fn on_exit(&mut self, tgid: u32) -> Vec<AudioChange> {
        let mut served = false;
        for s in self.sockets.values_mut() {
            if let State::Served { tgid: t, manager } = s.state {
                if t == tgid {
                    served = true;
                    s.state = match manager {
                        Some(manager) => State::Activated { manager },
                        None => State::Pending,
                    };
                }
            }
        }
        if served {
            vec![AudioChange::Gone { tgid }]
        } else {
            Vec::new()
        }
    }

    pub fn servers(&self) -> Vec<AudioServer> {
        self.sockets
            .iter()
            .filter_map(|(path, s)| match s.state {
                State::Served { tgid, .. } => Some(AudioServer {
                    tgid,
                    uid: s.uid,
                    kind: s.kind,
                    socket: path.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    fn user_dir(&self, uid: u32) -> PathBuf {
        self.run_user.join(uid.to_string())
    }

    /// Bring the users in line with the runtime dirs there are.
    fn sync_root(&mut self, changes: &mut Vec<AudioChange>) {
        let present: BTreeSet<u32> = fs::read_dir(&self.run_user)
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
                    || !self.allows(**uid)
                    || dir_id(&self.user_dir(**uid)).ok() != Some(u.id)
            })
            .map(|(uid, _)| *uid)
            .collect();
        for uid in stale {
            self.drop_user(uid, changes);
        }
        self.waiting.retain(|uid| present.contains(uid));
        for uid in present {
            if self.users.contains_key(&uid) {
                continue;
            }
            if self.allows(uid) {
                self.add_user(uid, changes);
            } else {
                self.waiting.insert(uid);
            }
        }
        // Sockets of users whose watch was lost with their directory.
        for path in self.sockets_where(|s| !self.users.contains_key(&s.uid)) {
            self.remove_socket(&path, changes);
        }
    }

    fn add_user(&mut self, uid: u32, changes: &mut Vec<AudioChange>) {
        let dir = self.user_dir(uid);
        let Ok(id) = dir_id(&dir) else {
            return;
        };
        // Watch first, then look: whatever appears in between is seen twice,
        // never missed.
        let wd = match self.inotify.watches().add(&dir, DIR_EVENTS) {
            Ok(wd) => wd,
            Err(e) => {
                warn!("watching {}: {e}", dir.display());
                return;
            }
        };
        self.waiting.remove(&uid);
        self.dirs.insert(wd.clone(), Dir::User(uid));
        self.users.insert(
            uid,
            UserDir {
                wd,
                id,
                pulse: None,
            },
        );
        debug!("watching {} for audio sockets", dir.display());
        self.sync_user(uid, changes);
    }

    fn drop_user(&mut self, uid: u32, changes: &mut Vec<AudioChange>) {
        let Some(user) = self.users.remove(&uid) else {
            return;
        };
        let mut wds = vec![user.wd];
        wds.extend(user.pulse.map(|(wd, _)| wd));
        for wd in wds {
            self.dirs.remove(&wd);
            // The kernel has already dropped the watch if the directory is
            // gone; that is not an error here.
            let _ = self.inotify.watches().remove(wd);
        }
        for path in self.sockets_where(|s| s.uid == uid) {
            self.remove_socket(&path, changes);
        }
    }

    /// Bring one user's sockets, and the watch on their pulse/ dir, in line
    /// with what is there.
    fn sync_user(&mut self, uid: u32, changes: &mut Vec<AudioChange>) {
        let dir = self.user_dir(uid);
        self.sync_socket(dir.join(PIPEWIRE_SOCKET), uid, AudioKind::PipeWire, changes);

        let pulse = dir.join(PULSE_DIR);
        let pulse_id = fs::symlink_metadata(&pulse)
            .ok()
            .filter(|m| m.is_dir())
            .map(|m| (m.dev(), m.ino()));
        let Some(user) = self.users.get_mut(&uid) else {
            return;
        };
        if user.pulse.as_ref().map(|(_, id)| *id) != pulse_id {
            if let Some((wd, _)) = user.pulse.take() {
                self.dirs.remove(&wd);
                let _ = self.inotify.watches().remove(wd);
            }
            if let Some(id) = pulse_id {
                match self.inotify.watches().add(&pulse, DIR_EVENTS) {
                    Ok(wd) => {
                        self.dirs.insert(wd.clone(), Dir::Pulse(uid));
                        user.pulse = Some((wd, id));
                    }
                    Err(e) => warn!("watching {}: {e}", pulse.display()),
                }
            }
        }
        self.sync_socket(pulse.join(PULSE_SOCKET), uid, AudioKind::Pulse, changes);
    }

    fn sync_socket(
        &mut self,
        path: PathBuf,
        uid: u32,
        kind: AudioKind,
        changes: &mut Vec<AudioChange>,
    ) {
        let ino = fs::symlink_metadata(&path)
            .ok()
            .filter(|m| m.file_type().is_socket())
            .map(|m| m.ino());
        let known = self.sockets.get(&path).map(|s| s.ino);
        if known.is_some() && known == ino {
            return;
        }
        self.remove_socket(&path, changes);
        if let Some(ino) = ino {
            self.sockets.insert(
                path.clone(),
                Socket {
                    uid,
                    kind,
                    ino,
                    state: State::Pending,
                },
            );
            self.probe(&path, changes);
        }
    }

    fn remove_socket(&mut self, path: &Path, changes: &mut Vec<AudioChange>) {
        let Some(s) = self.sockets.remove(path) else {
            return;
        };
        if let State::Served { tgid, .. } = s.state {
            if !self.serves(tgid) {
                changes.push(AudioChange::Gone { tgid });
            }
        }
    }

    /// The paths of the sockets for which `pick` holds.
    fn sockets_where(&self, pick: impl Fn(&Socket) -> bool) -> Vec<PathBuf> {
        self.sockets
            .iter()
            .filter(|(_, s)| pick(s))
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn serves(&self, tgid: u32) -> bool {
        self.sockets
            .values()
            .any(|s| matches!(s.state, State::Served { tgid: t, .. } if t == tgid))
    }

    /// Find who serves the socket at `path`, if it is waiting for that.
    fn probe(&mut self, path: &Path, changes: &mut Vec<AudioChange>) {
        let Some(s) = self.sockets.get(path) else {
            return;
        };
        let (uid, kind, state) = (s.uid, s.kind, s.state);
        let found = match state {
            State::Pending => match peer_of(path) {
                Ok((pid, peer_uid)) if peer_uid != uid => {
                    warn!(
                        "{}: answered by pid {pid} of uid {peer_uid}, not by its owner {uid}; ignored",
                        path.display()
                    );
                    self.set_state(path, State::Foreign);
                    None
                }
                Ok((pid, _)) if is_service_manager(&self.proc_root, pid) => {
                    self.set_state(path, State::Activated { manager: pid });
                    activated_server(&self.proc_root, pid, path, uid).map(|t| (t, Some(pid)))
                }
                Ok((pid, _)) => Some((pid, None)),
                Err(e) => {
                    debug!("{}: no server yet ({e})", path.display());
                    None
                }
            },
            State::Activated { manager } => {
                activated_server(&self.proc_root, manager, path, uid).map(|t| (t, Some(manager)))
            }
            State::Served { .. } | State::Foreign => None,
        };
        if let Some((tgid, manager)) = found {
            self.set_state(path, State::Served { tgid, manager });
            changes.push(AudioChange::Up {
                tgid,
                kind,
                socket: path.to_path_buf(),
            });
        }
    }

    fn set_state(&mut self, path: &Path, state: State) {
        if let Some(s) = self.sockets.get_mut(path) {
            s.state = state;
        }
    }
}

fn dir_id(path: &Path) -> io::Result<DirId> {
    let m = fs::symlink_metadata(path)?;
    Ok((m.dev(), m.ino()))
}
