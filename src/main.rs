// SPDX-License-Identifier: GPL-2.0-only
//
// scx_gamer's entry point: parse the flags, refuse clearly when the system
// cannot take a sched_ext scheduler, then attach and keep the scheduler
// attached until SIGINT/SIGTERM. When the kernel ends it for a reason it
// marks as recoverable (a CPU going on- or offline), attach it again.

use std::io::IsTerminal;
use std::mem::MaybeUninit;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use log::{error, info};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use scx_gamer::cli::Opts;
use scx_gamer::scheduler::{Ending, Scheduler};
use scx_gamer::{classes, detect, logging, preflight};

fn main() -> ExitCode {
    let opts = Opts::parse();
    init_logging(opts.verbose);

    // A diagnostic that changes nothing, so it needs no preflight.
    if opts.list_game_candidates {
        let (proc_root, run_user) = (
            std::path::Path::new("/proc"),
            std::path::Path::new(detect::RUN_USER),
        );
        return match detect::write_game_candidates(proc_root, run_user, &mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                error!("listing game candidates: {e}");
                ExitCode::FAILURE
            }
        };
    }

    if let Err(refusal) = preflight::check(&preflight::SystemView::current()) {
        error!("{refusal}");
        return ExitCode::FAILURE;
    }
    // A --game-pid that names no process is bad input: refuse before loading.
    if !opts.game_pid.is_empty() {
        let procs = classes::scan_processes(std::path::Path::new("/proc"));
        if let Err(e) = classes::game_processes(&procs, &opts.game_pid, None) {
            error!("{e:#}");
            return ExitCode::FAILURE;
        }
    }

    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            ExitCode::FAILURE
        }
    }
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

    let mut open_object = MaybeUninit::uninit();
    loop {
        let mut sched = Scheduler::attach(opts, &mut open_object)?;
        match sched.run(&signals)? {
            Ending::Signal => return Ok(()),
            Ending::Exited(exit) if exit.should_restart() => {
                info!("the kernel asked for a restart; attaching again");
            }
            Ending::Exited(_) => return Ok(()),
        }
    }
}

fn init_logging(verbose: bool) {
    let level = if verbose {
        simplelog::LevelFilter::Debug
    } else {
        simplelog::LevelFilter::Info
    };
    if logging::stderr_is_journal() {
        // Under systemd: plain lines with a priority prefix, so the journal
        // records each message at its level.
        let _ = logging::init_journal(level);
    } else {
        let config = simplelog::ConfigBuilder::new()
            .set_time_level(simplelog::LevelFilter::Off)
            .set_target_level(simplelog::LevelFilter::Off)
            .set_thread_level(simplelog::LevelFilter::Off)
            .set_location_level(simplelog::LevelFilter::Off)
            .build();
        // Colour only when a person is watching; files and pipes get plain
        // lines.
        let colour = if std::io::stderr().is_terminal() {
            simplelog::ColorChoice::Auto
        } else {
            simplelog::ColorChoice::Never
        };
        let _ = simplelog::TermLogger::init(level, config, simplelog::TerminalMode::Stderr, colour);
    }
    if verbose {
        scx_utils::init_libbpf_logging(None);
    }
}
