// SPDX-License-Identifier: GPL-2.0-only
//
// The `--debug-api` HTTP server: one thread polling a loopback listener and
// its connections, all non-blocking. HTTP/1.1 with one request per
// connection is all two read-only JSON endpoints need, so std::net and
// poll(2) do it without an async runtime or an HTTP crate.
//
// Bounds, so no client can take the server from the others:
// - at most `max_connections` open; a new connection beyond that closes the
//   oldest, so a flood of idle connections cannot lock out a real request;
// - a request head of at most `max_request_bytes` (431 beyond);
// - `timeout` from accept to close, whatever the client does.
// The metrics body is serialized once per snapshot and shared by every
// response that sends it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use log::warn;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::api::{self, Request, Response, Route, Status};
use super::metrics::Metrics;
use super::publisher::Publisher;

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

/// The running server. Dropping it stops the thread and closes the port.
pub struct DebugApi {
    addr: SocketAddr,
    wake: UnixStream,
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
        let _ = self.wake.write_all(&[1]);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serve `publisher`'s snapshots at `addr`, which must be a loopback
/// address. A port already in use is an error that says so.
pub fn start_debug_api(
    publisher: Arc<Publisher>,
    addr: SocketAddr,
    limits: Limits,
) -> Result<DebugApi> {
    if !addr.ip().is_loopback() {
        bail!(
            "the debug API listens on a loopback address only, not {}",
            addr.ip()
        );
    }
    let listener = TcpListener::bind(addr).map_err(|e| match e.kind() {
        io::ErrorKind::AddrInUse => anyhow::anyhow!(
            "--debug-api: port {} on {} is already in use",
            addr.port(),
            addr.ip()
        ),
        _ => anyhow::Error::new(e).context(format!("--debug-api: binding {addr}")),
    })?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let (wake, woken) = UnixStream::pair().context("creating the debug API's wake-up pair")?;
    let server = Server {
        publisher,
        listener,
        woken,
        limits,
        conns: Vec::new(),
        cache: None,
    };
    let thread = std::thread::Builder::new()
        .name("debug-api".into())
        .spawn(move || server.run())
        .context("starting the debug API thread")?;
    Ok(DebugApi {
        addr,
        wake,
        thread: Some(thread),
    })
}

enum State {
    /// Reading the request head.
    Reading(Vec<u8>),
    /// Sending the response: head, then body, from `sent` bytes on.
    Writing(Response, usize),
    /// Response sent and our side shut: reading until the client closes, so
    /// unread request bytes do not turn the close into a reset.
    Draining,
}

struct Conn {
    stream: TcpStream,
    state: State,
    deadline: Instant,
}

struct Server {
    publisher: Arc<Publisher>,
    listener: TcpListener,
    woken: UnixStream,
    limits: Limits,
    /// Oldest first.
    conns: Vec<Conn>,
    /// The last snapshot served and its JSON.
    cache: Option<(Arc<Metrics>, Arc<[u8]>)>,
}

impl Server {
    fn run(mut self) {
        loop {
            let now = Instant::now();
            self.conns.retain(|c| c.deadline > now);
            let next_deadline = self.conns.iter().map(|c| c.deadline).min();
            let timeout = match next_deadline {
                Some(d) => PollTimeout::try_from(d.saturating_duration_since(now))
                    .unwrap_or(PollTimeout::MAX),
                None => PollTimeout::NONE,
            };

            let mut fds = Vec::with_capacity(self.conns.len() + 2);
            fds.push(PollFd::new(self.woken.as_fd(), PollFlags::POLLIN));
            fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
            for c in &self.conns {
                let want = match c.state {
                    State::Writing(..) => PollFlags::POLLOUT,
                    State::Reading(_) | State::Draining => PollFlags::POLLIN,
                };
                fds.push(PollFd::new(c.stream.as_fd(), want));
            }
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    warn!("debug API stopped: poll failed: {e}");
                    return;
                }
            }
            let ready: Vec<bool> = fds
                .iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect();
            drop(fds);

            if ready[0] {
                return;
            }
            // Serve the connections poll saw before accepting new ones: an
            // accept may close the oldest and shift the list.
            let mut closed = Vec::new();
            for (i, c) in self.conns.iter_mut().enumerate() {
                if ready[i + 2] && !advance(c, &self.publisher, &mut self.cache, &self.limits) {
                    closed.push(i);
                }
            }
            for i in closed.into_iter().rev() {
                self.conns.remove(i);
            }
            if ready[1] {
                self.accept();
            }
        }
    }

    fn accept(&mut self) {
        for _ in 0..self.limits.max_connections.max(1) {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    if self.conns.len() >= self.limits.max_connections {
                        self.conns.remove(0);
                    }
                    self.conns.push(Conn {
                        stream,
                        state: State::Reading(Vec::new()),
                        deadline: Instant::now() + self.limits.timeout,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // A connection reset before we took it, or no fds left for
                // now: try again on the next wakeup.
                Err(_) => return,
            }
        }
    }
}

/// Move one connection on as far as it goes without blocking. False when it
/// is finished and should be closed.
fn advance(
    c: &mut Conn,
    publisher: &Publisher,
    cache: &mut Option<(Arc<Metrics>, Arc<[u8]>)>,
    limits: &Limits,
) -> bool {
    if let State::Reading(buf) = &mut c.state {
        match read_head(&mut c.stream, buf, limits.max_request_bytes) {
            Head::Incomplete => return true,
            Head::Closed => return false,
            Head::TooLarge => {
                let r = Response::refusal(Status::HeadersTooLarge, "request head too large");
                c.state = State::Writing(r, 0);
            }
            Head::Complete(len) => {
                let r = respond(&buf[..len], publisher, cache);
                c.state = State::Writing(r, 0);
            }
        }
    }
    if let State::Writing(r, sent) = &mut c.state {
        match write_response(&mut c.stream, r, sent) {
            Ok(true) => {
                let _ = c.stream.shutdown(Shutdown::Write);
                c.state = State::Draining;
            }
            Ok(false) => return true,
            Err(_) => return false,
        }
    }
    // Draining: read and discard until the client closes.
    let mut scratch = [0u8; 1024];
    loop {
        match c.stream.read(&mut scratch) {
            Ok(0) => return false,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

enum Head {
    Incomplete,
    Closed,
    TooLarge,
    /// The head is the first this many bytes.
    Complete(usize),
}

fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>, max: usize) -> Head {
    let mut chunk = [0u8; 2048];
    loop {
        let room = max.saturating_sub(buf.len()).min(chunk.len());
        if room == 0 {
            return Head::TooLarge;
        }
        match stream.read(&mut chunk[..room]) {
            Ok(0) => return Head::Closed,
            Ok(n) => {
                let from = buf.len().saturating_sub(3);
                buf.extend_from_slice(&chunk[..n]);
                if let Some(at) = buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                    return Head::Complete(from + at + 4);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Head::Incomplete,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Head::Closed,
        }
    }
}

/// Write what the socket takes. True once everything is sent.
fn write_response(stream: &mut TcpStream, r: &Response, sent: &mut usize) -> io::Result<bool> {
    let total = r.head.len() + r.body.len();
    while *sent < total {
        let rest = if *sent < r.head.len() {
            &r.head[*sent..]
        } else {
            &r.body[*sent - r.head.len()..]
        };
        match stream.write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn respond(
    head: &[u8],
    publisher: &Publisher,
    cache: &mut Option<(Arc<Metrics>, Arc<[u8]>)>,
) -> Response {
    let Request { route, head_only } = match api::parse(head) {
        Ok(r) => r,
        Err((status, why)) => return Response::refusal(status, why),
    };
    let latest = publisher.latest();
    match route {
        Route::Health => api::health(&latest, publisher.age(), head_only),
        Route::Metrics => {
            let body = match cache {
                Some((m, body)) if Arc::ptr_eq(m, &latest) => Arc::clone(body),
                _ => {
                    let mut json = match serde_json::to_vec(latest.as_ref()) {
                        Ok(j) => j,
                        Err(_) => {
                            return Response::refusal(Status::Unavailable, "serialization failed")
                        }
                    };
                    json.push(b'\n');
                    let body: Arc<[u8]> = Arc::from(json);
                    *cache = Some((latest, Arc::clone(&body)));
                    body
                }
            };
            Response::new(Status::Ok, body, head_only)
        }
    }
}
