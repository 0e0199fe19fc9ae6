// SPDX-License-Identifier: GPL-2.0-only
//
// `--monitor N`: attach to a running scx_gamer through its stats socket and
// show a snapshot every N seconds. Nothing is loaded and no privilege is
// needed beyond access to the socket.
//
// - On a terminal: a full-screen view (the alternate screen, restored on
//   exit, whatever the exit). `q` or Ctrl-C quits; a resize redraws at once.
// - Elsewhere: the `--stats` block, as plain lines.
// - Either way SIGINT, SIGTERM and SIGHUP end it cleanly (exit 0), through
//   a signalfd, so the frame log gets its last frames and its summary.
// - With `--json`: one JSON object per line, the snapshot as the socket and
//   the debug API give it.
// - With `--frame-log FILE`: each presented frame into FILE as well
//   (frame_log.rs), and a line saying what was written at the end.

use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};

use super::block::{format_block, Figures};
use super::frame_log::FrameLog;
use super::frame_log::FrameSelection;
use super::metrics::Metrics;
use super::render::render;
use super::socket::MonitorClient;

/// Attach to the stats socket at `path` and print or show a snapshot every
/// `interval` until told to stop, logging frames to `frame_log`'s file when
/// given. Errors when nothing serves `path`, or when the scheduler goes
/// away.
pub fn run_monitor(
    path: &Path,
    interval: Duration,
    json: bool,
    frame_log: Option<(&Path, FrameSelection)>,
) -> Result<()> {
    let mut client = MonitorClient::connect(path)?;
    // Blocked before the frame log's thread starts, so that it inherits
    // the mask and every one of these reaches the signalfd.
    let signals = block_signals()?;
    let log = match frame_log {
        Some((file, select)) => Some(FrameLog::start(path, file, select)?),
        None => None,
    };
    let shown = show(&mut client, interval, json, &signals);
    let Some(log) = log else {
        return shown;
    };
    let (summary, logged) = log.finish();
    eprintln!("scx_gamer: {summary}");
    logged.and(shown)
}

fn block_signals() -> Result<SignalFd> {
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGWINCH,
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
    ] {
        mask.add(s);
    }
    mask.thread_block().context("blocking signals")?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .context("creating signalfd")
}

fn show(
    client: &mut MonitorClient,
    interval: Duration,
    json: bool,
    signals: &SignalFd,
) -> Result<()> {
    if !json && io::stdout().is_terminal() {
        let stdin = io::stdin();
        let keys = stdin.is_terminal().then_some(&stdin);
        let mut screen = Screen::enter(keys.is_some())?;
        let mut first = true;
        return each_snapshot(client, interval, signals, keys, |m, resized| {
            screen.draw(m, resized || std::mem::take(&mut first))?;
            Ok(true)
        });
    }
    let mut out = io::stdout().lock();
    each_snapshot(client, interval, signals, None, |m, resized| {
        if resized {
            return Ok(true);
        }
        let text = if json {
            serde_json::to_string(m)
                .map(|s| s + "\n")
                .unwrap_or_default()
        } else {
            format_block(m, Figures::Rates)
        };
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            // Whoever read the output has gone: nothing left to do.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            r => r.context("writing to stdout").map(|()| true),
        }
    })
}

/// Fetch a snapshot every `interval` and hand it to `show` (with `true`
/// when it is the same one again, after a resize), until a signal that
/// stops, a quit key on `keys`, or `show` saying the reader has gone.
fn each_snapshot(
    client: &mut MonitorClient,
    interval: Duration,
    signals: &SignalFd,
    keys: Option<&io::Stdin>,
    mut show: impl FnMut(&Metrics, bool) -> Result<bool>,
) -> Result<()> {
    let mut latest = client.fetch()?;
    if !show(&latest, false)? {
        return Ok(());
    }
    let mut next = Instant::now() + interval;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if let Some(stdin) = keys {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(
            &mut fds,
            PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("waiting for keys and signals"),
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(PollFd::revents)
                .is_some_and(|r| !r.is_empty())
        };
        let (signalled, typed) = (ready(0), ready(1));
        drop(fds);

        if let Some(stdin) = keys.filter(|_| typed) {
            if quit_key(&mut stdin.lock())? {
                return Ok(());
            }
        }
        if signalled {
            let mut resized = false;
            while let Some(info) = signals.read_signal().context("reading signalfd")? {
                if info.ssi_signo != Signal::SIGWINCH as u32 {
                    return Ok(());
                }
                resized = true;
            }
            if resized && !show(&latest, true)? {
                return Ok(());
            }
        }
        if Instant::now() >= next {
            latest = client.fetch()?;
            if !show(&latest, false)? {
                return Ok(());
            }
            next = (next + interval).max(Instant::now());
        }
    }
}

/// Read what was typed; true for q, Q, Ctrl-C, or the end of input.
fn quit_key(stdin: &mut impl Read) -> Result<bool> {
    let mut buf = [0u8; 64];
    match stdin.read(&mut buf) {
        Ok(0) => Ok(true),
        Ok(n) => Ok(buf[..n].iter().any(|&b| matches!(b, b'q' | b'Q' | 3))),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
        Err(e) => Err(e).context("reading the keyboard"),
    }
}

nix::ioctl_read_bad!(tiocgwinsz, nix::libc::TIOCGWINSZ, nix::libc::winsize);

/// The terminal while the view is up: raw keyboard input (when stdin is
/// the terminal), the alternate screen, no cursor. Dropping it puts all of
/// that back.
struct Screen {
    saved: Option<Termios>,
    out: io::Stdout,
}

impl Screen {
    fn enter(raw_keys: bool) -> Result<Self> {
        let saved = if raw_keys {
            let stdin = io::stdin();
            let saved = termios::tcgetattr(stdin.as_fd()).context("reading the terminal mode")?;
            let mut raw = saved.clone();
            termios::cfmakeraw(&mut raw);
            termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)
                .context("setting the terminal to raw mode")?;
            Some(saved)
        } else {
            None
        };
        let mut screen = Screen {
            saved,
            out: io::stdout(),
        };
        screen.write(b"\x1b[?1049h\x1b[?25l")?;
        Ok(screen)
    }

    /// The terminal's size, 80x24 when it cannot say.
    fn size(&self) -> (usize, usize) {
        let mut ws = nix::libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.out);
        // SAFETY: TIOCGWINSZ fills a struct winsize, which `ws` is.
        match unsafe { tiocgwinsz(fd, &mut ws) } {
            Ok(_) if ws.ws_col > 0 && ws.ws_row > 0 => (ws.ws_col.into(), ws.ws_row.into()),
            _ => (80, 24),
        }
    }

    /// Draw `m` over the whole screen: every line rewritten and cleared to
    /// its end, so nothing of the previous frame is left. `clear` first
    /// blanks the screen, for a resize, which some terminals reflow.
    fn draw(&mut self, m: &Metrics, clear: bool) -> Result<()> {
        let (w, h) = self.size();
        let mut buf = String::new();
        if clear {
            buf.push_str("\x1b[2J");
        }
        buf.push_str("\x1b[H");
        for (i, line) in render(m, w, h).split('\n').enumerate() {
            if i > 0 {
                buf.push_str("\r\n");
            }
            buf.push_str(line);
            buf.push_str("\x1b[K");
        }
        self.write(buf.as_bytes())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .and_then(|()| self.out.flush())
            .context("writing to the terminal")
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.write(b"\x1b[?25h\x1b[?1049l");
        if let Some(saved) = &self.saved {
            let _ = termios::tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quit_keys() {
        assert!(quit_key(&mut &b"q"[..]).unwrap());
        assert!(quit_key(&mut &b"xxQ"[..]).unwrap());
        assert!(quit_key(&mut &b"\x03"[..]).unwrap());
        assert!(quit_key(&mut &b""[..]).unwrap());
        assert!(!quit_key(&mut &b"x \x1b[A"[..]).unwrap());
    }
}
