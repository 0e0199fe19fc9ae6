// SPDX-License-Identifier: GPL-2.0-only
//
// One attachment of the BPF scheduler: open, set the tunables, load, attach,
// wait for a signal or for the kernel to end it, detach. main.rs decides
// whether to start another one afterwards.

use std::collections::BTreeSet;
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use crossbeam_channel::Receiver;
use libbpf_rs::libbpf_sys;
use libbpf_rs::skel::OpenSkel;
use libbpf_rs::{Link, MapCore, MapFlags, MapHandle, OpenObject};
use log::info;
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, uei_read};
use scx_utils::{ScxExitKind, Topology, UserExitInfo};

use crate::bpf_intf;
use crate::bpf_skel::{BpfSkel, BpfSkelBuilder};
use crate::classes;
use crate::cli::Opts;
use crate::detect;
use crate::detect::worker::Detected;
use crate::events::event_loop::{self, EventLoop, LoopCounts};
use crate::events::records::{self, Event, Kind};
use crate::hooks;
use crate::launch::LaunchSocket;
use crate::preflight;
use crate::stats;
use crate::topology;

/// The period of the loop's housekeeping: the clock offset BPF needs, and
/// the counters.
const TICK: Duration = Duration::from_secs(1);
/// Event loop tokens of the fds besides the ringbufs.
const SIGNAL_TOKEN: u64 = 0;
const TICK_TOKEN: u64 = 1;
const AUDIO_TOKEN: u64 = 2;
const LAUNCH_TOKEN: u64 = 3;
/// How many exec and exit events may wait for launch detection.
const DETECT_BACKLOG: usize = 1024;
/// How many frame and input events may wait for the stats thread: a
/// second of an 8 kHz mouse.
const STATS_BACKLOG: usize = 8192;
/// How many events may wait for the printer of `--watch-*` before new ones
/// are dropped (and counted).
const WATCH_BACKLOG: usize = 8192;

/// Dispatch counters, named in the order of `enum gamer_stat` in intf.h.
pub const STAT_NAMES: [&str; bpf_intf::gamer_stat_NR_GSTATS as usize] = [
    "direct-idle",
    "topology-idle",
    "enqueue-idle",
    "kthread-local",
    "shared",
    "critical",
    "keep-running",
    "cpu-release",
    "preempt-kick",
    "starve-guard",
    "aged",
    "input-tier",
];

/// The BPF .bss variables userspace writes while the scheduler runs. BPF
/// reads them concurrently, so they are only ever touched atomically.
struct SharedVars<'obj> {
    /// CLOCK_TAI - CLOCK_REALTIME (events.bpf.c).
    tai_offset: &'obj AtomicU64,
    /// Bumped after each change to a per-process class map
    /// (classify.bpf.c).
    proc_gen: &'obj AtomicU64,
}

impl<'obj> SharedVars<'obj> {
    fn take(skel: &mut BpfSkel<'obj>) -> Result<Self> {
        let bss = skel
            .maps
            .bss_data
            .take()
            .context("the BPF object has no .bss to share")?;
        // SAFETY: the .bss is mmapped for as long as the object lives
        // ('obj), the fields are u64-aligned, and from here on this side
        // only reaches them through these atomics.
        let tai_offset = unsafe { AtomicU64::from_ptr(&mut bss.tai_offset_ns) };
        // SAFETY: as above.
        let proc_gen = unsafe { AtomicU64::from_ptr(&mut bss.proc_gen) };
        Ok(SharedVars {
            tai_offset,
            proc_gen,
        })
    }
}

/// What the loop serves besides its ringbufs, and where it sends things.
struct LoopIo<'a> {
    signals: &'a SignalFd,
    /// The launch socket and the map its marks go to.
    launch: Option<(&'a LaunchSocket, &'a MapHandle)>,
    tick: &'a TimerFd,
    inotify: &'a crossbeam_channel::Sender<()>,
    ticks: &'a crossbeam_channel::Sender<stats::Metrics>,
    detected: &'a Mutex<Detected>,
}

/// Why an attachment ended.
pub enum Ending {
    /// SIGINT or SIGTERM: the user wants the scheduler gone.
    Signal,
    /// The kernel or the BPF side ended it without an error (a restart
    /// request, an unregistration); the exit info says why.
    Exited(UserExitInfo),
    /// The kernel ejected it for an error: a BPF error, a runtime error, a
    /// stall. The error carries the reason.
    Failed(anyhow::Error),
}

pub struct Scheduler<'obj> {
    skel: BpfSkel<'obj>,
    /// Variables of the BPF .bss that userspace writes while attached.
    shared: SharedVars<'obj>,
    link: Option<Link>,
    /// The event streams printed live (`--watch-*`, `--log-classes`).
    watch: Vec<Kind>,
    /// Where the stats go once a second, and how often (in snapshots) the
    /// `--stats` block is printed.
    publisher: Arc<stats::Publisher>,
    print_stats_every: Option<u64>,
}

impl<'obj> Scheduler<'obj> {
    /// Open, configure, load and attach the BPF scheduler.
    /// Optional hook programs named in `refused` stay off: a load has
    /// already failed on them. A load that fails on another one returns a
    /// [`hooks::HookLoadFailed`] naming it.
    pub fn attach(
        opts: &Opts,
        open_object: &'obj mut MaybeUninit<OpenObject>,
        publisher: Arc<stats::Publisher>,
        refused: &BTreeSet<String>,
    ) -> Result<Self> {
        let plan = topology_plan(opts)?;

        let mut builder = BpfSkelBuilder::default();
        builder.obj_builder.debug(opts.verbose);
        let mut skel = scx_ops_open!(
            builder,
            open_object,
            gamer_ops,
            None::<libbpf_sys::bpf_object_open_opts>
        )?;

        let rodata = skel.maps.rodata_data.as_mut().unwrap();
        rodata.slice_ns = opts.slice_ns();
        rodata.slice_lag_ns = opts.slice_lag_ns();
        rodata.class_window_ns = opts.class_window_ns();
        rodata.chain_window_ns = opts.chain_window_ns();
        rodata.chain_max_depth = opts.chain_max_depth;
        rodata.input_boost_ns = opts.input_boost_ms * 1_000_000;
        rodata.game_idle_ns = opts.game_idle_ms * 1_000_000;
        rodata.starve_ns = opts.starve_ns();
        rodata.max_wait_ns = opts.max_wait_ms * 1_000_000;
        rodata.policy_off = opts.no_policy;
        rodata.prefer_fast = plan.prefer_fast && !opts.no_policy;
        for (cpu, (&fast, &llc)) in plan.fast.iter().zip(&plan.llc).enumerate() {
            rodata.cpu_fast[cpu] = u8::from(fast);
            rodata.cpu_llc[cpu] = llc;
        }
        rodata.runq_wait_ns = opts.runq_wait_ns();
        if let Some(comm) = &opts.game_comm {
            rodata.game_comm = classes::comm_bytes(comm);
            rodata.game_comm_set = true;
        }
        if let Some(ms) = opts.test_bpf_error_after_ms {
            log::warn!("--test-bpf-error-after-ms: a BPF error will end the scheduler {ms} ms after it starts (a test fault)");
            rodata.test_error_after_ns = ms * 1_000_000;
        }

        let hook_progs = hooks::enable_optional_hooks(
            skel.open_object_mut(),
            refused,
            !opts.test_skip_btf_check,
        )?;
        let targets: Vec<&str> = hook_progs.values().map(String::as_str).collect();
        info!("class hooks on: {}", targets.join(" "));

        let skel =
            hooks::load_with_hooks(&hook_progs, || Ok(scx_ops_load!(skel, gamer_ops, uei)?))?;
        register_game(&skel, opts)?;
        if opts.verifier_stats {
            print_verifier_stats(&skel)?;
        }

        let mut skel = skel;
        let shared = SharedVars::take(&mut skel)?;
        let link = match scx_ops_attach!(skel, gamer_ops) {
            Ok(link) => link,
            Err(e) => {
                return Err(
                    match preflight::taken_meanwhile(Path::new(preflight::SCHED_EXT_SYSFS)) {
                        Some(refusal) => refusal.into(),
                        None => e,
                    },
                )
            }
        };
        info!(
            "scx_gamer attached (slice {} us, lag bound {} us, gaming policy {})",
            opts.slice_us,
            opts.slice_lag_us,
            if opts.no_policy { "off" } else { "on" }
        );
        let mut watch: Vec<Kind> = opts
            .watched_streams()
            .iter()
            .filter_map(|s| Kind::from_name(s))
            .collect();
        if opts.log_classes {
            watch.push(Kind::Class);
        }
        Ok(Scheduler {
            skel,
            shared,
            link: Some(link),
            watch,
            publisher,
            print_stats_every: opts.stats,
        })
    }

    /// Serve the event loop until a signal arrives on `signals` or the
    /// kernel ends the scheduler, then detach and say which.
    pub fn run(&mut self, signals: &SignalFd, launch: Option<&LaunchSocket>) -> Result<Ending> {
        use libbpf_rs::skel::Skel;
        let maps: Vec<(Kind, libbpf_rs::Map)> = self
            .skel
            .object()
            .maps()
            .filter_map(|m| ring_kind(&m.name().to_string_lossy()).map(|k| (k, m)))
            .collect();
        let rings: Vec<(Kind, &dyn MapCore)> =
            maps.iter().map(|(k, m)| (*k, m as &dyn MapCore)).collect();

        let mut printers = Vec::new();
        let mut consumers = Vec::new();
        if !self.watch.is_empty() {
            let (c, rx) = event_loop::consumer("watch", &self.watch, WATCH_BACKLOG);
            consumers.push(c);
            printers.push(std::thread::spawn(move || print_events(rx)));
        }
        let (c, detect_rx) = event_loop::consumer("detect", &[Kind::Proc], DETECT_BACKLOG);
        consumers.push(c);
        let (c, stats_rx) =
            event_loop::consumer("stats", &[Kind::Frame, Kind::Input], STATS_BACKLOG);
        consumers.push(c);
        let (ticks_tx, ticks_rx) = crossbeam_channel::bounded(2);
        let mut events = EventLoop::new(&rings, consumers)?;
        events.add_fd(signals.as_fd(), SIGNAL_TOKEN)?;
        let tick = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .context("creating the tick timer")?;
        tick.set(
            Expiration::Interval(TimeSpec::from_duration(TICK)),
            TimerSetTimeFlags::empty(),
        )
        .context("arming the tick timer")?;
        events.add_tick(tick.as_fd(), TICK_TOKEN)?;
        self.update_tai_offset();

        let worker = detect::worker::Worker::new(
            self.proc_maps()?,
            PathBuf::from("/proc"),
            PathBuf::from(detect::RUN_USER),
            std::path::Path::new(detect::seat::SEATS_DIR),
        );
        if let Some(audio) = worker.audio_watch() {
            events.add_fd_edge(audio.fd(), AUDIO_TOKEN)?;
        }
        if let Some(launch) = launch {
            events.add_fd(launch.fd(), LAUNCH_TOKEN)?;
        }
        let game_tgids =
            MapHandle::try_from(&self.skel.maps.game_tgids).context("opening map game_tgids")?;
        let (inotify_tx, inotify_rx) = crossbeam_channel::bounded(1);

        let detected = worker.detected();
        let publisher = Arc::clone(&self.publisher);
        let print_every = self.print_stats_every;
        let signal = std::thread::scope(|s| -> Result<Option<Signal>> {
            s.spawn(move || worker.run(detect_rx, inotify_rx));
            s.spawn(move || stats::feed::run(stats_rx, ticks_rx, publisher, print_every));
            let loop_io = LoopIo {
                signals,
                launch: launch.map(|l| (l, &game_tgids)),
                tick: &tick,
                inotify: &inotify_tx,
                ticks: &ticks_tx,
                detected: &detected,
            };
            let signal = self.serve(&mut events, &loop_io);
            events.drain();
            self.log_event_counts(&events.counts());
            // Closing the channels ends the consumer threads once they have
            // handled what was sent.
            drop(events);
            drop(inotify_tx);
            drop(ticks_tx);
            signal
        })?;
        for p in printers {
            let _ = p.join();
        }
        self.log_dispatch_counts();
        self.log_class_counts();
        // Dropping the link detaches; the kernel then records why it ended.
        self.link.take();
        let kind = self.skel.maps.data_data.as_ref().unwrap().uei.kind;
        let exit = uei_read!(&self.skel, uei);
        match exit.report() {
            Ok(()) => {}
            Err(why) if kind >= ScxExitKind::Error as i32 => return Ok(Ending::Failed(why)),
            // sysrq-S: someone wants the default scheduler back.
            Err(why) => return Err(why),
        }
        Ok(match signal {
            Some(_) => Ending::Signal,
            None => Ending::Exited(exit),
        })
    }

    /// The loop itself, until a signal or the kernel ends the scheduler.
    fn serve(&self, events: &mut EventLoop, io: &LoopIo<'_>) -> Result<Option<Signal>> {
        loop {
            if uei_exited!(&self.skel, uei) {
                return Ok(None);
            }
            let mut ready = [0u64; 4];
            let n = {
                let tokens = events.wait()?;
                let n = tokens.len().min(ready.len());
                ready[..n].copy_from_slice(&tokens[..n]);
                n
            };
            for token in &ready[..n] {
                match *token {
                    SIGNAL_TOKEN => {
                        events.count_syscall();
                        if let Some(info) = io.signals.read_signal().context("reading signalfd")? {
                            let sig =
                                Signal::try_from(info.ssi_signo as i32).unwrap_or(Signal::SIGTERM);
                            info!("{sig} received, detaching");
                            return Ok(Some(sig));
                        }
                    }
                    TICK_TOKEN => {
                        events.count_syscall();
                        let mut buf = [0u8; 8];
                        let _ = nix::unistd::read(io.tick, &mut buf);
                        self.update_tai_offset();
                        // A stats thread still busy with the previous
                        // snapshot skips this one.
                        let _ = io.ticks.try_send(self.stats_snapshot(events, io.detected));
                    }
                    // The detection thread reads the inotify fd itself; a
                    // full channel means it has yet to, which is as good.
                    AUDIO_TOKEN => {
                        let _ = io.inotify.try_send(());
                    }
                    LAUNCH_TOKEN => {
                        if let Some((socket, game_tgids)) = io.launch {
                            socket.serve(Path::new("/proc"), &mut |tgid| {
                                self.mark_game(game_tgids, tgid)
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The totals of a stats snapshot, read now.
    fn stats_snapshot(&self, events: &EventLoop, detected: &Mutex<Detected>) -> stats::Metrics {
        let classes: Vec<bpf_intf::class_counters> = match self.class_counts() {
            Ok(c) => c.to_vec(),
            Err(e) => {
                log::warn!("class counters unavailable: {e:#}");
                Vec::new()
            }
        };
        let dispatch: Vec<(&'static str, u64)> = STAT_NAMES
            .iter()
            .copied()
            .zip(self.dispatch_counts().unwrap_or_default())
            .collect();
        let detected = detected.lock().map(|d| d.clone()).unwrap_or_default();
        stats::feed::snapshot(&stats::feed::Totals {
            classes: &classes,
            dispatch: &dispatch,
            ring_drops: &self.ring_drops().unwrap_or_default(),
            events: &events.counts(),
            detected: &detected,
        })
    }

    /// Handles on the maps launch detection writes.
    fn proc_maps(&self) -> Result<detect::worker::ProcMaps<'obj>> {
        let handle = |m: &libbpf_rs::Map| {
            MapHandle::try_from(m)
                .with_context(|| format!("opening map {}", m.name().to_string_lossy()))
        };
        Ok(detect::worker::ProcMaps {
            game_tgids: handle(&self.skel.maps.game_tgids)?,
            audio_tgids: handle(&self.skel.maps.audio_tgids)?,
            proc_tgids: handle(&self.skel.maps.proc_tgids)?,
            proc_uids: handle(&self.skel.maps.proc_uids)?,
            proc_use: handle(&self.skel.maps.proc_use)?,
            proc_gen: self.shared.proc_gen,
        })
    }

    /// Put a process in the game map, as launch detection does, and tell
    /// the BPF side the map changed.
    fn mark_game(&self, game_tgids: &MapHandle, tgid: u32) -> Result<()> {
        let via = bpf_intf::gamer_class_via_GAMER_VIA_GAME_TGID;
        game_tgids
            .update(&tgid.to_ne_bytes(), &via.to_ne_bytes(), MapFlags::ANY)
            .context("writing the game map")?;
        self.shared.proc_gen.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// evdev stamps events in CLOCK_REALTIME by default and BPF can only
    /// read CLOCK_TAI, so keep the BPF side told of the difference. It
    /// changes only with a leap second or when the TAI offset is first set.
    fn update_tai_offset(&self) {
        self.shared
            .tai_offset
            .store(tai_offset_ns(), Ordering::Relaxed);
    }

    /// Records dropped by the BPF side because a ringbuf was full, summed
    /// over CPUs, in `enum gamer_ring` order.
    pub fn ring_drops(&self) -> Result<Vec<u64>> {
        (0..bpf_intf::gamer_ring_GAMER_NR_RINGS)
            .map(|ring| {
                let per_cpu = self
                    .skel
                    .maps
                    .ring_drops
                    .lookup_percpu(&ring.to_ne_bytes(), MapFlags::ANY)
                    .context("reading the ringbuf drop counters")?
                    .unwrap_or_default();
                Ok(per_cpu.iter().map(|v| read_u64(v)).sum())
            })
            .collect()
    }

    fn log_event_counts(&self, counts: &LoopCounts) {
        let drops = self.ring_drops().unwrap_or_default();
        let line: Vec<String> = Kind::ALL
            .iter()
            .map(|k| {
                let dropped = drops.get(k.ring() as usize).copied().unwrap_or(0);
                format!(
                    "{}={} (dropped {dropped})",
                    k.name(),
                    counts.events[*k as usize]
                )
            })
            .collect();
        info!("events: {}", line.join(" "));
        for c in &counts.channels {
            info!("channel {}: sent={} dropped={}", c.name, c.sent, c.dropped);
        }
    }

    /// The dispatch counters summed over all CPUs, in `enum gamer_stat`
    /// order.
    pub fn dispatch_counts(&self) -> Result<Vec<u64>> {
        let mut totals = vec![0u64; STAT_NAMES.len()];
        for (idx, total) in totals.iter_mut().enumerate() {
            let key = (idx as u32).to_ne_bytes();
            let per_cpu = self
                .skel
                .maps
                .stats
                .lookup_percpu(&key, MapFlags::ANY)
                .context("reading the stats map")?
                .unwrap_or_default();
            *total = per_cpu.iter().map(|v| read_u64(v)).sum();
        }
        Ok(totals)
    }

    fn log_dispatch_counts(&self) {
        match self.dispatch_counts() {
            Ok(counts) => {
                let line: Vec<String> = STAT_NAMES
                    .iter()
                    .zip(&counts)
                    .map(|(name, n)| format!("{name}={n}"))
                    .collect();
                info!("dispatches: {}", line.join(" "));
            }
            Err(e) => log::warn!("dispatch counters unavailable: {e:#}"),
        }
    }
}

impl Scheduler<'_> {
    /// The class counters summed over all CPUs, in `enum gamer_class` order.
    pub fn class_counts(&self) -> Result<[bpf_intf::class_counters; classes::NR_CLASSES]> {
        let per_cpu = self
            .skel
            .maps
            .class_stats
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
            .context("reading the class counters")?
            .unwrap_or_default();
        Ok(classes::sum_class_stats(&per_cpu))
    }

    fn log_class_counts(&self) {
        match self.class_counts() {
            Ok(counts) => {
                for (name, c) in classes::CLASS_NAMES.iter().zip(counts.iter()) {
                    info!(
                        "class {name}: threads={} wakeups={} cpu={:.1}ms boosts={} runq-waits={}",
                        c.threads,
                        c.wakeups,
                        c.cpu_ns as f64 / 1e6,
                        c.boosts,
                        c.runq_waits
                    );
                }
            }
            Err(e) => log::warn!("class counters unavailable: {e:#}"),
        }
    }
}

/// Put the game's processes (named on the command line, with their
/// descendants) in the BPF map of game TGIDs. On a restart some may have
/// exited since startup; those are skipped rather than refused.
fn register_game(skel: &BpfSkel<'_>, opts: &Opts) -> Result<()> {
    if opts.game_pid.is_empty() && opts.game_comm.is_none() {
        return Ok(());
    }
    let procs = crate::detect::procinfo::scan_processes(Path::new("/proc"));
    let alive: Vec<u32> = opts
        .game_pid
        .iter()
        .copied()
        .filter(|pid| procs.iter().any(|p| p.pid == *pid))
        .collect();
    let game = crate::detect::named::game_processes(&procs, &alive, opts.game_comm.as_deref())?;
    let via = bpf_intf::gamer_class_via_GAMER_VIA_GAME_TGID;
    for tgid in &game {
        skel.maps
            .game_tgids
            .update(&tgid.to_ne_bytes(), &via.to_ne_bytes(), MapFlags::ANY)
            .with_context(|| format!("registering game process {tgid}"))?;
    }
    info!("game processes: {game:?}");
    Ok(())
}

/// Which stream a ringbuf map carries, from its name in events.bpf.c and
/// classify.bpf.c; `None` for maps that are not ringbufs.
fn ring_kind(map_name: &str) -> Option<Kind> {
    match map_name {
        "frame_events" => Some(Kind::Frame),
        "gpu_events" => Some(Kind::GpuSubmit),
        "runq_wait_events" => Some(Kind::RunqWait),
        "proc_events" => Some(Kind::Proc),
        "class_events" => Some(Kind::Class),
        n if n.starts_with("input_ring_") => Some(Kind::Input),
        _ => None,
    }
}

/// The printer thread of `--watch-*`: events on stdout, one line each;
/// class assignments (`--log-classes`) in the log.
fn print_events(rx: Receiver<Event>) {
    use std::io::Write;
    let stdout = std::io::stdout();
    for event in rx {
        let line = records::describe(&event);
        if matches!(event, Event::Class(_)) {
            info!("{line}");
        } else if writeln!(stdout.lock(), "{line}").is_err() {
            // stdout is gone (a closed pipe): nothing left to print to.
            return;
        }
    }
}

/// CLOCK_TAI - CLOCK_REALTIME in ns, rounded to whole seconds as it is
/// defined (the offset is a whole number of leap seconds).
fn tai_offset_ns() -> u64 {
    use nix::time::{clock_gettime, ClockId};
    let (Ok(tai), Ok(real)) = (
        clock_gettime(ClockId::CLOCK_TAI),
        clock_gettime(ClockId::CLOCK_REALTIME),
    ) else {
        return 0;
    };
    let diff = Duration::from(tai).as_nanos() as i128 - Duration::from(real).as_nanos() as i128;
    let secs = (diff + 500_000_000).div_euclid(1_000_000_000);
    (secs.max(0) as u64) * 1_000_000_000
}

fn read_u64(bytes: &[u8]) -> u64 {
    bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_ne_bytes)
        .unwrap_or(0)
}

/// Read the machine's layout, log it, and decide which CPUs are fast. A
/// layout that cannot be read costs only the preference, unless
/// `--fast-cpus` asked for one.
fn topology_plan(opts: &Opts) -> Result<topology::Plan> {
    let topo = match Topology::new() {
        Ok(topo) => topo,
        Err(e) if opts.fast_cpus.is_none() => {
            log::warn!("could not read the CPU topology ({e:#}): no fast or slow CPU preference");
            return Ok(topology::Plan::none("an unreadable topology"));
        }
        Err(e) => return Err(e.context("--fast-cpus: could not read the CPU topology")),
    };
    info!(
        "topology: {} CPUs, {} cores, {} LLCs, {} nodes, SMT {}",
        topo.all_cpus.len(),
        topo.all_cores.len(),
        topo.all_llcs.len(),
        topo.nodes.len(),
        if topo.smt_enabled { "on" } else { "off" }
    );
    let plan = topology::plan(
        &topology::cpus_of(&topo),
        opts.fast_cpus.as_ref().map(|l| l.0.as_slice()),
    )?;
    if plan.prefer_fast {
        info!(
            "fast CPUs {} (from {}): critical threads prefer them, other tasks avoid them while a game runs",
            plan.fast_list(),
            plan.source
        );
    } else if plan.fast.is_empty() {
        info!("no fast or slow CPU preference: {}", plan.source);
    } else {
        info!(
            "CPUs alike (from {}): no fast or slow CPU preference",
            plan.source
        );
    }
    Ok(plan)
}

/// Print, for each loaded program, how many instructions the verifier
/// processed: the figure that grows when a change makes a program harder to
/// verify, and that the kernel caps.
fn print_verifier_stats(skel: &BpfSkel<'_>) -> Result<()> {
    use libbpf_rs::skel::Skel;
    let mut total = 0u64;
    for prog in skel.object().progs() {
        // Optional hooks this kernel cannot take were never loaded.
        if !prog.autoload() {
            continue;
        }
        let mut info = libbpf_sys::bpf_prog_info::default();
        let mut len = std::mem::size_of_val(&info) as u32;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&prog.as_fd());
        // SAFETY: `info` is a plain C struct and `len` is its size, which is
        // what the kernel expects to fill.
        let ret = unsafe {
            libbpf_sys::bpf_obj_get_info_by_fd(
                fd,
                (&mut info as *mut libbpf_sys::bpf_prog_info).cast(),
                &mut len,
            )
        };
        if ret != 0 {
            anyhow::bail!(
                "reading info of program {}: {}",
                prog.name().to_string_lossy(),
                std::io::Error::last_os_error()
            );
        }
        total += u64::from(info.verified_insns);
        println!(
            "verifier: {:<24} {:>8} insns processed",
            prog.name().to_string_lossy(),
            info.verified_insns
        );
    }
    println!("verifier: {:<24} {:>8} insns processed", "total", total);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_names_cover_every_counter() {
        assert_eq!(STAT_NAMES.len(), bpf_intf::gamer_stat_NR_GSTATS as usize);
        assert_eq!(
            STAT_NAMES[bpf_intf::gamer_stat_GSTAT_SHARED as usize],
            "shared"
        );
        assert_eq!(
            STAT_NAMES[bpf_intf::gamer_stat_GSTAT_CPU_RELEASE as usize],
            "cpu-release"
        );
    }

    #[test]
    fn ring_maps_are_recognised_by_name() {
        assert_eq!(ring_kind("input_ring_15"), Some(Kind::Input));
        assert_eq!(ring_kind("proc_events"), Some(Kind::Proc));
        assert_eq!(ring_kind("game_tgids"), None);
    }

    #[test]
    fn tai_offset_is_whole_seconds() {
        assert_eq!(tai_offset_ns() % 1_000_000_000, 0);
    }

    #[test]
    fn read_u64_takes_native_endian_and_tolerates_short_values() {
        assert_eq!(read_u64(&42u64.to_ne_bytes()), 42);
        assert_eq!(read_u64(&[1, 2, 3]), 0);
    }
}
