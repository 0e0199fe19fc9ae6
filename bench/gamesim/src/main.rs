// SPDX-License-Identifier: GPL-2.0-only
//
// gamesim: a synthetic game, shaped like the real thing from the
// scheduler's point of view, that measures whether its frames are on time.
//
// Each frame starts on an absolute deadline (the frame rate's slots). A chain
// of three threads does the frame's CPU work, handing off the way Wine and
// Proton games do: game logic wakes the render thread through a futex, render
// wakes the submit thread through an eventfd, and submit marks the frame done.
// Work is measured in CPU time the thread actually got (its thread CPU
// clock), so a frame finishes late exactly when the scheduler did not give
// the chain its CPU in time. A frame that runs past the next slot skips the
// slots it ran over, as a vsynced game does, and those count as missed.
//
// An audio-like thread wakes every few milliseconds and must finish its small
// job before the next period. With --input, a uinput keyboard is typed on and
// a reader thread collects the events from evdev; the frame that consumes an
// event reports the event-to-frame-done latency. With --gpu-vgem, the
// submit thread ends each frame with a real GPU submit through vgem.

mod gpu;
mod stats;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use clap::Parser;
use stats::{percentile, FrameLog};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "gamesim",
    about = "A synthetic game that measures frame deadlines"
)]
struct Opts {
    /// Frame rate, in frames per second.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1000))]
    hz: u32,
    /// CPU work per frame, split over the logic, render and submit threads,
    /// in milliseconds.
    #[arg(long, default_value_t = 4.0)]
    work_ms: f64,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 8.0)]
    seconds: f64,
    /// Period of the audio thread, in milliseconds (0: no audio thread).
    #[arg(long, default_value_t = 5.0)]
    audio_period_ms: f64,
    /// CPU work of the audio thread per period, in microseconds.
    #[arg(long, default_value_t = 200.0)]
    audio_work_us: f64,
    /// Type on a uinput keyboard and read it back through evdev (root).
    #[arg(long)]
    input: bool,
    /// Time between typed input events, in milliseconds.
    #[arg(long, default_value_t = 20.0)]
    input_interval_ms: f64,
    /// Submit each frame's GPU work through vgem, the virtual GEM driver,
    /// from the submit thread: a real DRM submit ioctl per frame (needs the
    /// vgem module and access to its card).
    #[arg(long)]
    gpu_vgem: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a timespec to fill.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn now_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn sleep_until(deadline_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (deadline_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (deadline_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: an absolute CLOCK_MONOTONIC sleep; EINTR just retries.
    while unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_MONOTONIC,
            libc::TIMER_ABSTIME,
            &ts,
            std::ptr::null_mut(),
        )
    } == libc::EINTR
    {}
}

/// Use `ns` of CPU time: spin until this thread's CPU clock has advanced by
/// that much. Time spent waiting for a CPU does not count.
fn burn(ns: u64) {
    let start = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID);
    while clock_ns(libc::CLOCK_THREAD_CPUTIME_ID) - start < ns {
        std::hint::spin_loop();
    }
}

/// A futex hand-off (std's Mutex and Condvar are futexes on Linux): a
/// sequence number the receiver waits to see move.
struct Mailbox {
    seq: Mutex<u64>,
    cv: Condvar,
}

impl Mailbox {
    fn new() -> Self {
        Mailbox {
            seq: Mutex::new(0),
            cv: Condvar::new(),
        }
    }

    fn post(&self, value: u64) {
        *self.seq.lock().unwrap() = value;
        self.cv.notify_one();
    }

    /// Wait until the value differs from `seen`, and return it.
    fn wait_past(&self, seen: u64) -> u64 {
        let mut v = self.seq.lock().unwrap();
        while *v == seen {
            v = self.cv.wait(v).unwrap();
        }
        *v
    }
}

/// An eventfd hand-off, as Wine's esync uses.
struct EventFd(libc::c_int);

impl EventFd {
    fn new() -> Self {
        // SAFETY: plain syscall; the fd is owned by the returned value.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
        EventFd(fd)
    }

    fn signal(&self) {
        let one = 1u64;
        // SAFETY: writing 8 bytes from a u64 to our eventfd.
        unsafe { libc::write(self.0, (&one as *const u64).cast(), 8) };
    }

    fn wait(&self) {
        let mut v = 0u64;
        // SAFETY: reading 8 bytes into a u64 from our eventfd.
        unsafe { libc::read(self.0, (&mut v as *mut u64).cast(), 8) };
    }
}

/// Shared between the frame chain's threads.
struct Chain {
    to_render: Mailbox,
    to_submit: EventFd,
    done: Mailbox,
    stop: AtomicBool,
}

fn main() {
    let opts = Opts::parse();
    if !(opts.work_ms >= 0.0 && opts.seconds > 0.0 && opts.audio_period_ms >= 0.0) {
        eprintln!("gamesim: --work-ms and --audio-period-ms must be >= 0, --seconds > 0");
        std::process::exit(2);
    }
    let period_ns = 1_000_000_000 / u64::from(opts.hz);
    let work_ns = (opts.work_ms * 1e6) as u64;
    let (logic_ns, render_ns) = (work_ns * 3 / 10, work_ns / 2);
    let submit_ns = work_ns - logic_ns - render_ns;

    let chain = Arc::new(Chain {
        to_render: Mailbox::new(),
        to_submit: EventFd::new(),
        done: Mailbox::new(),
        stop: AtomicBool::new(false),
    });
    let pending_input: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(Vec::new()));

    let render = {
        let chain = chain.clone();
        thread::Builder::new()
            .name("render".into())
            .spawn(move || {
                let mut seen = 0;
                loop {
                    seen = chain.to_render.wait_past(seen);
                    if chain.stop.load(Ordering::Relaxed) {
                        chain.to_submit.signal();
                        return;
                    }
                    burn(render_ns);
                    chain.to_submit.signal();
                }
            })
            .unwrap()
    };
    let vgem = if opts.gpu_vgem {
        match gpu::Vgem::open() {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("gamesim: --gpu-vgem: {e}");
                std::process::exit(1);
            }
        }
    } else {
        None
    };
    let submit = {
        let chain = chain.clone();
        thread::Builder::new()
            .name("submit".into())
            .spawn(move || -> u64 {
                let mut submits = 0;
                loop {
                    chain.to_submit.wait();
                    if chain.stop.load(Ordering::Relaxed) {
                        return submits;
                    }
                    burn(submit_ns);
                    if let Some(v) = &vgem {
                        if let Err(e) = v.submit() {
                            eprintln!("gamesim: {e}");
                            std::process::exit(1);
                        }
                        submits += 1;
                    }
                    chain.done.post(now_ns());
                }
            })
            .unwrap()
    };

    let end_ns = now_ns() + (opts.seconds * 1e9) as u64;
    let audio = (opts.audio_period_ms > 0.0).then(|| {
        let period = (opts.audio_period_ms * 1e6) as u64;
        let work = (opts.audio_work_us * 1e3) as u64;
        thread::Builder::new()
            .name("audio".into())
            .spawn(move || audio_loop(period, work, end_ns))
            .unwrap()
    });
    let input = opts.input.then(|| {
        let interval = (opts.input_interval_ms * 1e6) as u64;
        input::start(interval, end_ns, pending_input.clone())
    });

    // The game logic thread: paces frames on absolute slots.
    let mut log = FrameLog::default();
    let mut input_latency_ms: Vec<f64> = Vec::new();
    let mut slot = now_ns() + period_ns;
    let mut last_done: Option<u64> = None;
    let mut seq = 0u64;
    while slot + period_ns <= end_ns {
        sleep_until(slot);
        let consumed: Vec<u64> = std::mem::take(&mut *pending_input.lock().unwrap());
        burn(logic_ns);
        seq += 1;
        chain.to_render.post(seq);
        let done = chain.done.wait_past(last_done.unwrap_or(0));
        let deadline = slot + period_ns;
        log.lateness_ms.push((done as f64 - deadline as f64) / 1e6);
        if let Some(prev) = last_done {
            log.frame_ms.push((done - prev) as f64 / 1e6);
        }
        input_latency_ms.extend(
            consumed
                .iter()
                .map(|&t| done.saturating_sub(t) as f64 / 1e6),
        );
        last_done = Some(done);

        slot += period_ns;
        let now = now_ns();
        if now > slot {
            let behind = (now - slot).div_ceil(period_ns);
            log.skipped_slots += behind;
            slot += behind * period_ns;
        }
    }

    chain.stop.store(true, Ordering::Relaxed);
    chain.to_render.post(u64::MAX);
    render.join().unwrap();
    let gpu_submits = submit.join().unwrap();
    let (audio_periods, audio_missed) = audio.map(|h| h.join().unwrap()).unwrap_or((0, 0));
    let input_events = input.map(|h| h.join().unwrap()).unwrap_or(0);

    let s = log.summary();
    input_latency_ms.sort_by(|a, b| a.total_cmp(b));
    let (in_p50, in_p99) = (
        percentile(&input_latency_ms, 50.0),
        percentile(&input_latency_ms, 99.0),
    );
    if opts.json {
        println!(
            "{{\"hz\":{},\"work_ms\":{},\"seconds\":{},\"frames\":{},\"missed\":{},\
             \"missed_ratio\":{:.6},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\
             \"one_percent_low_fps\":{:.2},\"max_late_ms\":{:.3},\"audio_periods\":{},\
             \"audio_missed\":{},\"input_events\":{},\"input_frames_p50_ms\":{:.3},\
             \"input_frames_p99_ms\":{:.3},\"gpu_submits\":{}}}",
            opts.hz,
            opts.work_ms,
            opts.seconds,
            s.frames,
            s.missed,
            s.missed_ratio,
            s.p50_ms,
            s.p99_ms,
            s.p999_ms,
            s.one_percent_low_fps,
            s.max_late_ms,
            audio_periods,
            audio_missed,
            input_events,
            in_p50,
            in_p99,
            gpu_submits
        );
    } else {
        println!(
            "{} Hz, {} ms work: {} frames, {} missed ({:.1} %), frame time p50 {:.2} ms \
             p99 {:.2} ms p99.9 {:.2} ms, 1% low {:.1} FPS, worst {:.2} ms late",
            opts.hz,
            opts.work_ms,
            s.frames,
            s.missed,
            s.missed_ratio * 100.0,
            s.p50_ms,
            s.p99_ms,
            s.p999_ms,
            s.one_percent_low_fps,
            s.max_late_ms
        );
        println!("audio: {audio_periods} periods, {audio_missed} missed");
        if opts.input {
            println!(
                "input: {input_events} events, to frame done p50 {in_p50:.2} ms p99 {in_p99:.2} ms"
            );
        }
        if opts.gpu_vgem {
            println!("gpu: {gpu_submits} submits through vgem");
        }
    }
}

/// Wake every `period` ns, use `work` ns of CPU, and count the periods whose
/// work was not done before the next period began; periods overrun entirely
/// are skipped and count as missed too. Returns (periods, missed).
fn audio_loop(period: u64, work: u64, end_ns: u64) -> (u64, u64) {
    let (mut periods, mut missed) = (0u64, 0u64);
    let mut wake = now_ns() + period;
    while wake + period <= end_ns {
        sleep_until(wake);
        burn(work);
        let (next, skipped, late) = stats::next_period(wake, period, now_ns());
        periods += 1 + skipped;
        missed += u64::from(late) + skipped;
        wake = next;
    }
    (periods, missed)
}

/// Input through a real uinput keyboard, read back from its evdev node.
mod input {
    use super::now_ns;
    use std::fs::OpenOptions;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::{self, JoinHandle};

    const UI_SET_EVBIT: libc::c_ulong = 0x4004_5564;
    const UI_SET_KEYBIT: libc::c_ulong = 0x4004_5565;
    const UI_DEV_SETUP: libc::c_ulong = 0x405c_5503;
    const UI_DEV_CREATE: libc::c_ulong = 0x5501;
    const UI_DEV_DESTROY: libc::c_ulong = 0x5502;
    const EVIOCSCLOCKID: libc::c_ulong = 0x4004_45a0;
    const EV_SYN: u16 = 0;
    const EV_KEY: u16 = 1;
    const KEY_A: u16 = 30;
    const EVENT_SIZE: usize = 24;

    fn event(kind: u16, code: u16, value: i32) -> [u8; EVENT_SIZE] {
        let mut e = [0u8; EVENT_SIZE];
        e[16..18].copy_from_slice(&kind.to_ne_bytes());
        e[18..20].copy_from_slice(&code.to_ne_bytes());
        e[20..24].copy_from_slice(&value.to_ne_bytes());
        e
    }

    fn sysname(fd: i32) -> String {
        let mut buf = [0u8; 64];
        let req = (2 << 30) | ((buf.len() as libc::c_ulong) << 16) | (0x55 << 8) | 44;
        // SAFETY: UI_GET_SYSNAME fills at most buf.len() bytes.
        unsafe { libc::ioctl(fd, req, buf.as_mut_ptr()) };
        String::from_utf8_lossy(buf.split(|&b| b == 0).next().unwrap_or(&[])).into_owned()
    }

    /// Type every `interval` ns until `end_ns`; events read back from evdev
    /// go, with their kernel timestamps, into `pending`. The handle returns
    /// how many events were read.
    pub fn start(interval: u64, end_ns: u64, pending: Arc<Mutex<Vec<u64>>>) -> JoinHandle<u64> {
        let mut ui = OpenOptions::new()
            .write(true)
            .open("/dev/uinput")
            .expect("gamesim --input needs /dev/uinput (modprobe uinput, as root)");
        let fd = ui.as_raw_fd();
        let mut setup = [0u8; 92];
        setup[0..2].copy_from_slice(&3u16.to_ne_bytes());
        setup[8..8 + 16].copy_from_slice(b"gamesim-keyboard");
        // SAFETY: uinput ioctls on our own fd with the layouts the uapi gives.
        unsafe {
            libc::ioctl(fd, UI_SET_EVBIT, libc::c_int::from(EV_KEY));
            libc::ioctl(fd, UI_SET_KEYBIT, libc::c_int::from(KEY_A));
            libc::ioctl(fd, UI_DEV_SETUP, setup.as_ptr());
            libc::ioctl(fd, UI_DEV_CREATE);
        }
        let dir = format!("/sys/devices/virtual/input/{}", sysname(fd));
        let node = (0..200)
            .find_map(|_| {
                let found = std::fs::read_dir(&dir).ok()?.flatten().find_map(|e| {
                    let n = e.file_name().into_string().ok()?;
                    n.starts_with("event").then(|| format!("/dev/input/{n}"))
                });
                if found
                    .as_deref()
                    .is_some_and(|p| std::path::Path::new(p).exists())
                {
                    return found;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
                None
            })
            .expect("the uinput keyboard got no evdev node (is the evdev module loaded?)");
        let mut evdev = std::fs::File::open(&node).expect("opening the evdev node");
        let monotonic: libc::c_int = libc::CLOCK_MONOTONIC;
        // SAFETY: EVIOCSCLOCKID takes a pointer to an int clock id.
        unsafe { libc::ioctl(evdev.as_raw_fd(), EVIOCSCLOCKID, &monotonic) };

        // Set by the typist before its last event, which only wakes the
        // reader to see it: a time check alone races with that event.
        let stop = Arc::new(AtomicBool::new(false));
        let reader_stop = stop.clone();
        let reader = thread::Builder::new()
            .name("input".into())
            .spawn(move || {
                let mut buf = [0u8; EVENT_SIZE * 16];
                let mut count = 0u64;
                while let Ok(n) = evdev.read(&mut buf) {
                    if n == 0 || reader_stop.load(Ordering::Acquire) {
                        break;
                    }
                    let mut got = pending.lock().unwrap();
                    for e in buf[..n].chunks_exact(EVENT_SIZE) {
                        let kind = u16::from_ne_bytes([e[16], e[17]]);
                        if kind == EV_KEY {
                            let sec = u64::from_ne_bytes(e[0..8].try_into().unwrap());
                            let usec = u64::from_ne_bytes(e[8..16].try_into().unwrap());
                            got.push(sec * 1_000_000_000 + usec * 1000);
                            count += 1;
                        }
                    }
                }
                count
            })
            .unwrap();

        thread::Builder::new()
            .name("typist".into())
            .spawn(move || {
                let mut next = now_ns() + interval;
                let mut down = 1;
                while next < end_ns {
                    super::sleep_until(next);
                    let _ = ui.write_all(&event(EV_KEY, KEY_A, down));
                    let _ = ui.write_all(&event(EV_SYN, 0, 0));
                    down ^= 1;
                    next += interval;
                }
                // One more event wakes the reader so it sees the end.
                stop.store(true, Ordering::Release);
                let _ = ui.write_all(&event(EV_KEY, KEY_A, down));
                let _ = ui.write_all(&event(EV_SYN, 0, 0));
                let count = reader.join().unwrap_or(0);
                // SAFETY: destroying the device we created on our own fd.
                unsafe { libc::ioctl(ui.as_raw_fd(), UI_DEV_DESTROY) };
                count
            })
            .unwrap()
    }
}
