// SPDX-License-Identifier: GPL-2.0-only
//
// The full-screen `--monitor` in a real terminal: tmux runs the binary
// against a stats server in this process; the test reads the screen with
// capture-pane, resizes the window, types `q`, and checks what it sees
// against `render` of the snapshot the monitor was served.
//
// Each test runs its own tmux server (-L, a private socket) with no user
// configuration, and kills it at the end.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use common::{published, snapshot, wait_for};
use scx_gamer::stats::{render, start_stats_server, MonitorClient};

const BIN: &str = env!("CARGO_BIN_EXE_scx_gamer");

/// Printed after the monitor exits, followed by its exit status.
const EXIT_MARK: &str = "monitor-exit=";

struct Tmux {
    server: String,
}

impl Tmux {
    /// A tmux server of its own (`name` tells the tests apart) running
    /// `cmd` in a `width`x`height` window.
    fn start(name: &str, cmd: &str, width: u16, height: u16) -> Tmux {
        let server = format!("scx-gamer-test-{}-{name}", std::process::id());
        let t = Tmux { server };
        let cmd = format!("{cmd}; echo {EXIT_MARK}$?");
        let out = t.run(&[
            "new-session",
            "-d",
            "-s",
            "mon",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            &cmd,
            // In the same command queue, so before the pane can exit: keep
            // it after the monitor exits, to read what it left.
            ";",
            "set-option",
            "-t",
            "mon",
            "remain-on-exit",
            "on",
        ]);
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.server, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux is installed (scripts/setup-vm.sh --build-deps installs it)")
    }

    /// The visible screen, one string per row, trailing blanks removed.
    fn screen(&self) -> Vec<String> {
        let out = self.run(&["capture-pane", "-p", "-t", "mon"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    /// The monitor's exit status once it has exited, waiting up to 15 s.
    /// The shell around it prints the status: tmux's own record of it
    /// (#{pane_dead_status}) is sometimes left empty.
    fn exit_status(&self) -> Option<String> {
        wait_for(Duration::from_secs(15), || {
            let out = self.run(&["capture-pane", "-p", "-S", "-", "-t", "mon"]);
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            let at = text.find(EXIT_MARK)? + EXIT_MARK.len();
            let code: String = text[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            (!code.is_empty()).then_some(code)
        })
    }

    fn display(&self, format: &str) -> String {
        let out = self.run(&["display-message", "-p", "-t", "mon", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

fn fetch(path: &Path) -> scx_gamer::stats::Metrics {
    MonitorClient::connect(path).unwrap().fetch().unwrap()
}

fn expected(m: &scx_gamer::stats::Metrics, w: usize, h: usize) -> Vec<String> {
    render(m, w, h)
        .split('\n')
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// Wait until the screen is exactly `want`; on a timeout, show both.
fn wait_for_screen(t: &Tmux, want: &[String]) {
    let mut last = Vec::new();
    let seen = wait_for(Duration::from_secs(15), || {
        last = t.screen();
        (last == want).then_some(())
    });
    assert!(
        seen.is_some(),
        "screen:\n{}\n\nexpected:\n{}",
        last.join("\n"),
        want.join("\n")
    );
}

#[test]
fn full_screen_view_shows_each_new_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats");
    let p = published();
    let _server = start_stats_server(Arc::clone(&p), &path).unwrap();

    let cmd = format!("{BIN} --monitor 1 --stats-socket {}", path.display());
    let t = Tmux::start("view", &cmd, 100, 40);

    // What the monitor was served, drawn for this screen size.
    let m = fetch(&path);
    wait_for_screen(&t, &expected(&m, 100, 40));
    let screen = t.screen();
    assert!(screen[0].starts_with("scx_gamer  up ") && screen[0].ends_with("q: quit"));
    assert!(screen[1].contains("game: hl2_linux (4242)"));
    assert!(screen.iter().any(|l| l.starts_with("CLASS ")));
    assert!(screen.iter().any(|l| l.contains("|#")), "a histogram bar");

    // A new snapshot shows up within the interval.
    let mut next = snapshot();
    next.frames = 777;
    p.publish(next);
    let m = fetch(&path);
    assert_eq!(m.seq, 2);
    wait_for_screen(&t, &expected(&m, 100, 40));
}

#[test]
fn full_screen_view_redraws_on_resize_and_quits_on_q() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats");
    let _server = start_stats_server(published(), &path).unwrap();
    // An interval longer than the test: every redraw after the first comes
    // from the resize itself (SIGWINCH), not from a periodic refresh.
    let cmd = format!("{BIN} --monitor 3600 --stats-socket {}", path.display());
    let t = Tmux::start("resize", &cmd, 100, 40);
    let m = fetch(&path);
    wait_for_screen(&t, &expected(&m, 100, 40));

    // Smaller, then larger again: each time a clean redraw for the new
    // size, with nothing left of the previous one.
    t.run(&["resize-window", "-t", "mon", "-x", "60", "-y", "20"]);
    wait_for_screen(&t, &expected(&m, 60, 20));
    assert_eq!(
        t.screen().last().map(String::as_str),
        Some("-- more below: enlarge the terminal --")
    );
    t.run(&["resize-window", "-t", "mon", "-x", "120", "-y", "45"]);
    wait_for_screen(&t, &expected(&m, 120, 45));

    // Other keys do nothing; q quits with exit status 0, and the terminal
    // is back on its normal screen (the view used the alternate one).
    t.run(&["send-keys", "-t", "mon", "x", "Up", "Enter"]);
    std::thread::sleep(Duration::from_millis(300));
    wait_for_screen(&t, &expected(&m, 120, 45));
    t.run(&["send-keys", "-t", "mon", "q"]);
    assert_eq!(
        t.exit_status().as_deref(),
        Some("0"),
        "the monitor did not quit on q"
    );
    assert_eq!(t.display("#{alternate_on}"), "0");
    assert!(!t.screen().iter().any(|l| l.starts_with("CLASS ")));
}

#[test]
fn full_screen_view_reports_a_lost_scheduler() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats");
    let server = start_stats_server(published(), &path).unwrap();
    let cmd = format!("{BIN} --monitor 1 --stats-socket {}", path.display());
    let t = Tmux::start("lost", &cmd, 80, 30);
    let up = wait_for(Duration::from_secs(15), || {
        t.screen()
            .first()
            .is_some_and(|l| l.starts_with("scx_gamer  up"))
            .then_some(())
    });
    assert!(up.is_some(), "{:?}", t.screen());

    drop(server);
    assert_eq!(
        t.exit_status().as_deref(),
        Some("1"),
        "the monitor kept running without a scheduler"
    );
    // The reason is printed once the normal screen is back (tmux's own
    // "Pane is dead" line may have scrolled it into the history).
    let out = t.run(&["capture-pane", "-p", "-S", "-", "-t", "mon"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("has it stopped?"), "{text}");
}
