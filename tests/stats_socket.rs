// SPDX-License-Identifier: GPL-2.0-only
//
// The scx_stats socket end to end: the server started in this process over
// a publisher with a known snapshot, and the scx_gamer binary's `--monitor`
// reading it over a real UNIX socket, as another process. Neither needs
// root or sched_ext.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use common::{published, snapshot};
use scx_gamer::stats::{start_stats_server, Metrics, MonitorClient, STATS_SOCKET_MODE};

const BIN: &str = env!("CARGO_BIN_EXE_scx_gamer");

fn monitor(socket: &Path, extra: &[&str]) -> Child {
    Command::new(BIN)
        .args(["--monitor", "1", "--stats-socket"])
        .arg(socket)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Lines of the child's stdout as they come, read on a thread so a test can
/// wait with a limit.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let out = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn next_line(rx: &mpsc::Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(20))
        .expect("a line from --monitor")
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

#[test]
fn the_socket_is_root_only_and_removed_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats");
    let server = start_stats_server(published(), &path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, STATS_SOCKET_MODE);
    assert_eq!(STATS_SOCKET_MODE, 0o600);
    drop(server);
    assert!(!path.exists());
}

#[test]
fn an_in_process_client_reads_the_latest_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats");
    let p = published();
    let _server = start_stats_server(Arc::clone(&p), &path).unwrap();
    let mut c = MonitorClient::connect(&path).unwrap();
    assert_eq!(c.fetch().unwrap(), *p.latest());
    p.publish(snapshot());
    assert_eq!(c.fetch().unwrap().seq, 2);
}

#[test]
fn monitor_json_prints_each_snapshot_as_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats");
    let p = published();
    let _server = start_stats_server(Arc::clone(&p), &path).unwrap();
    let mut child = monitor(&path, &["--json"]);
    let rx = lines_of(&mut child);

    let first: Metrics = serde_json::from_str(&next_line(&rx)).unwrap();
    assert_eq!(first, *p.latest());

    let mut changed = snapshot();
    changed.frames = 1234;
    p.publish(changed);
    let second: Metrics = serde_json::from_str(&next_line(&rx)).unwrap();
    assert_eq!(second.seq, 2);
    assert_eq!(second.frames, 1234);

    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn monitor_prints_plain_lines_when_not_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats");
    let _server = start_stats_server(published(), &path).unwrap();
    let mut child = monitor(&path, &[]);
    let rx = lines_of(&mut child);
    let first = next_line(&rx);
    assert!(first.starts_with("scx_gamer up "), "{first}");
    assert!(first.contains("game: hl2_linux[4242]"), "{first}");
    assert!(first.contains("audio: pipewire[1200]"), "{first}");
    let second = next_line(&rx);
    assert!(second.contains("600 in 10s  avg 60.0 fps"), "{second}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn monitor_without_a_running_instance_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("stats");
    let out = run(&[
        "--monitor",
        "1",
        "--stats-socket",
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no scx_gamer is running"), "{err}");
    assert!(err.contains(missing.to_str().unwrap()), "{err}");

    // A socket file left by an instance that is gone.
    let stale = dir.path().join("stale");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let out = run(&["--monitor", "1", "--stats-socket", stale.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has stopped"), "{err}");
}

#[test]
fn monitor_refuses_another_schedulers_socket() {
    use scx_stats::prelude::*;
    use scx_stats_derive::Stats;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, Default, Serialize, Deserialize, Stats)]
    #[stat(top)]
    struct OtherMetrics {
        #[stat(desc = "something else")]
        nr_running: u64,
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats");
    let data = StatsServerData::<(), ()>::new()
        .add_meta(OtherMetrics::meta())
        .add_stats("top", Box::new(|_, _| OtherMetrics::default().to_json()));
    let _server = StatsServer::new(data).set_path(&path).launch().unwrap();
    let out = run(&[
        "--monitor",
        "1",
        "--json",
        "--stats-socket",
        path.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another scheduler"), "{err}");
    assert!(err.contains("OtherMetrics"), "{err}");
}

#[test]
fn help_stats_describes_every_metric_without_root() {
    let out = run(&["--help-stats"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    use scx_stats::Meta;
    for meta in [
        Metrics::meta(),
        scx_gamer::stats::ClassMetrics::meta(),
        scx_gamer::stats::RingMetrics::meta(),
    ] {
        for (name, field) in &meta.fields {
            assert!(text.contains(name.as_str()), "{name}");
            assert!(
                text.contains(field.attrs.desc.as_deref().unwrap()),
                "{name}"
            );
        }
    }
}
