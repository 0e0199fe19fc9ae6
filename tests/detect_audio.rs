// SPDX-License-Identifier: GPL-2.0-only
//
// The audio-server watch against real inotify and real sockets, in a
// temporary runtime dir in which the user running the test is logged in.
// Servers are this test process itself (a UnixListener), or helpers written
// in Python: one killed without removing its socket, and one playing
// systemd's socket activation (a manager that listens and a child that
// inherits the socket and serves it).

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
use nix::unistd::Pid;
use scx_gamer::detect::audio::{AudioChange, AudioKind, AudioWatch};
use tempfile::TempDir;

const PYTHON: &str = "/usr/bin/python3";

fn me() -> u32 {
    nix::unistd::getuid().as_raw()
}

fn my_pid() -> u32 {
    std::process::id()
}

/// A runtime dir, and in it the dir of the user running the test.
fn run_user() -> (TempDir, PathBuf) {
    let run_user = tempfile::tempdir().unwrap();
    let dir = run_user.path().join(me().to_string());
    fs::create_dir(&dir).unwrap();
    (run_user, dir)
}

/// Wait for inotify events (at most `limit`) and return what they changed.
fn events(w: &mut AudioWatch, limit: Duration) -> Vec<AudioChange> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(w.fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, ms).unwrap();
        let changes = w.handle_events();
        if !changes.is_empty() || ready == 0 || left.is_zero() {
            return changes;
        }
    }
}

fn up(tgid: u32, kind: AudioKind, socket: &Path) -> AudioChange {
    AudioChange::Up {
        tgid,
        kind,
        socket: socket.to_path_buf(),
    }
}

struct Helper(Vec<u32>, Child);

impl Drop for Helper {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
        }
        let _ = self.1.kill();
        let _ = self.1.wait();
    }
}

/// Copying an executable holds a writable fd to it; a process forked by
/// another test thread meanwhile would hold that fd until it execs, and
/// exec'ing the copy would then fail with ETXTBSY. Copies and spawns take
/// turns.
static SPAWN: Mutex<()> = Mutex::new(());

/// Make the `copies` of executables (from, to), then run a Python helper
/// (as `program`, one of those copies when its name matters) and read the
/// pids it prints on its first line.
fn python(
    copies: &[(&str, &Path)],
    program: &Path,
    script: &str,
    args: &[&Path],
) -> (Helper, Vec<u32>) {
    assert!(Path::new(PYTHON).exists(), "these tests need {PYTHON}");
    let turn = SPAWN.lock().unwrap();
    for (from, to) in copies {
        fs::copy(from, to).unwrap();
    }
    let mut child = Command::new(program)
        .arg("-c")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    drop(turn);
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pids: Vec<u32> = line
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(!pids.is_empty(), "helper printed {line:?}");
    (Helper(pids.clone(), child), pids)
}

#[test]
fn a_listener_is_up_within_50ms_and_gone_when_its_socket_is_deleted() {
    let (run_user, dir) = run_user();
    let mut w = AudioWatch::new(run_user.path()).unwrap();
    assert_eq!(w.startup_scan(), vec![]);

    let socket = dir.join("pipewire-0");
    let bound = Instant::now();
    let _listener = UnixListener::bind(&socket).unwrap();
    let changes = events(&mut w, Duration::from_millis(50));
    let latency = bound.elapsed();
    assert_eq!(changes, vec![up(my_pid(), AudioKind::PipeWire, &socket)]);
    assert!(latency < Duration::from_millis(50), "took {latency:?}");
    assert_eq!(w.servers().len(), 1);
    assert_eq!(w.servers()[0].uid, me());

    fs::remove_file(&socket).unwrap();
    assert_eq!(
        events(&mut w, Duration::from_secs(1)),
        vec![AudioChange::Gone { tgid: my_pid() }]
    );
    assert!(w.servers().is_empty());
}

#[test]
fn a_socket_bound_before_it_listens_is_taken_on_the_next_listen() {
    let (run_user, dir) = run_user();
    let mut w = AudioWatch::new(run_user.path()).unwrap();
    assert_eq!(w.startup_scan(), vec![]);

    // The pulse/ dir appears first, then the socket in it.
    fs::create_dir(dir.join("pulse")).unwrap();
    assert_eq!(events(&mut w, Duration::from_millis(20)), vec![]);
    let socket = dir.join("pulse/native");
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    socket::bind(fd.as_raw_fd(), &UnixAddr::new(&socket).unwrap()).unwrap();
    assert_eq!(
        events(&mut w, Duration::from_millis(50)),
        vec![],
        "not listening yet"
    );
    assert_eq!(w.on_listen(), vec![], "still not listening");
    assert_eq!(w.on_tick(), vec![], "still not listening");

    socket::listen(&fd, Backlog::new(8).unwrap()).unwrap();
    assert_eq!(w.on_listen(), vec![up(my_pid(), AudioKind::Pulse, &socket)]);
    assert_eq!(w.on_listen(), vec![], "reported once");
    assert_eq!(w.on_tick(), vec![], "reported once");
}

#[test]
fn a_runtime_dir_appearing_after_start_is_watched() {
    let run_user = tempfile::tempdir().unwrap();
    let mut w = AudioWatch::new(run_user.path()).unwrap();
    assert_eq!(w.startup_scan(), vec![]);

    // The user logs in: their dir appears, and a server binds in it at once,
    // before the watch on the new dir can exist.
    let dir = run_user.path().join(me().to_string());
    fs::create_dir(&dir).unwrap();
    let socket = dir.join("pipewire-0");
    let _listener = UnixListener::bind(&socket).unwrap();
    assert_eq!(
        events(&mut w, Duration::from_millis(50)),
        vec![up(my_pid(), AudioKind::PipeWire, &socket)]
    );

    // Logging out removes the dir and everything in it.
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        events(&mut w, Duration::from_secs(1)),
        vec![AudioChange::Gone { tgid: my_pid() }]
    );
}

#[test]
fn sockets_there_at_start_are_found_by_the_startup_scan() {
    let (run_user, dir) = run_user();
    fs::create_dir(dir.join("pulse")).unwrap();
    let pipewire = dir.join("pipewire-0");
    let pulse = dir.join("pulse/native");
    let _a = UnixListener::bind(&pipewire).unwrap();
    let _b = UnixListener::bind(&pulse).unwrap();
    let mut w = AudioWatch::new(run_user.path()).unwrap();
    assert_eq!(
        w.startup_scan(),
        vec![
            up(my_pid(), AudioKind::PipeWire, &pipewire),
            up(my_pid(), AudioKind::Pulse, &pulse),
        ]
    );
    // One process serving two sockets is gone only when both are.
    fs::remove_file(&pipewire).unwrap();
    assert_eq!(events(&mut w, Duration::from_millis(200)), vec![]);
    fs::remove_file(&pulse).unwrap();
    assert_eq!(
        events(&mut w, Duration::from_secs(1)),
        vec![AudioChange::Gone { tgid: my_pid() }]
    );
}

#[test]
fn a_dir_not_owned_by_its_uid_is_nobodys() {
    let run_user = tempfile::tempdir().unwrap();
    let other = me().wrapping_add(1);
    let dir = run_user.path().join(other.to_string());
    fs::create_dir(&dir).unwrap();
    let _listener = UnixListener::bind(dir.join("pipewire-0")).unwrap();
    let mut w = AudioWatch::new(run_user.path()).unwrap();
    assert_eq!(w.startup_scan(), vec![]);
    assert_eq!(w.on_tick(), vec![]);
}

#[test]
fn a_server_killed_without_removing_its_socket_is_gone_on_its_exit() {
    let (run_user, dir) = run_user();
    let socket = dir.join("pipewire-0");
    let script = "import os, socket, sys, time\n\
        s = socket.socket(socket.AF_UNIX)\n\
        s.bind(sys.argv[1])\n\
        s.listen(8)\n\
        print(os.getpid(), flush=True)\n\
        time.sleep(60)\n";
    let (mut helper, pids) = python(&[], Path::new(PYTHON), script, &[&socket]);
    let server = pids[0];

    let mut w = AudioWatch::new(run_user.path()).unwrap();
    assert_eq!(
        w.startup_scan(),
        vec![up(server, AudioKind::PipeWire, &socket)]
    );

    helper.1.kill().unwrap();
    helper.1.wait().unwrap();
    assert!(socket.exists(), "a killed server leaves its socket behind");
    assert_eq!(w.on_exit(server), vec![AudioChange::Gone { tgid: server }]);
    assert_eq!(w.on_exit(server), vec![], "reported once");
    assert_eq!(w.on_tick(), vec![], "nobody listens there now");
    assert!(w.servers().is_empty());
}

#[test]
fn a_socket_activated_server_is_the_managers_child_holding_the_socket() {
    let (run_user, dir) = run_user();
    let bin = tempfile::tempdir().unwrap();
    // The manager must be named systemd, the server anything else.
    let manager_bin = bin.path().join("systemd");
    let server_bin = bin.path().join("pipewire");

    let socket = dir.join("pipewire-0");
    let mut w = AudioWatch::new(run_user.path()).unwrap();
    assert_eq!(w.startup_scan(), vec![]);

    let script = "import os, socket, sys, time\n\
        s = socket.socket(socket.AF_UNIX)\n\
        s.bind(sys.argv[1])\n\
        s.listen(8)\n\
        s.set_inheritable(True)\n\
        child = os.fork()\n\
        if child == 0:\n\
        \x20   os.execv(sys.argv[2], ['pipewire', '60'])\n\
        print(os.getpid(), child, flush=True)\n\
        time.sleep(60)\n";
    let (_helper, pids) = python(
        &[(PYTHON, &manager_bin), ("/bin/sleep", &server_bin)],
        &manager_bin,
        script,
        &[&socket, &server_bin],
    );
    let (manager, server) = (pids[0], pids[1]);

    // The socket appears at bind(); the server may exec a little later,
    // which BPF reports as an exec by a child of the manager. Neither a
    // tick nor an exec elsewhere looks for it.
    let mut changes = events(&mut w, Duration::from_millis(200));
    let deadline = Instant::now() + Duration::from_secs(2);
    while changes.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(w.on_tick(), vec![]);
        assert_eq!(w.on_exec(my_pid()), vec![]);
        changes = w.on_exec(manager);
    }
    assert_eq!(changes, vec![up(server, AudioKind::PipeWire, &socket)]);
    assert!(w.servers().iter().all(|s| s.tgid != manager));
    assert!(
        w.managers().contains(&manager),
        "its next server is watched for"
    );

    // The server exits; the manager keeps listening, and nothing is
    // reported until it starts a new one.
    kill(Pid::from_raw(server as i32), Signal::SIGKILL).unwrap();
    assert_eq!(w.on_exit(server), vec![AudioChange::Gone { tgid: server }]);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(w.on_tick(), vec![]);
    assert_eq!(w.on_exec(manager), vec![]);
    assert!(w.managers().contains(&manager));
}
