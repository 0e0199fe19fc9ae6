// SPDX-License-Identifier: GPL-2.0-only
//
// The audio servers: found from their sockets in each logged-in user's
// runtime dir (`<uid>/pipewire-0`, `<uid>/pulse/native`), which inotify can
// watch (unlike /proc). This file watches the directories and says which
// socket files exist; audio_sockets.rs maps each to the process serving it
// (SO_PEERCRED). Two cases need more than one connect:
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

use super::audio_sockets::Sockets;
pub use super::audio_sockets::{AudioChange, AudioKind, AudioServer};
use super::seat::Eligible;

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

pub struct AudioWatch {
    inotify: Inotify,
    run_user: PathBuf,
    dirs: HashMap<WatchDescriptor, Dir>,
    users: BTreeMap<u32, UserDir>,
    /// Runtime dirs that exist but are not (yet) their user's (logind makes
    /// the directory before it mounts the user's tmpfs on it), or whose
    /// user is not eligible.
    waiting: BTreeSet<u32>,
    sockets: Sockets,
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
            dirs: HashMap::from([(wd, Dir::Root)]),
            users: BTreeMap::new(),
            waiting: BTreeSet::new(),
            sockets: Sockets::new(PathBuf::from("/proc")),
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
        self.sockets.probe_pending(&mut changes);
        changes
    }

    /// A UNIX socket started listening somewhere: try the sockets that were
    /// bound and refused.
    pub fn on_listen(&mut self) -> Vec<AudioChange> {
        let mut changes = Vec::new();
        self.sockets.probe_pending(&mut changes);
        changes
    }

    /// A child of `ppid` exec'd: if `ppid` is the manager of a socket whose
    /// server is to come, this may be the server.
    pub fn on_exec(&mut self, ppid: u32) -> Vec<AudioChange> {
        let mut changes = Vec::new();
        self.sockets.on_exec(ppid, &mut changes);
        changes
    }

    /// The service managers that listen for a socket's server: BPF must
    /// report their children's execs, which is how a server they start is
    /// seen.
    pub fn managers(&self) -> BTreeSet<u32> {
        self.sockets.managers()
    }

    /// `tgid` exited. If it served a socket that is still there (it died
    /// without removing it), it is gone; the socket waits for a new server.
    pub fn on_exit(&mut self, tgid: u32) -> Vec<AudioChange> {
        self.sockets.on_exit(tgid)
    }

    pub fn servers(&self) -> Vec<AudioServer> {
        self.sockets.servers()
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
        let users = &self.users;
        self.sockets
            .retain_users(|uid| users.contains_key(&uid), changes);
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
        self.sockets.retain_users(|u| u != uid, changes);
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
        self.sockets.sync(path, uid, kind, ino, changes);
    }
}

fn dir_id(path: &Path) -> io::Result<DirId> {
    let m = fs::symlink_metadata(path)?;
    Ok((m.dev(), m.ino()))
}
