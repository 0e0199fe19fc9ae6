// SPDX-License-Identifier: GPL-2.0-only
//
// One attachment of the BPF scheduler: open, set the tunables, load, attach,
// wait for a signal or for the kernel to end it, detach. main.rs decides
// whether to start another one afterwards.

use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::time::Duration;

use anyhow::{Context, Result};
use libbpf_rs::libbpf_sys;
use libbpf_rs::{Link, MapCore, MapFlags, OpenObject};
use log::info;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, uei_report};
use scx_utils::{Topology, UserExitInfo};

use crate::bpf_intf;
use crate::bpf_skel::{BpfSkel, BpfSkelBuilder};
use crate::cli::Opts;

/// How often the loop looks at the exit info while no signal arrives. The
/// kernel gives no fd to wait on for an ejection, so this bounds how long a
/// dead scheduler goes unnoticed.
const EXIT_POLL: Duration = Duration::from_millis(200);

/// Dispatch counters, named in the order of `enum gamer_stat` in intf.h.
const STAT_NAMES: [&str; bpf_intf::gamer_stat_NR_GSTATS as usize] = [
    "direct-idle",
    "enqueue-idle",
    "kthread-local",
    "shared",
    "keep-running",
    "cpu-release",
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

        let skel = scx_ops_load!(skel, gamer_ops, uei)?;
        if opts.verifier_stats {
            print_verifier_stats(&skel)?;
        }

        let mut skel = skel;
        let link = scx_ops_attach!(skel, gamer_ops)?;
        info!(
            "scx_gamer attached (slice {} us, lag bound {} us)",
            opts.slice_us, opts.slice_lag_us
        );
        Ok(Scheduler {
            skel,
            link: Some(link),
        })
    }

    /// Wait until a signal arrives on `signals` or the scheduler is ended by
    /// the kernel, then detach and say which.
    pub fn run(&mut self, signals: &SignalFd) -> Result<Ending> {
        let signal = loop {
            if uei_exited!(&self.skel, uei) {
                break None;
            }
            let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
            let timeout = PollTimeout::try_from(EXIT_POLL).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, timeout) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(e).context("waiting for signals"),
            }
            if let Some(info) = signals.read_signal().context("reading signalfd")? {
                let sig = Signal::try_from(info.ssi_signo as i32).unwrap_or(Signal::SIGTERM);
                info!("{sig} received, detaching");
                break Some(sig);
            }
        };

        self.log_dispatch_counts();
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
