// SPDX-License-Identifier: GPL-2.0-only
//
// The `--debug-api` server (api.rs says what it answers): HTTP/1.1, one
// request per connection, on a loopback port. Two read-only endpoints do
// not earn an HTTP crate or an async runtime: a thread accepts, a thread
// per connection answers. Bounds, so no client can take the server from
// the others: at most `max_connections` open (a new one closes the oldest,
// so a flood of idle connections cannot lock out a real request), a request
// head of at most `max_request_bytes` (431 beyond), `timeout` from accept
// to close. The metrics body is serialized once per snapshot and shared.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::api::{health, parse, Response, Route, Status};
use super::{lock, Metrics, Publisher};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub max_request_bytes: usize,
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 32,
            max_request_bytes: 8192,
            timeout: Duration::from_secs(5),
        }
    }
}

/// The running server. Dropping it stops accepting and closes the port;
/// connections still open end by their timeout at the latest.
pub struct DebugApi {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DebugApi {
    /// The address it listens on (the port the kernel chose, for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DebugApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the blocking accept; it sees `stop` and drops the listener.
        // Without that wake-up the thread is left, not waited for.
        if TcpStream::connect(self.addr).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// What every connection's thread shares.
struct Shared {
    publisher: Arc<Publisher>,
    limits: Limits,
    /// The open connections, oldest first, each with its number.
    open: Mutex<VecDeque<(u64, TcpStream)>>,
    cache: Mutex<Cached>,
}

/// The last snapshot served and its JSON.
type Cached = Option<(Arc<Metrics>, Arc<[u8]>)>;

/// Serve `publisher`'s snapshots at `addr`, which must be a loopback
/// address. A port already in use is an error that says so.
pub fn start_debug_api(
    publisher: Arc<Publisher>,
    addr: SocketAddr,
    limits: Limits,
) -> Result<DebugApi> {
    if !addr.ip().is_loopback() {
        let ip = addr.ip();
        bail!("the debug API listens on a loopback address only, not {ip}");
    }
    let listener = TcpListener::bind(addr).map_err(|e| match e.kind() {
        io::ErrorKind::AddrInUse => anyhow::anyhow!(
            "--debug-api: port {} on {} is already in use",
            addr.port(),
            addr.ip()
        ),
        _ => anyhow::Error::new(e).context(format!("--debug-api: binding {addr}")),
    })?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Shared {
        publisher,
        limits,
        open: Mutex::default(),
        cache: Mutex::default(),
    });
    let stopping = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("debug-api".into())
        .spawn(move || accept_loop(&listener, &shared, &stopping))
        .context("starting the debug API thread")?;
    Ok(DebugApi {
        addr,
        stop,
        thread: Some(thread),
    })
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, stop: &AtomicBool) {
    for id in 0u64.. {
        let accepted = listener.accept().and_then(|(s, _)| Ok((s.try_clone()?, s)));
        if stop.load(Ordering::Acquire) {
            return;
        }
        let Ok((stream, watched)) = accepted else {
            // A connection reset before we took it, or no fds left for
            // now: try again shortly.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let mut open = lock(&shared.open);
        while open.len() >= shared.limits.max_connections.max(1) {
            if let Some((_, oldest)) = open.pop_front() {
                let _ = oldest.shutdown(Shutdown::Both);
            }
        }
        open.push_back((id, watched));
        drop(open);
        let forget = move |s: &Shared| lock(&s.open).retain(|(i, _)| *i != id);
        let conn = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name("debug-api-conn".into())
            .spawn(move || {
                serve(stream, &conn);
                forget(&conn);
            });
        if let Err(e) = spawned {
            log::warn!("debug API: no thread for a connection: {e}");
            forget(shared);
        }
    }
}

/// One connection, from its request to its close, within the timeout.
fn serve(mut stream: TcpStream, shared: &Shared) {
    let deadline = Instant::now() + shared.limits.timeout;
    let response = match read_head(&mut stream, shared.limits.max_request_bytes, deadline) {
        Ok(Some(head)) => respond(&head, shared),
        Ok(None) => Response::refusal(Status::HEADERS_TOO_LARGE, "request head too large"),
        Err(_) => return,
    };
    let sent = left(deadline)
        .and_then(|t| stream.set_write_timeout(Some(t)))
        .and_then(|()| stream.write_all(&response.head))
        .and_then(|()| stream.write_all(&response.body));
    if sent.is_err() {
        return;
    }
    // Read until the client closes, so unread request bytes do not turn
    // the close into a reset.
    let _ = stream.shutdown(Shutdown::Write);
    let mut scratch = [0u8; 1024];
    while let Ok(t) = left(deadline) {
        match stream
            .set_read_timeout(Some(t))
            .and_then(|()| stream.read(&mut scratch))
        {
            Ok(0) => return,
            Err(e) if e.kind() != io::ErrorKind::Interrupted => return,
            _ => {}
        }
    }
}

/// The time to `deadline`; an error once it has passed.
fn left(deadline: Instant) -> io::Result<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|t| !t.is_zero())
        .ok_or_else(|| io::ErrorKind::TimedOut.into())
}

/// The request head, up to and including its blank line; None when it is
/// longer than `max`.
fn read_head(stream: &mut TcpStream, max: usize, deadline: Instant) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        let room = max.saturating_sub(buf.len()).min(chunk.len());
        if room == 0 {
            return Ok(None);
        }
        stream.set_read_timeout(Some(left(deadline)?))?;
        let n = match stream.read(&mut chunk[..room]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(from + at + 4);
            return Ok(Some(buf));
        }
    }
}

fn respond(head: &[u8], shared: &Shared) -> Response {
    let req = match parse(head) {
        Ok(r) => r,
        Err((status, why)) => return Response::refusal(status, why),
    };
    let latest = shared.publisher.latest();
    if req.route == Route::Health {
        return health(&latest, shared.publisher.age(), req.head_only);
    }
    let mut cache = lock(&shared.cache);
    let body = match cache.as_ref() {
        Some((m, body)) if Arc::ptr_eq(m, &latest) => Arc::clone(body),
        _ => {
            let Ok(mut json) = serde_json::to_vec(latest.as_ref()) else {
                return Response::refusal(Status::UNAVAILABLE, "serialization failed");
            };
            json.push(b'\n');
            let body: Arc<[u8]> = json.into();
            *cache = Some((latest, Arc::clone(&body)));
            body
        }
    };
    Response::new(Status::OK, body, req.head_only)
}
