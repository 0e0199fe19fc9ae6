// SPDX-License-Identifier: GPL-2.0-only
//
// The one event loop: a single epoll set holding every ringbuf, plus
// whatever other fds the owner adds (signalfd, timerfd, inotify), served by
// the one thread that calls `wait`.
//
// Ringbufs are drained through libbpf, which reads their mmapped pages
// directly: draining makes no syscall. Records go out to consumers over
// bounded channels with `try_send`, so a slow consumer costs its own events
// (counted as drops), never the loop's time. In steady state the only
// syscall is epoll_wait itself, which the loop counts.
//
// The producers wake the loop only when a ringbuf is half full (see
// events.bpf.c); below that the loop drains on its own timeout. The timeout
// adapts: short while events flow, growing while none come, so an idle
// desktop costs a few wakeups a second.

use std::cell::{Cell, RefCell};
use std::os::fd::BorrowedFd;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, Result};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use libbpf_rs::{MapCore, RingBuffer, RingBufferBuilder};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use super::records::{Event, Kind};

/// The drain timeout while events keep coming: how stale an event can be
/// when a consumer gets it, at rates too low to fill half a ringbuf.
pub const MIN_DRAIN: Duration = Duration::from_millis(10);
/// The drain timeout after a long quiet spell.
pub const MAX_DRAIN: Duration = Duration::from_millis(160);

/// The token epoll reports for any ringbuf.
const RING_TOKEN: u64 = u64::MAX;
/// How many ready fds one wait reports at most; the rest come next time.
const MAX_READY: usize = 32;

/// A consumer's end of the loop: the kinds it wants, and its channel.
pub struct Consumer {
    name: &'static str,
    kinds: u32,
    tx: Sender<Event>,
    sent: Cell<u64>,
    dropped: Cell<u64>,
}

/// A consumer taking `kinds`, with room for `capacity` events in flight,
/// and the receiving end for its thread.
pub fn consumer(
    name: &'static str,
    kinds: &[Kind],
    capacity: usize,
) -> (Consumer, Receiver<Event>) {
    let (tx, rx) = crossbeam_channel::bounded(capacity);
    let kinds = kinds.iter().fold(0, |m, k| m | k.bit());
    let c = Consumer {
        name,
        kinds,
        tx,
        sent: Cell::new(0),
        dropped: Cell::new(0),
    };
    (c, rx)
}

/// Counters of one consumer's channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelCounts {
    pub name: &'static str,
    pub sent: u64,
    /// Events not delivered because the channel was full or closed.
    pub dropped: u64,
}

/// What the loop has seen so far.
#[derive(Clone, Debug, Default)]
pub struct LoopCounts {
    /// Records read, per `Kind` (in `Kind::ALL` order).
    pub events: [u64; Kind::ALL.len()],
    /// Records too short for their type (never expected: a layout bug).
    pub malformed: u64,
    pub channels: Vec<ChannelCounts>,
    /// Syscalls made by the loop thread: epoll_wait and the reads the
    /// owner reports with `count_syscall`.
    pub syscalls: u64,
    /// How many times epoll_wait returned.
    pub wakeups: u64,
}

/// Shared between the ringbuf callbacks and the loop.
struct Dispatch {
    events: [Cell<u64>; Kind::ALL.len()],
    malformed: Cell<u64>,
    consumers: RefCell<Vec<Consumer>>,
}

impl Dispatch {
    fn on_record(&self, kind: Kind, data: &[u8]) {
        let Some(event) = Event::parse(kind, data) else {
            self.malformed.set(self.malformed.get() + 1);
            return;
        };
        let slot = &self.events[kind as usize];
        slot.set(slot.get() + 1);
        for c in self.consumers.borrow().iter() {
            if c.kinds & kind.bit() == 0 {
                continue;
            }
            match c.tx.try_send(event) {
                Ok(()) => c.sent.set(c.sent.get() + 1),
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    c.dropped.set(c.dropped.get() + 1)
                }
            }
        }
    }
}

pub struct EventLoop<'a> {
    epoll: Epoll,
    rings: RingBuffer<'a>,
    dispatch: Rc<Dispatch>,
    timeout: Duration,
    syscalls: u64,
    wakeups: u64,
    ready: [u64; MAX_READY],
}

impl<'a> EventLoop<'a> {
    /// A loop over `rings` (each ringbuf map with the kind of record it
    /// carries), delivering to `consumers`.
    pub fn new(rings: &[(Kind, &'a dyn MapCore)], consumers: Vec<Consumer>) -> Result<Self> {
        let epoll =
            Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("creating the epoll set")?;
        let dispatch = Rc::new(Dispatch {
            events: Default::default(),
            malformed: Cell::new(0),
            consumers: RefCell::new(consumers),
        });
        let mut builder = RingBufferBuilder::new();
        for &(kind, map) in rings {
            let d = Rc::clone(&dispatch);
            builder
                .add(map, move |data| {
                    d.on_record(kind, data);
                    0
                })
                .with_context(|| format!("adding the {} ringbuf", kind.name()))?;
            epoll
                .add(
                    map.as_fd(),
                    EpollEvent::new(EpollFlags::EPOLLIN, RING_TOKEN),
                )
                .with_context(|| format!("adding the {} ringbuf to epoll", kind.name()))?;
        }
        let rings = builder.build().context("mapping the ringbufs")?;
        Ok(EventLoop {
            epoll,
            rings,
            dispatch,
            timeout: MIN_DRAIN,
            syscalls: 0,
            wakeups: 0,
            ready: [0; MAX_READY],
        })
    }

    /// Watch `fd` for input; `wait` reports `token` when it is readable.
    pub fn add_fd(&mut self, fd: BorrowedFd<'_>, token: u64) -> Result<()> {
        anyhow::ensure!(
            token != RING_TOKEN,
            "token {token} is reserved for ringbufs"
        );
        self.epoll
            .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, token))
            .context("adding an fd to the epoll set")
    }

    /// Another consumer, from now on.
    pub fn add_consumer(&mut self, c: Consumer) {
        self.dispatch.consumers.borrow_mut().push(c);
    }

    /// The owner made a syscall on the loop's behalf (reading a timerfd,
    /// signalfd or inotify fd it was woken for): count it.
    pub fn count_syscall(&mut self) {
        self.syscalls += 1;
    }

    /// Wait for ringbuf data, a ready fd or the drain timeout, whichever
    /// comes first, then drain every ringbuf. Returns the tokens of the
    /// other fds that are ready.
    pub fn wait(&mut self) -> Result<&[u64]> {
        let mut events = [EpollEvent::empty(); MAX_READY];
        let timeout = EpollTimeout::try_from(self.timeout).unwrap_or(EpollTimeout::NONE);
        self.syscalls += 1;
        let n = match self.epoll.wait(&mut events, timeout) {
            Ok(n) => n,
            Err(Errno::EINTR) => 0,
            Err(e) => return Err(e).context("waiting on the epoll set"),
        };
        self.wakeups += 1;
        self.drain()?;
        let mut len = 0;
        for ev in &events[..n] {
            if ev.data() != RING_TOKEN {
                self.ready[len] = ev.data();
                len += 1;
            }
        }
        Ok(&self.ready[..len])
    }

    /// Read every record waiting in every ringbuf, and adapt the timeout.
    pub fn drain(&mut self) -> Result<usize> {
        let n = self.rings.consume_raw();
        if n < 0 {
            return Err(std::io::Error::from_raw_os_error(-n)).context("draining the ringbufs");
        }
        self.timeout = if n > 0 {
            MIN_DRAIN
        } else {
            (self.timeout * 2).min(MAX_DRAIN)
        };
        Ok(n as usize)
    }

    pub fn counts(&self) -> LoopCounts {
        let d = &self.dispatch;
        LoopCounts {
            events: std::array::from_fn(|i| d.events[i].get()),
            malformed: d.malformed.get(),
            channels: d
                .consumers
                .borrow()
                .iter()
                .map(|c| ChannelCounts {
                    name: c.name,
                    sent: c.sent.get(),
                    dropped: c.dropped.get(),
                })
                .collect(),
            syscalls: self.syscalls,
            wakeups: self.wakeups,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dispatch_with(consumers: Vec<Consumer>) -> Dispatch {
        Dispatch {
            events: Default::default(),
            malformed: Cell::new(0),
            consumers: RefCell::new(consumers),
        }
    }

    fn frame_bytes() -> Vec<u8> {
        vec![0u8; std::mem::size_of::<super::super::records::FrameEvent>()]
    }

    #[test]
    fn a_full_channel_counts_drops_and_never_blocks() {
        let (c, rx) = consumer("stats", &[Kind::Frame], 2);
        let d = dispatch_with(vec![c]);
        for _ in 0..5 {
            d.on_record(Kind::Frame, &frame_bytes());
        }
        let consumers = d.consumers.borrow();
        assert_eq!(
            (consumers[0].sent.get(), consumers[0].dropped.get()),
            (2, 3)
        );
        assert_eq!(d.events[Kind::Frame as usize].get(), 5);
        assert_eq!(rx.len(), 2);
    }

    #[test]
    fn consumers_get_only_the_kinds_they_asked_for() {
        let (frames, frame_rx) = consumer("frames", &[Kind::Frame], 8);
        let (procs, proc_rx) = consumer("procs", &[Kind::Proc], 8);
        let d = dispatch_with(vec![frames, procs]);
        d.on_record(Kind::Frame, &frame_bytes());
        assert_eq!((frame_rx.len(), proc_rx.len()), (1, 0));
    }

    #[test]
    fn a_closed_channel_is_a_drop_and_short_records_are_malformed() {
        let (c, rx) = consumer("gone", &[Kind::Frame], 8);
        drop(rx);
        let d = dispatch_with(vec![c]);
        d.on_record(Kind::Frame, &frame_bytes());
        d.on_record(Kind::Frame, &[0u8; 3]);
        assert_eq!(d.consumers.borrow()[0].dropped.get(), 1);
        assert_eq!(d.malformed.get(), 1);
    }
}
