// SPDX-License-Identifier: GPL-2.0-only
//
// The one event loop: a single epoll set holding every ringbuf plus the
// owner's fds (signalfd, timerfd, inotify), served by the thread that calls
// `wait`.
//
// Ringbufs are drained with libbpf-rs's `RingBuffer` from their mmapped
// pages, so draining makes no syscall (it was measured against a
// hand-written reader: docs/events.md); its own epoll set is unused, the
// rings sit in this loop's. Records go to consumers over bounded channels
// with `try_send`, so a slow consumer costs its own events (counted as
// drops), never the loop's time.
//
// The producers wake the loop only when a ringbuf is half full (see
// events.bpf.c); below that the loop drains on its own timeout while events
// flow. Once a drain finds the rings empty, a loop with a tick (`add_tick`,
// the scheduler's 1 s timer, which drains too) waits with no timeout, so an
// idle desktop costs no timed wakeup; one without backs off to MAX_DRAIN.

use std::cell::RefCell;
use std::os::fd::BorrowedFd;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, Result};
use crossbeam_channel::{Receiver, Sender};
use libbpf_rs::{MapCore, RingBuffer, RingBufferBuilder};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use super::records::{Event, Kind};

/// The drain timeout while events keep coming: how stale an event can be,
/// at rates too low to fill half a ringbuf. No scheduling decision waits on
/// userspace (exec events wake the loop at once), and a slower drain keeps
/// the scheduler's own process off the game's CPUs (docs/events.md).
pub const MIN_DRAIN: Duration = Duration::from_millis(50);
/// The drain timeout after a long quiet spell, for a loop without a tick.
pub const MAX_DRAIN: Duration = Duration::from_millis(160);

/// The token epoll reports for any ringbuf.
const RING_TOKEN: u64 = u64::MAX;
/// How many ready fds one wait reports at most; the rest come next time.
const MAX_READY: usize = 32;

/// Counters of one consumer's channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelCounts {
    pub name: &'static str,
    pub sent: u64,
    /// Events not delivered because the channel was full or closed.
    pub dropped: u64,
}

/// A consumer's end of the loop: the kinds it wants (a mask of
/// `Kind::bit`), its channel and its counters.
pub struct Consumer {
    kinds: u32,
    tx: Sender<Event>,
    counts: ChannelCounts,
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
    let counts = ChannelCounts {
        name,
        ..Default::default()
    };
    (Consumer { kinds, tx, counts }, rx)
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

/// Where records go once read: counted, then offered to each consumer.
#[derive(Default)]
struct Dispatch {
    events: [u64; Kind::ALL.len()],
    malformed: u64,
    consumers: Vec<Consumer>,
}

impl Dispatch {
    fn on_record(&mut self, kind: Kind, data: &[u8]) {
        let Some(event) = Event::parse(kind, data) else {
            self.malformed += 1;
            return;
        };
        self.events[kind as usize] += 1;
        for c in self.consumers.iter_mut() {
            if c.kinds & kind.bit() != 0 {
                match c.tx.try_send(event) {
                    Ok(()) => c.counts.sent += 1,
                    Err(_) => c.counts.dropped += 1,
                }
            }
        }
    }
}

pub struct EventLoop {
    epoll: Epoll,
    rings: RingBuffer<'static>,
    /// Shared with the rings' callbacks, which run only inside `drain`.
    dispatch: Rc<RefCell<Dispatch>>,
    /// None: wait until a ring wakes the loop or another fd is ready.
    timeout: Option<Duration>,
    /// The longest drain timeout; None: no timeout once the rings are empty.
    max_drain: Option<Duration>,
    syscalls: u64,
    wakeups: u64,
}

impl EventLoop {
    /// A loop over `rings` (each map with the kind of record it carries),
    /// delivering to `consumers`.
    pub fn new(rings: &[(Kind, &dyn MapCore)], consumers: Vec<Consumer>) -> Result<Self> {
        let epoll =
            Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("creating the epoll set")?;
        let dispatch = Rc::new(RefCell::new(Dispatch {
            consumers,
            ..Default::default()
        }));
        let mut builder = RingBufferBuilder::new();
        for &(kind, map) in rings {
            let dispatch = Rc::clone(&dispatch);
            builder
                .add(map, move |data: &[u8]| {
                    dispatch.borrow_mut().on_record(kind, data);
                    0
                })
                .with_context(|| format!("mapping the {} ringbuf", kind.name()))?;
            // Edge-triggered: reported when its producer wakes the loop (half
            // full), not for every record of a steady stream. Each wakeup
            // drains every ring, as edge triggering requires.
            let ev = EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLET, RING_TOKEN);
            epoll
                .add(map.as_fd(), ev)
                .with_context(|| format!("adding the {} ringbuf to epoll", kind.name()))?;
        }
        Ok(EventLoop {
            epoll,
            rings: builder.build().context("setting up the ringbuf reader")?,
            dispatch,
            timeout: Some(MIN_DRAIN),
            max_drain: Some(MAX_DRAIN),
            syscalls: 0,
            wakeups: 0,
        })
    }

    /// Watch `fd` for input; `wait` reports `token` when it is readable.
    /// With `edge`, only when new input arrives, not while unread input
    /// remains: for an fd another thread reads, so the loop does not spin
    /// until that thread gets to it.
    pub fn add_fd(&mut self, fd: BorrowedFd<'_>, token: u64, edge: bool) -> Result<()> {
        anyhow::ensure!(token != RING_TOKEN, "token {token} is reserved");
        let flags = if edge {
            EpollFlags::EPOLLIN | EpollFlags::EPOLLET
        } else {
            EpollFlags::EPOLLIN
        };
        self.epoll
            .add(fd, EpollEvent::new(flags, token))
            .context("adding an fd to epoll")
    }

    /// Watch `fd`, a periodic timer, like `add_fd`. Its expiries drain the
    /// rings, bounding how long a trickle below the wake threshold waits, so
    /// from now on a drain that finds the rings empty ends the timed waits.
    pub fn add_tick(&mut self, fd: BorrowedFd<'_>, token: u64) -> Result<()> {
        self.max_drain = None;
        self.add_fd(fd, token, false)
    }

    /// Count a syscall the owner made on the loop's behalf (reading an fd
    /// it was woken for).
    pub fn count_syscall(&mut self) {
        self.syscalls += 1;
    }

    /// Wait for ringbuf data, a ready fd or the drain timeout, then drain
    /// every ringbuf. Returns the tokens of the other fds that are ready.
    pub fn wait(&mut self) -> Result<Vec<u64>> {
        let mut events = [EpollEvent::empty(); MAX_READY];
        let timeout = self
            .timeout
            .and_then(|t| EpollTimeout::try_from(t).ok())
            .unwrap_or(EpollTimeout::NONE);
        self.syscalls += 1;
        let n = match self.epoll.wait(&mut events, timeout) {
            Ok(n) => n,
            Err(Errno::EINTR) => 0,
            Err(e) => return Err(e).context("waiting on the epoll set"),
        };
        self.wakeups += 1;
        self.drain();
        let tokens = events[..n].iter().map(|ev| ev.data());
        Ok(tokens.filter(|&t| t != RING_TOKEN).collect())
    }

    /// Read every record waiting in every ringbuf, and adapt the timeout.
    pub fn drain(&mut self) -> usize {
        // A negative count is an error of a callback; ours return none.
        let n = usize::try_from(self.rings.consume_raw()).unwrap_or(0);
        self.timeout = next_timeout(self.timeout, n, self.max_drain);
        n
    }

    pub fn counts(&self) -> LoopCounts {
        let d = self.dispatch.borrow();
        LoopCounts {
            events: d.events,
            malformed: d.malformed,
            channels: d.consumers.iter().map(|c| c.counts.clone()).collect(),
            syscalls: self.syscalls,
            wakeups: self.wakeups,
        }
    }
}

/// The drain timeout after a drain that read `drained` records: MIN_DRAIN
/// while records come; when none came, twice the last one up to `max`, or
/// no timeout at all when there is no `max`.
fn next_timeout(last: Option<Duration>, drained: usize, max: Option<Duration>) -> Option<Duration> {
    if drained > 0 {
        return Some(MIN_DRAIN);
    }
    let max = max?;
    Some(last.map_or(max, |t| (t * 2).min(max)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dispatch_with(consumers: Vec<Consumer>) -> Dispatch {
        Dispatch {
            consumers,
            ..Default::default()
        }
    }

    fn frame_bytes() -> Vec<u8> {
        vec![0u8; std::mem::size_of::<super::super::records::FrameEvent>()]
    }

    #[test]
    fn records_keep_the_drain_short_and_quiet_ends_the_timeout() {
        assert_eq!(next_timeout(None, 3, None), Some(MIN_DRAIN));
        // The first empty drain after a flow ends the timed waits.
        assert_eq!(next_timeout(Some(MIN_DRAIN), 0, None), None);
        assert_eq!(next_timeout(None, 0, None), None);
    }

    #[test]
    fn without_a_tick_quiet_backs_off_to_max_drain() {
        let max = Some(MAX_DRAIN);
        assert_eq!(next_timeout(Some(MIN_DRAIN), 0, max), Some(MIN_DRAIN * 2));
        assert_eq!(next_timeout(Some(MAX_DRAIN), 0, max), max);
        assert_eq!(next_timeout(Some(MAX_DRAIN), 1, max), Some(MIN_DRAIN));
    }

    #[test]
    fn a_full_channel_counts_drops_and_never_blocks() {
        let (c, rx) = consumer("stats", &[Kind::Frame], 2);
        let mut d = dispatch_with(vec![c]);
        for _ in 0..5 {
            d.on_record(Kind::Frame, &frame_bytes());
        }
        assert_eq!(
            (d.consumers[0].counts.sent, d.consumers[0].counts.dropped),
            (2, 3)
        );
        assert_eq!(d.events[Kind::Frame as usize], 5);
        assert_eq!(rx.len(), 2);
    }

    #[test]
    fn consumers_get_only_the_kinds_they_asked_for() {
        let (frames, frame_rx) = consumer("frames", &[Kind::Frame], 8);
        let (procs, proc_rx) = consumer("procs", &[Kind::Proc], 8);
        let mut d = dispatch_with(vec![frames, procs]);
        d.on_record(Kind::Frame, &frame_bytes());
        assert_eq!((frame_rx.len(), proc_rx.len()), (1, 0));
    }

    #[test]
    fn a_closed_channel_is_a_drop_and_short_records_are_malformed() {
        let (c, rx) = consumer("gone", &[Kind::Frame], 8);
        drop(rx);
        let mut d = dispatch_with(vec![c]);
        d.on_record(Kind::Frame, &frame_bytes());
        d.on_record(Kind::Frame, &[0u8; 3]);
        assert_eq!(d.consumers[0].counts.dropped, 1);
        assert_eq!(d.malformed, 1);
    }
}
