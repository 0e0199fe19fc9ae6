// SPDX-License-Identifier: GPL-2.0-only
//
// `--monitor --frame-log` end to end, without root or sched_ext: the stats
// server in this process with frames pushed into its frame ring the way the
// stats thread pushes them, and the scx_gamer binary logging them over a
// real socket. Every frame pushed must reach the file, a reader that fell
// behind must be told how many it lost, and a bad file must be refused.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{published, wait_for};
use scx_gamer::stats::{start_stats_server, LoggedFrame, Publisher, FRAME_RING_LEN};

const BIN: &str = env!("CARGO_BIN_EXE_scx_gamer");

fn monitor(socket: &Path, log: &Path, extra: &[&str]) -> Child {
    Command::new(BIN)
        .args(["--monitor", "1", "--stats-socket"])
        .arg(socket)
        .arg("--frame-log")
        .arg(log)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Frames at 100 fps on one CRTC from `first_ns`, the first with no
/// predecessor when `first_ns` is 0.
fn push_frames(p: &Publisher, n: u64, first_ns: u64, game: bool) {
    for i in 0..n {
        p.frames().push(LoggedFrame {
            present_ns: first_ns + i * 10_000_000,
            interval_ns: if first_ns == 0 && i == 0 {
                0
            } else {
                10_000_000
            },
            missed: 0,
            crtc: 0,
            tgid: 77,
            game,
        });
    }
}

fn rows(log: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .skip(3)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// SIGTERM, as systemd or `kill` stops it: a clean exit with a summary.
fn stop(child: Child) -> (bool, String) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn header_written(log: &Path) -> bool {
    std::fs::read_to_string(log).is_ok_and(|s| s.lines().count() >= 3)
}

#[test]
fn every_frame_pushed_reaches_the_log_and_none_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, log) = (dir.path().join("stats"), dir.path().join("frames.csv"));
    let p = published();
    let _server = start_stats_server(Arc::clone(&p), &socket).unwrap();
    let child = monitor(&socket, &log, &[]);
    wait_for(Duration::from_secs(20), || {
        header_written(&log).then_some(())
    })
    .expect("the log's header");

    push_frames(&p, 3000, 0, false);
    let got = wait_for(Duration::from_secs(20), || {
        let r = rows(&log);
        (r.len() >= 2999).then_some(r)
    })
    .expect("the frames in the log");
    // Pushed after the last read: the stop still writes them.
    push_frames(&p, 5, 40_000_000_000, false);
    let (ok, err) = stop(child);
    assert!(ok, "{err}");
    assert!(err.contains("3004 frames written, 0 lost"), "{err}");
    // The first frame has no frame time: no row.
    assert_eq!(got.len(), 2999);
    assert!(got.iter().all(|r| r[1] == "10.000000" && r[0] == "100.000"));
    assert_eq!(rows(&log).len(), 3004);
}

#[test]
fn a_reader_that_falls_behind_is_told_what_it_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, log) = (dir.path().join("stats"), dir.path().join("frames.csv"));
    let p = published();
    let _server = start_stats_server(Arc::clone(&p), &socket).unwrap();
    let child = monitor(&socket, &log, &["--frame-log-frames", "game"]);
    wait_for(Duration::from_secs(20), || {
        header_written(&log).then_some(())
    })
    .expect("the log's header");
    // More than the ring holds, between two reads (a read in the middle of
    // the pushes would lose fewer, but never none).
    let total = FRAME_RING_LEN as u64 * 2;
    push_frames(&p, total, 0, true);
    wait_for(Duration::from_secs(20), || {
        (rows(&log).len() + 1 >= FRAME_RING_LEN).then_some(())
    })
    .expect("the frames the ring still held");
    std::thread::sleep(Duration::from_millis(600));
    let (ok, err) = stop(child);
    assert!(ok, "{err}");
    assert!(err.contains("frames lost (read too late)"), "{err}");
    let summary = err.lines().last().unwrap();
    let words: Vec<&str> = summary.split_whitespace().collect();
    let n = |after: &str| -> u64 {
        let i = words.iter().position(|w| *w == after).unwrap();
        words[i - 1].parse().unwrap()
    };
    let (written, lost) = (n("frames"), n("lost"));
    assert!(lost > 0, "{summary}");
    // Each frame is written or counted lost; the game's first frame has no
    // frame time.
    assert_eq!(written + lost, total - 1, "{summary}");
    assert_eq!(rows(&log).len() as u64, written);
}

#[test]
fn a_log_that_cannot_be_created_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("stats");
    let _server = start_stats_server(published(), &socket).unwrap();
    let bad = dir.path().join("no-such-dir/frames.csv");
    let out = monitor(&socket, &bad, &[]).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("creating the frame log"), "{err}");
    assert!(err.contains("no-such-dir/frames.csv"), "{err}");
}

#[test]
fn frame_log_flags_need_what_they_modify() {
    let out = Command::new(BIN)
        .args(["--frame-log", "/tmp/x.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN)
        .args(["--monitor", "1", "--frame-log-frames", "game"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN)
        .args([
            "--monitor",
            "1",
            "--frame-log",
            "/tmp/x.csv",
            "--frame-log-frames",
            "some",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
