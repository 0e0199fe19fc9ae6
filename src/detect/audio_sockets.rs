// SPDX-License-Identifier: GPL-2.0-only
//
// The audio sockets audio.rs has found, and who serves each. A socket is
// mapped to the process serving it with SO_PEERCRED, which names the process
// that called listen(); under systemd socket activation that is the user's
// service manager, and the server is its child holding the listening socket
// (activation.rs). Nothing here watches a directory: audio.rs says which
// sockets exist, and this file keeps each one's state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use log::{debug, warn};

use super::activation::{activated_server, is_service_manager, peer_of};

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

/// Every audio socket known, by path.
pub(super) struct Sockets {
    proc_root: PathBuf,
    by_path: BTreeMap<PathBuf, Socket>,
}

impl Sockets {
    pub(super) fn new(proc_root: PathBuf) -> Self {
        Self {
            proc_root,
            by_path: BTreeMap::new(),
        }
    }

    /// The socket file at `path` is now `ino` (None: no socket there). A new
    /// one is probed at once; one that changed replaces the old.
    pub(super) fn sync(
        &mut self,
        path: PathBuf,
        uid: u32,
        kind: AudioKind,
        ino: Option<u64>,
        changes: &mut Vec<AudioChange>,
    ) {
        let known = self.by_path.get(&path).map(|s| s.ino);
        if known.is_some() && known == ino {
            return;
        }
        self.remove(&path, changes);
        if let Some(ino) = ino {
            let state = State::Pending;
            self.by_path.insert(
                path.clone(),
                Socket {
                    uid,
                    kind,
                    ino,
                    state,
                },
            );
            self.probe(&path, changes);
        }
    }

    /// Forget the sockets of every user `keep` does not hold.
    pub(super) fn retain_users(
        &mut self,
        keep: impl Fn(u32) -> bool,
        changes: &mut Vec<AudioChange>,
    ) {
        for path in self.paths_where(|s| !keep(s.uid)) {
            self.remove(&path, changes);
        }
    }

    /// Try the sockets that were bound and refused.
    pub(super) fn probe_pending(&mut self, changes: &mut Vec<AudioChange>) {
        for path in self.paths_where(|s| s.state == State::Pending) {
            self.probe(&path, changes);
        }
    }

    /// A child of `ppid` exec'd: if `ppid` is the manager of a socket whose
    /// server is to come, this may be the server.
    pub(super) fn on_exec(&mut self, ppid: u32, changes: &mut Vec<AudioChange>) {
        for path in self.paths_where(|s| s.state == State::Activated { manager: ppid }) {
            self.probe(&path, changes);
        }
    }

    pub(super) fn managers(&self) -> BTreeSet<u32> {
        self.by_path
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

    /// `tgid` exited: the sockets it served wait for a new server.
    pub(super) fn on_exit(&mut self, tgid: u32) -> Vec<AudioChange> {
        let mut served = false;
        for s in self.by_path.values_mut() {
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

    pub(super) fn servers(&self) -> Vec<AudioServer> {
        self.by_path
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

    fn remove(&mut self, path: &Path, changes: &mut Vec<AudioChange>) {
        let Some(s) = self.by_path.remove(path) else {
            return;
        };
        if let State::Served { tgid, .. } = s.state {
            if !self.serves(tgid) {
                changes.push(AudioChange::Gone { tgid });
            }
        }
    }

    /// The paths of the sockets for which `pick` holds.
    fn paths_where(&self, pick: impl Fn(&Socket) -> bool) -> Vec<PathBuf> {
        self.by_path
            .iter()
            .filter(|(_, s)| pick(s))
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn serves(&self, tgid: u32) -> bool {
        self.by_path
            .values()
            .any(|s| matches!(s.state, State::Served { tgid: t, .. } if t == tgid))
    }

    /// Find who serves the socket at `path`, if it is waiting for that.
    fn probe(&mut self, path: &Path, changes: &mut Vec<AudioChange>) {
        let Some(s) = self.by_path.get(path) else {
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
        if let Some(s) = self.by_path.get_mut(path) {
            s.state = state;
        }
    }
}
