// SPDX-License-Identifier: GPL-2.0-only
//
// Whose processes can be picked as games and audio servers: the user of
// seat0's active session, as systemd-logind writes it to
// /run/systemd/seats/seat0 (ACTIVE_UID=), read without D-Bus and followed
// with inotify. Without logind (no /run/systemd/seats at start), every user
// with a runtime dir of their own. docs/security.md explains the choice.

use std::fs;
use std::io;
use std::path::Path;

use crossbeam_channel::Receiver;
use inotify::{EventMask, Inotify, WatchMask};
use log::{info, warn};

use super::in_user_session;
use crate::bpf_intf as intf;

/// Where systemd-logind keeps one file per seat.
pub const SEATS_DIR: &str = "/run/systemd/seats";
const SEAT0: &str = "seat0";

/// Who gets game and audio-server detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eligible {
    /// logind runs: only the user of seat0's active session (None while the
    /// seat has no active session).
    Seat(Option<u32>),
    /// No logind: every user whose runtime dir is their own.
    Sessions,
}

impl Eligible {
    /// Whether `uid`'s processes may be picked. The runtime dir is required
    /// either way: audio sockets are looked for there.
    pub fn allows(&self, run_user: &Path, uid: u32) -> bool {
        in_user_session(run_user, uid)
            && match self {
                Eligible::Seat(active) => *active == Some(uid),
                Eligible::Sessions => true,
            }
    }

    /// Why a process of a user this does not allow is not picked.
    pub fn refusal(&self) -> &'static str {
        match self {
            Eligible::Seat(_) => "owner is not the seat's active user",
            Eligible::Sessions => "owner has no user session",
        }
    }

    /// Whose processes are picked, in words.
    pub fn describe(&self) -> String {
        match self {
            Eligible::Seat(Some(uid)) => format!("uid {uid}, the seat's active user"),
            Eligible::Seat(None) => "the seat's active user (none now)".into(),
            Eligible::Sessions => "a logged-in user".into(),
        }
    }

    /// The keys of BPF's proc_uids map: the users whose candidate execs
    /// and socket listens BPF reports.
    pub fn bpf_uids(&self) -> Vec<u32> {
        match self {
            Eligible::Seat(active) => active.iter().copied().collect(),
            Eligible::Sessions => vec![intf::gamer_consts_GAMER_UID_ANY],
        }
    }
}

/// The active user in a logind seat file: `ACTIVE_UID=` when there is an
/// active session (`ACTIVE=` names it).
pub fn parse_seat(text: &str) -> Option<u32> {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    field("ACTIVE")?;
    field("ACTIVE_UID")?.parse().ok()
}

/// What `seats_dir` says now: a missing or unreadable seat0 file is a seat
/// with nobody active.
pub fn read_seat(seats_dir: &Path) -> Eligible {
    let text = fs::read_to_string(seats_dir.join(SEAT0));
    Eligible::Seat(text.ok().and_then(|t| parse_seat(&t)))
}

/// Who is eligible now, read once.
pub fn current(seats_dir: &Path) -> Eligible {
    if seats_dir.is_dir() {
        read_seat(seats_dir)
    } else {
        Eligible::Sessions
    }
}

/// Who is eligible now, and a channel that says when that changes (None
/// when it cannot: without logind it never does), fed by a thread that
/// blocks on an inotify watch of `seats_dir`. Logged once.
pub fn follow(seats_dir: &Path, run_user: &Path) -> (Eligible, Option<Receiver<Eligible>>) {
    if !seats_dir.is_dir() {
        let (seats, run_user) = (seats_dir.display(), run_user.display());
        info!("no logind seats at {seats}: game and audio detection for every user with a runtime dir in {run_user}");
        return (Eligible::Sessions, None);
    }
    // logind writes a seat file to a temporary name and renames it.
    let events = WatchMask::CLOSE_WRITE
        | WatchMask::MOVED_TO
        | WatchMask::CREATE
        | WatchMask::DELETE
        | WatchMask::MOVED_FROM
        | WatchMask::ONLYDIR;
    let watch = Inotify::init().and_then(|i| i.watches().add(seats_dir, events).map(|_| i));
    let mut inotify = match watch {
        Ok(i) => i,
        Err(e) => {
            let dir = seats_dir.display();
            warn!("watching {dir}: {e}: nobody gets game or audio detection");
            return (Eligible::Seat(None), None);
        }
    };
    let mut now = read_seat(seats_dir);
    info!(
        "game and audio detection for {} (logind's seat0, followed)",
        now.describe()
    );
    let (tx, rx) = crossbeam_channel::bounded(4);
    let (dir, first) = (seats_dir.to_path_buf(), now.clone());
    let serve = move || {
        let mut buffer = [0u8; 4096];
        loop {
            let gone = match inotify.read_events_blocking(&mut buffer) {
                Ok(mut events) => events.any(|e| e.mask.contains(EventMask::IGNORED)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
                Err(e) => {
                    warn!("reading inotify events of {}: {e}", dir.display());
                    true
                }
            };
            let next = if gone {
                Eligible::Seat(None)
            } else {
                read_seat(&dir)
            };
            if next != now && tx.send(next.clone()).is_err() {
                return;
            }
            now = next;
            if gone {
                let dir = dir.display();
                return warn!("{dir} is gone: nobody gets game or audio detection from now on");
            }
        }
    };
    match std::thread::Builder::new().name("seat".into()).spawn(serve) {
        Ok(_) => (first, Some(rx)),
        Err(e) => {
            warn!("starting the seat thread: {e}; the seat is not followed");
            (first, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_files_name_the_active_user_only_with_an_active_session() {
        let seat = "# This is private data. Do not parse.\nIS_SEAT0=1\n\
            CAN_MULTI_SESSION=1\nACTIVE=3\nACTIVE_UID=1000\nSESSIONS=3 c1\nUIDS=1000 1001\n";
        assert_eq!(parse_seat(seat), Some(1000));
        assert_eq!(
            parse_seat("IS_SEAT0=1\nACTIVE_UID=1000\n"),
            None,
            "no ACTIVE="
        );
        assert_eq!(parse_seat("ACTIVE=c1\nACTIVE_UID=\n"), None);
        assert_eq!(parse_seat("ACTIVE=c1\nACTIVE_UID=x\n"), None);
        assert_eq!(parse_seat("IS_SEAT0=1\n"), None);
    }

    #[test]
    fn only_the_seat_user_with_a_runtime_dir_is_allowed() {
        let run_user = tempfile::tempdir().unwrap();
        let me = nix::unistd::geteuid().as_raw();
        std::fs::create_dir(run_user.path().join(me.to_string())).unwrap();
        let other = me.wrapping_add(1);
        assert!(Eligible::Seat(Some(me)).allows(run_user.path(), me));
        assert!(!Eligible::Seat(None).allows(run_user.path(), me));
        assert!(!Eligible::Seat(Some(other)).allows(run_user.path(), me));
        assert!(Eligible::Sessions.allows(run_user.path(), me));
        assert!(!Eligible::Sessions.allows(run_user.path(), other), "no dir");
        assert!(!Eligible::Seat(Some(other)).allows(run_user.path(), other));
        assert_eq!(Eligible::Seat(None).bpf_uids(), Vec::<u32>::new());
        assert_eq!(Eligible::Seat(Some(7)).bpf_uids(), vec![7]);
    }

    #[test]
    fn a_missing_seats_dir_means_no_logind() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("seats");
        let (now, rx) = follow(&missing, dir.path());
        assert_eq!(now, Eligible::Sessions);
        assert!(rx.is_none());
    }

    #[test]
    fn the_seat_is_followed_through_renames() {
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| {
            let tmp = dir.path().join(".seat0.tmp");
            fs::write(&tmp, text).unwrap();
            fs::rename(&tmp, dir.path().join(SEAT0)).unwrap();
        };
        write("ACTIVE=1\nACTIVE_UID=1000\n");
        let (now, rx) = follow(dir.path(), dir.path());
        assert_eq!(now, Eligible::Seat(Some(1000)));
        let rx = rx.unwrap();
        write("ACTIVE=2\nACTIVE_UID=1001\n");
        let next = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        assert_eq!(next, Eligible::Seat(Some(1001)));
        fs::remove_file(dir.path().join(SEAT0)).unwrap();
        let next = rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        assert_eq!(next, Eligible::Seat(None));
    }
}
