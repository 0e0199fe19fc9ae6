// SPDX-License-Identifier: GPL-2.0-only
//
// One attachment of the BPF scheduler: open, set the tunables, load, attach,
// wait for a signal or for the kernel to end it, detach. main.rs decides
// whether to start another one afterwards.

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use libbpf_rs::libbpf_sys;
use libbpf_rs::skel::OpenSkel;
use libbpf_rs::{Link, MapCore, MapFlags, OpenObject, RingBufferBuilder};
use log::info;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, uei_report};
use scx_utils::{Topology, UserExitInfo};

use crate::bpf_intf;
use crate::bpf_skel::{BpfSkel, BpfSkelBuilder};
use crate::classes;
use crate::cli::Opts;

/// How often the loop looks at the exit info while no signal arrives. The
/// kernel gives no fd to wait on for an ejection, so this bounds how long a
/// dead scheduler goes unnoticed.
const EXIT_POLL: Duration = Duration::from_millis(200);

/// Dispatch counters, named in the order of `enum gamer_stat` in intf.h.
pub const STAT_NAMES: [&str; bpf_intf::gamer_stat_NR_GSTATS as usize] = [
    "direct-idle",
    "enqueue-idle",
    "kthread-local",
    "shared",
    "keep-running",
    "cpu-release",
    "preempt-kick",
];

/// Why an attachment ended.
pub enum Ending {
    /// SIGINT or SIGTERM: the user wants the scheduler gone.
    Signal,
    /// The kernel or the BPF side ended it; the exit info says why.
    Exited(UserExitInfo),
}

pub struct Scheduler<'obj> {
    skel: BpfSkel<'obj>,
    link: Option<Link>,
    log_classes: bool,
}

impl<'obj> Scheduler<'obj> {
    /// Open, configure, load and attach the BPF scheduler.
    pub fn attach(opts: &Opts, open_object: &'obj mut MaybeUninit<OpenObject>) -> Result<Self> {
        log_topology();

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
        rodata.policy_off = opts.no_policy;
        if let Some(comm) = &opts.game_comm {
            rodata.game_comm = classes::comm_bytes(comm);
            rodata.game_comm_set = true;
        }

        let hooks = classes::enable_optional_hooks(skel.open_object_mut())?;
        info!("class hooks on: {}", hooks.join(" "));

        let skel = scx_ops_load!(skel, gamer_ops, uei)?;
        register_game(&skel, opts)?;
        if opts.verifier_stats {
            print_verifier_stats(&skel)?;
        }

        let mut skel = skel;
        let link = scx_ops_attach!(skel, gamer_ops)?;
        info!(
            "scx_gamer attached (slice {} us, lag bound {} us, gaming policy {})",
            opts.slice_us,
            opts.slice_lag_us,
            if opts.no_policy { "off" } else { "on" }
        );
        Ok(Scheduler {
            skel,
            link: Some(link),
            log_classes: opts.log_classes,
        })
    }

    /// Wait until a signal arrives on `signals` or the scheduler is ended by
    /// the kernel, then detach and say which.
    pub fn run(&mut self, signals: &SignalFd) -> Result<Ending> {
        let log_classes = self.log_classes;
        let mut builder = RingBufferBuilder::new();
        builder.add(&self.skel.maps.class_events, move |data| {
            if log_classes {
                if let Some(line) = classes::describe_event(data) {
                    info!("{line}");
                }
            }
            0
        })?;
        let class_events = builder.build().context("setting up the class event ring")?;
        // SAFETY: the epoll fd belongs to `class_events`, which outlives the
        // loop below.
        let events_fd = unsafe { BorrowedFd::borrow_raw(class_events.epoll_fd()) };

        let signal = loop {
            if uei_exited!(&self.skel, uei) {
                break None;
            }
            let mut fds = [
                PollFd::new(signals.as_fd(), PollFlags::POLLIN),
                PollFd::new(events_fd, PollFlags::POLLIN),
            ];
            let timeout = PollTimeout::try_from(EXIT_POLL).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, timeout) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(e).context("waiting for signals"),
            }
            class_events.consume().context("reading class events")?;
            if let Some(info) = signals.read_signal().context("reading signalfd")? {
                let sig = Signal::try_from(info.ssi_signo as i32).unwrap_or(Signal::SIGTERM);
                info!("{sig} received, detaching");
                break Some(sig);
            }
        };

        class_events.consume().context("reading class events")?;
        drop(class_events);
        self.log_dispatch_counts();
        self.log_class_counts();
        // Dropping the link detaches; the kernel then records why it ended.
        self.link.take();
        let exit = uei_report!(&self.skel, uei)?;
        Ok(match signal {
            Some(_) => Ending::Signal,
            None => Ending::Exited(exit),
        })
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
                        "class {name}: threads={} wakeups={} cpu={:.1}ms",
                        c.threads,
                        c.wakeups,
                        c.cpu_ns as f64 / 1e6
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
    let procs = classes::scan_processes(Path::new("/proc"));
    let alive: Vec<u32> = opts
        .game_pid
        .iter()
        .copied()
        .filter(|pid| procs.iter().any(|p| p.pid == *pid))
        .collect();
    let game = classes::game_processes(&procs, &alive, opts.game_comm.as_deref())?;
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

fn read_u64(bytes: &[u8]) -> u64 {
    bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_ne_bytes)
        .unwrap_or(0)
}

/// Log the machine's layout as the scheduler sees it.
fn log_topology() {
    match Topology::new() {
        Ok(topo) => info!(
            "topology: {} CPUs, {} cores, {} LLCs, {} nodes, SMT {}",
            topo.all_cpus.len(),
            topo.all_cores.len(),
            topo.all_llcs.len(),
            topo.nodes.len(),
            if topo.smt_enabled { "on" } else { "off" }
        ),
        Err(e) => log::warn!("could not read the CPU topology: {e:#}"),
    }
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
    fn read_u64_takes_native_endian_and_tolerates_short_values() {
        assert_eq!(read_u64(&42u64.to_ne_bytes()), 42);
        assert_eq!(read_u64(&[1, 2, 3]), 0);
    }
}
