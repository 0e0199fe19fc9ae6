// SPDX-License-Identifier: GPL-2.0-only
//
// `scx_gamer run -- COMMAND` (in Steam's launch options: `scx_gamer run --
// %command%`), and the socket the running scheduler answers it on. The
// wrapper connects, waits for the answer, then execs COMMAND in its own
// place; the scheduler marks the connecting process as the game (the
// `--game-pid` class) before answering, so the game and everything it starts
// are the game from their first instruction, even a native game launch
// detection would not recognise.
//
// Nothing is read from the connection, so a client cannot name another
// process, and a silent one costs the event loop nothing. The process marked
// is the peer SO_PEERCRED names, if its real uid is still the peer's (the
// pid may have been reused). Only the users launch detection picks games for
// may mark one (src/detect/seat.rs, the seat file read at each connection),
// and root, which names games with `--game-pid` anyway; anyone else is told
// why, and the wrapper starts the game unmarked.

use std::ffi::OsString;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use crate::detect::procinfo::read_names;
use crate::detect::seat::{self, Eligible};
use crate::detect::RUN_USER;

/// Where the running scheduler listens for the wrapper.
pub const DEFAULT_LAUNCH_SOCKET: &str = "/run/scx_gamer/launch";
/// How long the wrapper waits for the scheduler's answer before it starts
/// the game anyway.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// Ask the running scheduler to mark this process as the game, then become
/// COMMAND. Returns only when COMMAND cannot be started.
pub fn run_wrapped(socket: &Path, command: &[OsString]) -> ExitCode {
    let name = command[0].to_string_lossy().into_owned();
    if let Err(why) = ask_to_be_marked(socket) {
        eprintln!("scx_gamer run: {why}; starting {name} without the game class");
    }
    let err = Command::new(&command[0]).args(&command[1..]).exec();
    eprintln!("scx_gamer run: cannot start {name}: {err}");
    // What a shell returns for a command it cannot run (126) or find (127).
    ExitCode::from(126 + u8::from(err.kind() == ErrorKind::NotFound))
}

fn ask_to_be_marked(socket: &Path) -> Result<(), String> {
    let path = socket.display();
    let mut stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
        ErrorKind::NotFound | ErrorKind::ConnectionRefused => {
            format!("no scx_gamer scheduler is running ({path} is not served)")
        }
        _ => format!("cannot reach the scheduler at {path}: {e}"),
    })?;
    stream
        .set_read_timeout(Some(ANSWER_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("no answer from the scheduler: {e}"))?;
    match answer.trim_end() {
        "ok" => Ok(()),
        "" => Err("the scheduler closed the connection without an answer".into()),
        refusal => Err(format!("the scheduler refused: {refusal}")),
    }
}

/// Who may mark a game through the socket.
struct Markers {
    /// logind's seats dir, when it existed at bind: whether logind runs is
    /// decided once, as for launch detection.
    seats: Option<PathBuf>,
    run_user: PathBuf,
}

impl Markers {
    /// Ok when `uid` may mark its own process as the game; the refusal the
    /// wrapper prints otherwise.
    fn check(&self, uid: u32) -> Result<()> {
        let eligible = self
            .seats
            .as_deref()
            .map_or(Eligible::Sessions, seat::read_seat);
        if uid == 0 || eligible.allows(&self.run_user, uid) {
            return Ok(());
        }
        let why = match eligible {
            Eligible::Seat(Some(active)) if active != uid => {
                format!("uid {uid} is not the seat's active user (uid {active} is)")
            }
            Eligible::Seat(None) => "the seat has no active session".to_string(),
            _ => format!(
                "uid {uid} has no user session (no {} of its own)",
                self.run_user.join(uid.to_string()).display()
            ),
        };
        let who = match eligible {
            Eligible::Seat(_) => "the user at the seat",
            Eligible::Sessions => "a logged-in user",
        };
        anyhow::bail!("{why}: only {who} gets the game class")
    }
}

/// The scheduler's end: a socket anyone may connect to, served from the
/// event loop. The caller holds the instance lock, so a socket file found at
/// the path is a stale one and is replaced.
pub struct LaunchSocket {
    listener: UnixListener,
    path: PathBuf,
    markers: Markers,
}

impl LaunchSocket {
    /// Bind `path`, taking logind's seat and the runtime dirs from where
    /// they live.
    pub fn bind(path: &Path) -> Result<Self> {
        Self::bind_for(path, Path::new(seat::SEATS_DIR), Path::new(RUN_USER))
    }

    /// Bind `path`, with the seats dir and the runtime dirs given.
    fn bind_for(path: &Path, seats_dir: &Path, run_user: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        match fs::remove_file(path) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing the stale {}", path.display()))
            }
            _ => {}
        }
        let listener =
            UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
        // Connecting needs write permission on the socket: every user's
        // wrapper must reach it.
        fs::set_permissions(path, fs::Permissions::from_mode(0o666))
            .with_context(|| format!("opening {} to every user", path.display()))?;
        listener
            .set_nonblocking(true)
            .context("making the launch socket non-blocking")?;
        Ok(LaunchSocket {
            listener,
            path: path.to_path_buf(),
            markers: Markers {
                seats: seats_dir.is_dir().then(|| seats_dir.to_path_buf()),
                run_user: run_user.to_path_buf(),
            },
        })
    }

    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Answer every wrapper waiting to be accepted. `mark` puts a tgid in
    /// the game map; its error is the refusal the wrapper is told.
    pub fn serve(&self, proc_root: &Path, mark: &mut dyn FnMut(u32) -> Result<()>) {
        while let Ok((mut stream, _)) = self.listener.accept() {
            let answer = match self.markers.answer(&stream, proc_root, mark) {
                Ok(tgid) => {
                    log::info!("game marked by scx_gamer run: tgid {tgid}");
                    "ok\n".to_string()
                }
                Err(why) => {
                    log::warn!("scx_gamer run: refused a mark: {why:#}");
                    format!("{why:#}\n")
                }
            };
            // A few bytes into a fresh socket's empty buffer never block;
            // a wrapper that is gone already does not care.
            let _ = stream.write_all(answer.as_bytes());
        }
    }
}

impl Drop for LaunchSocket {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl Markers {
    /// Mark the caller on `stream` as the game; the tgid marked.
    fn answer(
        &self,
        stream: &UnixStream,
        proc: &Path,
        mark: &mut dyn FnMut(u32) -> Result<()>,
    ) -> Result<u32> {
        let cred =
            getsockopt(stream, PeerCredentials).context("reading the caller's credentials")?;
        let pid = u32::try_from(cred.pid())
            .ok()
            .filter(|&p| p > 0)
            .context("the caller is in another PID namespace")?;
        let uid = read_names(proc, pid)
            .with_context(|| format!("process {pid} is gone"))?
            .uid;
        anyhow::ensure!(
            uid == cred.uid(),
            "process {pid} now belongs to uid {uid}, not to the caller's uid {}",
            cred.uid()
        );
        self.check(uid)?;
        mark(pid)?;
        Ok(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime dir in `run_user` owned by a uid other than root's (this
    /// one's, or, as root, one it gives the dir to), and that uid.
    fn session_of_someone(run_user: &Path) -> u32 {
        let me = nix::unistd::geteuid().as_raw();
        let uid = if me == 0 { 4242 } else { me };
        let dir = run_user.join(uid.to_string());
        fs::create_dir_all(&dir).unwrap();
        if me == 0 {
            nix::unistd::chown(&dir, Some(uid.into()), None).unwrap();
        }
        uid
    }

    fn markers(dir: &Path, seat: Option<&str>) -> Markers {
        let seats = seat.map(|text| {
            let seats = dir.join("seats");
            fs::create_dir_all(&seats).unwrap();
            fs::write(seats.join("seat0"), text).unwrap();
            seats
        });
        Markers {
            seats,
            run_user: dir.join("run"),
        }
    }

    #[test]
    fn only_the_seat_user_and_root_may_mark() {
        let dir = tempfile::tempdir().unwrap();
        let uid = session_of_someone(&dir.path().join("run"));
        let other = uid + 1;
        let m = markers(dir.path(), Some(&format!("ACTIVE=c1\nACTIVE_UID={uid}\n")));
        m.check(uid).unwrap();
        m.check(0).unwrap();
        let err = format!("{:#}", m.check(other).unwrap_err());
        assert_eq!(
            err,
            format!(
                "uid {other} is not the seat's active user (uid {uid} is): \
                 only the user at the seat gets the game class"
            )
        );
        // The seat file is read at each check: a switch is followed.
        let seat0 = m.seats.as_ref().unwrap().join("seat0");
        fs::write(&seat0, format!("ACTIVE=c2\nACTIVE_UID={other}\n")).unwrap();
        assert!(m.check(uid).is_err());
        fs::write(&seat0, "IS_SEAT0=1\n").unwrap();
        let err = format!("{:#}", m.check(uid).unwrap_err());
        assert!(err.starts_with("the seat has no active session"), "{err}");
        m.check(0).unwrap();
    }

    #[test]
    fn the_seat_user_needs_a_session_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let uid = session_of_someone(&dir.path().join("run"));
        let lost = uid + 1;
        let m = markers(dir.path(), Some(&format!("ACTIVE=c1\nACTIVE_UID={lost}\n")));
        let err = format!("{:#}", m.check(lost).unwrap_err());
        assert!(
            err.starts_with(&format!("uid {lost} has no user session")),
            "{err}"
        );
    }

    #[test]
    fn without_logind_every_user_with_a_session_may_mark() {
        let dir = tempfile::tempdir().unwrap();
        let uid = session_of_someone(&dir.path().join("run"));
        let m = markers(dir.path(), None);
        m.check(uid).unwrap();
        m.check(0).unwrap();
        let err = format!("{:#}", m.check(uid + 1).unwrap_err());
        assert!(err.contains("has no user session"), "{err}");
        assert!(
            err.ends_with("only a logged-in user gets the game class"),
            "{err}"
        );
    }

    fn serve_one(dir: &Path, mark: &mut dyn FnMut(u32) -> Result<()>) -> Result<(), String> {
        let path = dir.join("launch");
        // No logind, and this process's uid with a runtime dir: it may mark.
        let run_user = dir.join("run");
        let me = nix::unistd::geteuid().as_raw();
        fs::create_dir_all(run_user.join(me.to_string())).unwrap();
        let server = LaunchSocket::bind_for(&path, &dir.join("no-seats"), &run_user).unwrap();
        let client = std::thread::scope(|s| {
            let client = s.spawn(|| ask_to_be_marked(&path));
            // The client is waiting for its answer once it has connected.
            for _ in 0..200 {
                let mut accepted = false;
                server.serve(Path::new("/proc"), &mut |pid| {
                    accepted = true;
                    mark(pid)
                });
                if accepted || client.is_finished() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            client.join().unwrap()
        });
        drop(server);
        assert!(!path.exists(), "the socket outlived its server");
        client
    }

    #[test]
    fn the_caller_itself_is_marked() {
        let dir = tempfile::tempdir().unwrap();
        let mut marked = Vec::new();
        serve_one(dir.path(), &mut |pid| {
            marked.push(pid);
            Ok(())
        })
        .unwrap();
        // The client thread runs in this process: its tgid is ours.
        assert_eq!(marked, vec![std::process::id()]);
    }

    #[test]
    fn a_refusal_reaches_the_wrapper() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            serve_one(dir.path(), &mut |_| anyhow::bail!("the game map is full")).unwrap_err();
        assert!(err.contains("the game map is full"), "{err}");
    }

    #[test]
    fn no_scheduler_is_said_plainly() {
        let dir = tempfile::tempdir().unwrap();
        let err = ask_to_be_marked(&dir.path().join("launch")).unwrap_err();
        assert!(err.contains("no scx_gamer scheduler is running"), "{err}");
    }
}
