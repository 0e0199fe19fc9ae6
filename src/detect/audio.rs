// SPDX-License-Identifier: GPL-2.0-only
//
// The audio servers: found from their sockets in each logged-in user's
// runtime dir (`<uid>/pipewire-0`, `<uid>/pulse/native`), which inotify can
// watch (unlike /proc). A socket is mapped to the process serving it with
// SO_PEERCRED, which names the process that called listen(). Two cases need
// more than one connect:
// - the socket file appears at bind(), before listen(): a refused connect is
//   tried again on the event loop's timer tick;
// - with systemd socket activation the user's service manager calls
//   listen(), and the server is the child of it that holds the listening
//   socket (found through /proc/net/unix and the child's fds). Such a socket
//   is connected to only once: connecting starts the server, and a server
//   the user stopped must stay stopped.
// The peer must be the user owning the runtime dir (the ownership rule).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};
use log::{debug, warn};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, UnixAddr};

use super::in_user_session;
use super::procinfo::read_process;

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

/// The Linux flag of a listening socket in /proc/net/unix (__SO_ACCEPTCON).
const ACCEPTCON: u32 = 0x10000;

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
    /// connect again on the next tick.
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
    /// Runtime dirs that exist but are not (yet) their user's: logind makes
    /// the directory before it mounts the user's tmpfs on it.
    waiting: BTreeSet<u32>,
    sockets: BTreeMap<PathBuf, Socket>,
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
        })
    }

    /// The inotify fd, non-blocking, for the event loop's epoll set: when it
    /// is readable, call `handle_events`.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
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

    /// On the event loop's timer tick: runtime dirs that became their user's
    /// or were mounted over, sockets whose server was not listening yet, and
    /// socket-activated servers not started yet.
    pub fn retry_pending(&mut self) -> Vec<AudioChange> {
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
            if in_user_session(&self.run_user, uid) {
                self.add_user(uid, &mut changes);
            }
        }
        for path in
            self.sockets_where(|s| matches!(s.state, State::Pending | State::Activated { .. }))
        {
            self.probe(&path, &mut changes);
        }
        changes
    }

    /// Whether `retry_pending` has anything to try: a socket without a
    /// server yet, or a user dir not yet usable.
    pub fn has_pending(&self) -> bool {
        !self.waiting.is_empty()
            || self
                .sockets
                .values()
                .any(|s| matches!(s.state, State::Pending | State::Activated { .. }))
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
                    || !in_user_session(&self.run_user, **uid)
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
            if in_user_session(&self.run_user, uid) {
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

/// The pid and uid of the process that listens on the socket at `path`:
/// connect, SO_PEERCRED, close. Never blocks: a full backlog is an error
/// like a refusal, and is tried again later.
fn peer_of(path: &Path) -> nix::Result<(u32, u32)> {
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    socket::connect(fd.as_raw_fd(), &UnixAddr::new(path)?)?;
    let cred = socket::getsockopt(&fd, sockopt::PeerCredentials)?;
    Ok((cred.pid() as u32, cred.uid()))
}

/// Whether `pid` is a systemd instance (the user's service manager, or PID 1
/// for a system-wide server): then it listens for a server it starts.
fn is_service_manager(proc_root: &Path, pid: u32) -> bool {
    fs::read_link(proc_root.join(pid.to_string()).join("exe"))
        .is_ok_and(|exe| exe.file_name().is_some_and(|n| n == "systemd"))
}

/// The socket inodes listening at `path`, from /proc/net/unix.
fn listening_inodes(net_unix: &str, path: &Path) -> Vec<u64> {
    let Some(path) = path.to_str() else {
        return Vec::new();
    };
    net_unix
        .lines()
        .skip(1)
        .filter_map(|line| {
            // Num RefCount Protocol Flags Type St Inode Path
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = u32::from_str_radix(fields.get(3)?, 16).ok()?;
            let inode = fields.get(6)?.parse().ok()?;
            (flags & ACCEPTCON != 0 && fields.get(7..)?.join(" ") == path).then_some(inode)
        })
        .collect()
}

/// The child of the service manager `manager` that holds the listening
/// socket at `path`: the server systemd started for it.
fn activated_server(proc_root: &Path, manager: u32, path: &Path, uid: u32) -> Option<u32> {
    let net_unix = fs::read_to_string(proc_root.join("net/unix")).ok()?;
    let inodes = listening_inodes(&net_unix, path);
    if inodes.is_empty() {
        return None;
    }
    let links: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let m = manager.to_string();
    let children =
        fs::read_to_string(proc_root.join(&m).join("task").join(&m).join("children")).ok()?;
    children
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .find(|&child| {
            let Some(p) = read_process(proc_root, child) else {
                return false;
            };
            // A child systemd is still setting up has all its fds, the
            // listening socket among them; it is the server only once it
            // has exec'd it.
            let setting_up = p.comm.starts_with('(')
                || matches!(p.exe_name(), Some("systemd" | "systemd-executor"));
            p.uid == uid && !setting_up && holds_any(proc_root, child, &links)
        })
}

fn holds_any(proc_root: &Path, pid: u32, links: &[String]) -> bool {
    let Ok(fds) = fs::read_dir(proc_root.join(pid.to_string()).join("fd")) else {
        return false;
    };
    fds.filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
        .any(|target| links.iter().any(|l| target.as_os_str() == l.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_read_from_proc_net_unix() {
        let table = "Num       RefCount Protocol Flags    Type St Inode Path\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 31337 /run/user/1000/pipewire-0\n\
            0000000000000000: 00000003 00000000 00000000 0001 03 31338 /run/user/1000/pipewire-0\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 4242 /run/user/1000/pulse/native\n\
            0000000000000000: 00000002 00000000 00000000 0002 01 99\n";
        assert_eq!(
            listening_inodes(table, Path::new("/run/user/1000/pipewire-0")),
            vec![31337],
            "an accepted connection shows the path too, but does not listen"
        );
        assert_eq!(
            listening_inodes(table, Path::new("/run/user/1000/pulse/native")),
            vec![4242]
        );
        assert!(listening_inodes(table, Path::new("/run/user/1001/pipewire-0")).is_empty());
    }
}
