// SPDX-License-Identifier: GPL-2.0-only
//
// One attachment of the BPF scheduler: open, set the tunables, load, attach
// (here), serve the event loop until a signal or the kernel ends it, detach
// (run.rs). main.rs decides whether to start another one afterwards. maps.rs
// holds what userspace shares with BPF while attached, verifier.rs
// `--verifier-stats`.

mod maps;
mod run;
mod verifier;

use std::collections::BTreeSet;
use std::mem::MaybeUninit;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use libbpf_rs::libbpf_sys;
use libbpf_rs::skel::OpenSkel;
use libbpf_rs::{Link, OpenObject};
use log::info;
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, UserExitInfo};

use crate::bpf_skel::{BpfSkel, BpfSkelBuilder};
use crate::classes;
use crate::cli::Opts;
use crate::events::records::Kind;
use crate::hooks;
use crate::preflight;
use crate::stats;
use crate::topology;
use maps::SharedVars;

pub use maps::sum_percpu;

/// Why an attachment ended.
pub enum Ending {
    /// SIGINT or SIGTERM.
    Signal,
    /// Ended without an error (a restart request, an unregistration).
    Exited(UserExitInfo),
    /// Ejected for an error (a BPF error, a runtime error, a stall).
    Failed(anyhow::Error),
}

pub struct Scheduler<'obj> {
    skel: BpfSkel<'obj>,
    shared: SharedVars<'obj>,
    link: Option<Link>,
    /// The event streams printed live (`--watch-*`, `--log-classes`).
    watch: Vec<Kind>,
    /// Where the stats go once a second; `--stats`.
    publisher: Arc<stats::Publisher>,
    print_stats_every: Option<u64>,
}

impl<'obj> Scheduler<'obj> {
    /// Open, configure, load and attach the BPF scheduler, with the optional
    /// hooks in `refused` off. A load that fails on another one returns a
    /// [`hooks::HookLoadFailed`] naming it.
    pub fn attach(
        opts: &Opts,
        open_object: &'obj mut MaybeUninit<OpenObject>,
        publisher: Arc<stats::Publisher>,
        refused: &BTreeSet<String>,
    ) -> Result<Self> {
        let plan = topology::machine_plan(opts.fast_cpus.as_ref().map(|l| l.0.as_slice()))?;

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
        rodata.input_boost_ns = opts.input_boost_ns();
        rodata.game_idle_ns = opts.game_idle_ns();
        rodata.starve_ns = opts.starve_ns();
        rodata.max_wait_ns = opts.max_wait_ns();
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

        let mut skel =
            hooks::load_with_hooks(&hook_progs, || Ok(scx_ops_load!(skel, gamer_ops, uei)?))?;
        maps::register_game(&skel, opts)?;
        if opts.verifier_stats {
            verifier::print_verifier_stats(&skel)?;
        }

        let shared = SharedVars::take(&mut skel)?;
        let link =
            scx_ops_attach!(skel, gamer_ops).map_err(|e| {
                match preflight::taken_meanwhile(Path::new(preflight::SCHED_EXT_SYSFS)) {
                    Some(refusal) => refusal.into(),
                    None => e,
                }
            })?;
        info!(
            "scx_gamer attached (slice {} us, lag bound {} us, gaming policy {})",
            opts.slice_us,
            opts.slice_lag_us,
            if opts.no_policy { "off" } else { "on" }
        );
        Ok(Scheduler {
            skel,
            shared,
            link: Some(link),
            watch: opts.watched_streams(),
            publisher,
            print_stats_every: opts.stats,
        })
    }
}
