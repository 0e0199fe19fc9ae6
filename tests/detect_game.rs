// SPDX-License-Identifier: GPL-2.0-only
//
// The game detector against this machine's real /proc. No BPF is needed:
// the test plays the part of the exec and exit events, as the event loop
// will. The "launch" is a copy of bash named `reaper` (Steam's launch
// parent) with Steam's environment keys, which starts a renamed bash as
// `Game.exe` from a Steam library folder; the game starts a child of its own.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use scx_gamer::detect::game::{GameChange, GameDetector};
use scx_gamer::detect::seat::Eligible;
use tempfile::TempDir;

struct Launch {
    dir: TempDir,
    reaper: Child,
    game: u32,
    child: u32,
}

impl Drop for Launch {
    fn drop(&mut self) {
        for pid in [self.child, self.game, self.reaper.id()] {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        let _ = self.reaper.wait();
    }
}

fn copy_exe(from: &str, to: &Path) {
    fs::copy(from, to).unwrap_or_else(|e| panic!("copying {from}: {e}"));
}

/// The pids the launch printed, by label: the reaper and the game write to
/// the same pipe, in whichever order they get to run.
fn labelled_pids(out: &mut BufReader<ChildStdout>) -> (u32, u32) {
    let (mut game, mut child) = (None, None);
    while game.is_none() || child.is_none() {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let pid = |v: &str| v.parse().unwrap_or_else(|_| panic!("not a pid: {line:?}"));
        match line.trim().split_once(' ') {
            Some(("game", v)) => game = Some(pid(v)),
            Some(("child", v)) => child = Some(pid(v)),
            _ => panic!("not a labelled pid: {line:?}"),
        }
    }
    (game.unwrap(), child.unwrap())
}

/// Wait (at most 5 s) until `pid` of launch `l` has exec'd the program
/// named `name`.
fn wait_exec(l: &Launch, pid: u32, name: &str) -> Instant {
    let exe = PathBuf::from(format!("/proc/{pid}/exe"));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if fs::read_link(&exe).is_ok_and(|e| e.file_name().is_some_and(|n| n == name)) {
            return Instant::now();
        }
        if Instant::now() >= deadline {
            let errors = fs::read_to_string(l.dir.path().join("stderr")).unwrap_or_default();
            panic!("{pid} never exec'd {name}; the launch said: {errors}");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Copying an executable holds a writable fd to it; a process forked by
/// another test thread meanwhile would hold that fd until it execs, and
/// exec'ing the copy would then fail with ETXTBSY. Copies and spawns take
/// turns.
static SPAWN: Mutex<()> = Mutex::new(());

fn launch() -> Launch {
    let _turn = SPAWN.lock().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let game_dir = dir.path().join("steamapps/common/Fake Game");
    fs::create_dir_all(&game_dir).unwrap();
    let game_bin = game_dir.join("Game.exe");
    copy_exe("/bin/bash", &game_bin);
    let reaper_bin = dir.path().join("reaper");
    copy_exe("/bin/bash", &reaper_bin);

    // The reaper prints the game's pid, the game its child's.
    let game_script = r#""$SLEEP" 30 & echo child $!; wait"#;
    let reaper_script = format!(
        r#"exec -a 'Z:\games\Fake Game\Game.exe' "$GAME" -c '{game_script}' & echo game $!; wait"#
    );
    let mut reaper = Command::new(&reaper_bin)
        .arg("-c")
        .arg(reaper_script)
        .env("GAME", &game_bin)
        .env("SLEEP", "/bin/sleep")
        .env("SteamAppId", "4242")
        .env("SteamGameId", "4242")
        .env("STEAM_COMPAT_APP_ID", "4242")
        .env(
            "STEAM_COMPAT_DATA_PATH",
            dir.path().join("steamapps/compatdata/4242"),
        )
        .stdout(Stdio::piped())
        .stderr(fs::File::create(dir.path().join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(reaper.stdout.take().unwrap());
    let (game, child) = labelled_pids(&mut out);
    Launch {
        dir,
        reaper,
        game,
        child,
    }
}

/// A runtime dir in which the user running the test is logged in.
fn session() -> TempDir {
    let run_user = tempfile::tempdir().unwrap();
    let me = nix::unistd::getuid().as_raw();
    fs::create_dir(run_user.path().join(me.to_string())).unwrap();
    run_user
}

#[test]
fn renamed_game_under_a_fake_reaper_is_found_within_50ms_and_cleared_on_exit() {
    let run_user = session();
    let mut d = GameDetector::new(
        "/proc".into(),
        run_user.path().to_path_buf(),
        Eligible::Sessions,
    );
    let mut l = launch();
    let reaper = l.reaper.id();

    assert_eq!(d.on_exec(reaper), vec![GameChange::Watch { tgid: reaper }]);

    let exec_seen = wait_exec(&l, l.game, "Game.exe");
    let changes = d.on_exec(l.game);
    let latency = exec_seen.elapsed();
    assert_eq!(
        changes,
        vec![GameChange::Added {
            tgid: l.game,
            comm: "Game.exe".into(),
            score: 110,
        }]
    );
    assert!(latency < Duration::from_millis(50), "took {latency:?}");

    // Its child is part of the game through BPF's inheritance: not a game
    // of its own.
    wait_exec(&l, l.child, "sleep");
    assert_eq!(d.on_exec(l.child), vec![]);
    assert_eq!(d.games().len(), 1);

    kill(Pid::from_raw(l.game as i32), Signal::SIGKILL).unwrap();
    assert_eq!(
        d.on_exit(l.game),
        vec![GameChange::Removed { tgid: l.game }]
    );
    assert!(d.games().is_empty());
    kill(Pid::from_raw(l.child as i32), Signal::SIGKILL).unwrap();
    l.reaper.wait().unwrap();
    assert_eq!(
        d.on_exit(reaper),
        vec![GameChange::Unwatch { tgid: reaper }]
    );
}

#[test]
fn the_same_launch_without_a_user_session_is_not_a_game() {
    let nobody = tempfile::tempdir().unwrap();
    let mut d = GameDetector::new(
        "/proc".into(),
        nobody.path().to_path_buf(),
        Eligible::Sessions,
    );
    let l = launch();
    assert_eq!(d.on_exec(l.reaper.id()), vec![], "not watched either");
    wait_exec(&l, l.game, "Game.exe");
    assert_eq!(d.on_exec(l.game), vec![]);
    let c = d
        .candidates()
        .into_iter()
        .find(|c| c.pid == l.game)
        .expect("listed as a candidate");
    assert!(!c.decided);
    assert_eq!(c.score, 110);
    assert_eq!(c.reasons.last(), Some(&"owner has no user session"));
}
