// SPDX-License-Identifier: GPL-2.0-only
//
// scx_gamer's entry point: parse the flags, refuse clearly when the system
// cannot take a sched_ext scheduler, then attach and keep the scheduler
// attached until SIGINT/SIGTERM. When the kernel ends it for a reason it
// marks as recoverable (a CPU going on- or offline), attach it again; after
// an error, only as often as --restart-on-error allows.

use std::collections::BTreeSet;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use log::{error, info, warn};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use scx_gamer::cli::{Opts, Subcommand};
use scx_gamer::scheduler::{Ending, Scheduler};
use scx_gamer::{detect, hooks, launch, logging, preflight, stats};

fn main() -> ExitCode {
    let opts = Opts::parse_checked();
    logging::init(opts.verbose);
    // The launch wrapper runs as the gamer, beside the scheduler.
    if let Some(Subcommand::Run { command }) = &opts.command {
        return launch::run_wrapped(&opts.launch_socket, command);
    }
    match serve(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(opts: &Opts) -> Result<()> {
    // These read statistics only: no root, no sched_ext, nothing loaded.
    if opts.help_stats {
        return stats::describe(&mut std::io::stdout());
    }
    if let Some(secs) = opts.monitor {
        let interval = std::time::Duration::from_secs(secs);
        let frame_log = opts
            .frame_log
            .as_deref()
            .map(|p| (p, opts.frame_log_frames));
        return stats::run_monitor(&opts.stats_socket, interval, opts.json, frame_log);
    }
    // A diagnostic that changes nothing, so it needs no preflight.
    if opts.list_game_candidates {
        let eligible = detect::seat::current(Path::new(detect::seat::SEATS_DIR));
        let (proc_root, run_user) = (Path::new("/proc"), Path::new(detect::RUN_USER));
        let mut out = std::io::stdout();
        return detect::write_game_candidates(proc_root, run_user, eligible, &mut out)
            .context("listing game candidates");
    }
    preflight::check(&preflight::SystemView::current())?;
    // A --game-pid that names no process is bad input: refuse before loading.
    if !opts.game_pid.is_empty() {
        let procs = detect::procinfo::scan_processes(Path::new("/proc"));
        detect::named::game_processes(&procs, &opts.game_pid, None)?;
    }
    run(opts)
}

fn run(opts: &Opts) -> Result<()> {
    // Signals are read from a signalfd in the main loop, so they must be
    // blocked before any thread exists to inherit an unblocked mask.
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGINT);
    mask.add(Signal::SIGTERM);
    mask.thread_block().context("blocking SIGINT/SIGTERM")?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("creating signalfd")?;

    scx_utils::try_set_rlimit_infinity();

    // One instance at a time, decided before either server binds.
    let _instance = preflight::claim_instance(&opts.stats_socket)?;

    // The stats outlive each attachment, so a client stays connected across
    // a restart. Both servers start before anything is loaded: a port in
    // use is refused with the system untouched.
    let publisher = Arc::new(stats::Publisher::new());
    let _debug_api = opts
        .debug_api
        .map(|port| {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            stats::start_debug_api(Arc::clone(&publisher), addr, stats::Limits::default())
        })
        .transpose()?;
    let _stats_socket = stats::start_stats_server(Arc::clone(&publisher), &opts.stats_socket)?;
    // Without it only `scx_gamer run` loses its answer: the game it starts
    // still runs, unmarked.
    let launch_socket = launch::LaunchSocket::bind(&opts.launch_socket)
        .map_err(|e| warn!("{e:#}; `scx_gamer run` will start games unmarked"))
        .ok();

    let mut open_object = MaybeUninit::uninit();
    let mut error_restarts = 0;
    // Optional hooks the kernel refused to load: each costs its own class
    // evidence, and the scheduler loads again without it.
    let mut refused = BTreeSet::new();
    loop {
        let attached = Scheduler::attach(opts, &mut open_object, Arc::clone(&publisher), &refused);
        let mut sched = match attached {
            Ok(sched) => sched,
            Err(e) => match e.downcast_ref::<hooks::HookLoadFailed>() {
                Some(failed) if refused.insert(failed.prog.clone()) => {
                    warn!("{failed}; loading again with that hook off");
                    continue;
                }
                _ => return Err(e),
            },
        };
        match sched.run(&signals, launch_socket.as_ref())? {
            Ending::Signal => return Ok(()),
            Ending::Exited(exit) if exit.should_restart() => {
                info!("the kernel asked for a restart; attaching again");
            }
            Ending::Exited(_) => return Ok(()),
            Ending::Failed(why) if error_restarts < opts.restart_on_error => {
                error_restarts += 1;
                error!("{why:#}");
                warn!(
                    "restart {error_restarts} of {} after an error (--restart-on-error); attaching again",
                    opts.restart_on_error
                );
            }
            Ending::Failed(why) => return Err(why),
        }
    }
}
