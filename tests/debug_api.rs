// SPDX-License-Identifier: GPL-2.0-only
//
// The `--debug-api` server, started in this process over a publisher that
// holds a known snapshot, and spoken to over real TCP connections.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{published, snapshot, wait_for};
use scx_gamer::stats::{start_debug_api, DebugApi, Limits, Metrics, Publisher};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn serve(p: &Arc<Publisher>) -> DebugApi {
    start_debug_api(Arc::clone(p), loopback(), Limits::default()).unwrap()
}

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Send `raw` as is and read the whole reply (the server closes after it).
fn send(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head")
        + 4;
    let head = String::from_utf8(all[..split].to_vec()).unwrap();
    let status = head[9..12].parse().unwrap();
    Reply {
        status,
        head,
        body: all[split..].to_vec(),
    }
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    send(
        addr,
        format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
            addr.port()
        )
        .as_bytes(),
    )
}

#[test]
fn metrics_is_the_published_snapshot_as_json() {
    let p = published();
    let api = serve(&p);
    let r = get(api.local_addr(), "/metrics");
    assert_eq!(r.status, 200);
    assert!(r.head.contains("Content-Type: application/json\r\n"));
    assert!(r
        .head
        .contains(&format!("Content-Length: {}\r\n", r.body.len())));
    let m: Metrics = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(m, *p.latest());
    assert_eq!(m.games[0].comm, "hl2_linux");
    assert_eq!(m.classes["game"].threads, 5);

    // A new snapshot is what the next request gets.
    let mut next = snapshot();
    next.frames = 1;
    p.publish(next);
    let m: Metrics = serde_json::from_slice(&get(api.local_addr(), "/metrics").body).unwrap();
    assert_eq!(m.frames, 1);
    assert_eq!(m.seq, 2);
}

#[test]
fn health_says_starting_until_the_first_snapshot() {
    let p = Arc::new(Publisher::new());
    let api = serve(&p);
    let r = get(api.local_addr(), "/health");
    assert_eq!(r.status, 503);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["status"], "starting");

    p.publish(snapshot());
    let r = get(api.local_addr(), "/health");
    assert_eq!(r.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["seq"], 1);
}

#[test]
fn head_gets_the_headers_only() {
    let api = serve(&published());
    let addr = api.local_addr();
    let r = send(addr, b"HEAD /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let full = get(addr, "/metrics");
    assert!(r
        .head
        .contains(&format!("Content-Length: {}\r\n", full.body.len())));
}

#[test]
fn read_only_and_two_paths() {
    let api = serve(&published());
    let addr = api.local_addr();
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let r = send(
            addr,
            format!(
                "{method} /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{{}}"
            )
            .as_bytes(),
        );
        assert_eq!(r.status, 405, "{method}");
        assert!(r.head.contains("Allow: GET, HEAD\r\n"), "{method}");
    }
    for path in ["/", "/metrics/", "/debug", "/../etc/passwd"] {
        assert_eq!(get(addr, path).status, 404, "{path}");
    }
    assert_eq!(send(addr, b"garbage\r\n\r\n").status, 400);
    assert_eq!(
        send(
            addr,
            b"GET /metrics HTTP/1.1\r\nHost: attacker.example\r\n\r\n"
        )
        .status,
        403
    );
}

#[test]
fn binds_loopback_only() {
    let p = published();
    for addr in ["0.0.0.0:0", "[::]:0", "192.168.1.1:0", "10.0.0.1:9100"] {
        let err = start_debug_api(Arc::clone(&p), addr.parse().unwrap(), Limits::default())
            .err()
            .unwrap_or_else(|| panic!("{addr} was accepted"));
        assert!(err.to_string().contains("loopback"), "{addr}: {err}");
    }
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = start_debug_api(published(), addr, Limits::default())
        .err()
        .expect("the port is taken");
    let msg = format!("{err:#}");
    assert!(
        msg.contains(&format!(
            "port {} on 127.0.0.1 is already in use",
            addr.port()
        )),
        "{msg}"
    );
}

#[test]
fn concurrent_requests_all_get_the_same_snapshot() {
    let p = published();
    let api = serve(&p);
    let addr = api.local_addr();
    let expect = serde_json::to_vec(&*p.latest()).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let expect = expect.clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    let r = get(addr, "/metrics");
                    assert_eq!(r.status, 200);
                    assert_eq!(r.body.strip_suffix(b"\n").unwrap(), &expect[..]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn clients_that_leave_mid_request_do_not_hurt_the_others() {
    let api = serve(&published());
    let addr = api.local_addr();
    for partial in [&b""[..], b"GET /met", b"GET /metrics HTTP/1.1\r\nHost: 127"] {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(partial).unwrap();
        drop(s);
    }
    // One that sends a whole request and leaves without reading the reply.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    drop(s);
    assert_eq!(get(addr, "/metrics").status, 200);
    assert_eq!(get(addr, "/health").status, 200);
}

#[test]
fn an_oversized_request_is_refused() {
    let api = serve(&published());
    let addr = api.local_addr();
    let big = format!(
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fill: {}\r\n\r\n",
        "a".repeat(10_000)
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server answers once it has read its limit; the rest may never be
    // read, so the write may fail and is not checked.
    let _ = s.write_all(big.as_bytes());
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    assert!(
        reply.starts_with(b"HTTP/1.1 431 "),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    assert_eq!(get(addr, "/health").status, 200);
}

#[test]
fn a_flood_of_idle_connections_does_not_lock_out_requests() {
    let api = serve(&published());
    let addr = api.local_addr();
    // Far more idle connections than the server keeps open.
    let idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    for _ in 0..5 {
        let start = Instant::now();
        assert_eq!(get(addr, "/metrics").status, 200);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }
    drop(idle);
}

#[test]
fn silent_connections_are_closed_after_the_timeout() {
    let limits = Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let api = start_debug_api(published(), loopback(), limits).unwrap();
    let mut s = TcpStream::connect(api.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 16];
    // The server closes it: end of stream, not our read timeout.
    assert_eq!(s.read(&mut buf).unwrap(), 0);
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn dropping_the_server_frees_the_port() {
    let api = serve(&published());
    let addr = api.local_addr();
    assert_eq!(get(addr, "/health").status, 200);
    drop(api);
    let refused = wait_for(Duration::from_secs(5), || {
        TcpStream::connect(addr).is_err().then_some(())
    });
    assert!(refused.is_some(), "still accepting after drop");
    let again = start_debug_api(published(), addr, Limits::default()).unwrap();
    assert_eq!(get(again.local_addr(), "/health").status, 200);
}
