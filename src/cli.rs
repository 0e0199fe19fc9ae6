// SPDX-License-Identifier: GPL-2.0-only
//
// Command-line flags. Every tunable carries its unit in its name and a range
// that is checked here, before anything touches the kernel, so a bad value is
// a clear message and a non-zero exit with the system left as it was.

use clap::Parser;

use crate::names::Kind;

/// scx_gamer: a sched_ext CPU scheduler that keeps games, input and audio on
/// time while other work loads the CPUs.
///
/// Runs until SIGINT or SIGTERM, then detaches; the kernel's default
/// scheduler takes over again. Needs a kernel built with
/// CONFIG_SCHED_CLASS_EXT and root (CAP_SYS_ADMIN and CAP_BPF).
#[derive(Debug, Clone, Parser)]
#[command(name = "scx_gamer", version, about, long_about)]
pub struct Opts {
    /// Time slice: how long a task may run before the CPU is offered to the
    /// next deadline, in microseconds.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(100..=100_000))]
    pub slice_us: u64,

    /// Lag bound: how far behind the current virtual time a waking task may
    /// start, in microseconds. Larger favours long sleepers more; it also
    /// bounds how long they can delay everyone else.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1_000..=1_000_000))]
    pub slice_lag_us: u64,

    /// How long a thread stays an input, audio or GPU-submit thread after it
    /// last did what made it one, in milliseconds.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(10..=10_000))]
    pub class_window_ms: u64,

    /// How long a thread woken by an input, audio or GPU-submit thread of the
    /// same process holds that class too, in microseconds.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    pub chain_window_us: u64,

    /// How many wakeups a class may travel from the thread that really
    /// showed it.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub chain_max_depth: u32,

    /// Treat this process, its threads and the processes it starts as the
    /// game. May be given more than once.
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(u32).range(1..=4_194_304))]
    pub game_pid: Vec<u32>,

    /// Treat processes that run a program file of this name (the name an
    /// exec gives /proc/PID/comm, at most 15 bytes), running now or started
    /// later, as the game. A process renaming itself is not matched.
    #[arg(long, value_name = "NAME", value_parser = parse_comm)]
    pub game_comm: Option<String>,

    /// After an input event, how long the game's threads rank with input
    /// threads, in milliseconds (0: no input boost).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=1_000))]
    pub input_boost_ms: u64,

    /// How long after a game thread last ran the game still counts as
    /// running (background hogs are demoted only while it does), in
    /// milliseconds.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub game_idle_ms: u64,

    /// Starvation guard: critical threads (those holding a class) are
    /// served first, but once the other tasks have waited this long, the
    /// next free CPU takes one of them instead, in microseconds.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1_000..=1_000_000))]
    pub starve_us: u64,

    /// Wait guard, in milliseconds: eight times per bound every task that
    /// has waited over half of it is moved to a queue every CPU serves
    /// first, whatever its deadline. It bounds every wait while the CPUs
    /// can run each such task once in the other half of the bound.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(50..=10_000))]
    pub max_wait_ms: u64,

    /// CPUs that game-critical threads should prefer, as a list like
    /// 0-7,16-23 (for instance the CCD with the large cache on a dual-CCD
    /// X3D part); other tasks are kept off them while a game runs.
    /// Default: the highest-capacity big cores, when the CPUs differ.
    #[arg(long, value_name = "LIST")]
    pub fast_cpus: Option<crate::topology::CpuList>,

    /// Scan /proc once, print each process the game rules have something to
    /// say about (its score, the reasons, and whether it would be picked as
    /// a game), and exit. Needs neither root nor sched_ext; without root,
    /// other users' environments cannot be read and their scores are lower.
    #[arg(long)]
    pub list_game_candidates: bool,

    /// Schedule by plain virtual deadlines: no class tiers, no preemption,
    /// no background demotion. Classes are still detected and counted. For
    /// comparing against the gaming policy.
    #[arg(long)]
    pub no_policy: bool,

    /// How long a classified thread (input, audio, compositor, GPU submit,
    /// game) may wait on the run queue before the wait is reported as a
    /// runq-wait event, in microseconds.
    #[arg(long, default_value_t = 4_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    pub runq_wait_us: u64,

    /// Print input events live, as their handlers read them, with the
    /// latency from the kernel stamping each to its handler reading it.
    #[arg(long)]
    pub watch_input: bool,

    /// Print events of these streams live (comma-separated).
    #[arg(long, value_name = "STREAMS", value_delimiter = ',', value_enum)]
    pub watch_events: Vec<Kind>,

    /// When the kernel ends the scheduler on an error (a BPF error, a
    /// runtime error, a stall), attach again, at most this many times over
    /// the life of the process. 0: exit with status 1 instead. A sysrq-S is
    /// never undone.
    #[arg(long, value_name = "COUNT", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub restart_on_error: u32,

    /// Test only (tests/vm/faults.sh, hidden): make the BPF side report an
    /// error this many milliseconds after the scheduler first runs a task.
    #[arg(long, hide = true, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub test_bpf_error_after_ms: Option<u64>,

    /// Test only (tests/vm/nobtf.sh, hidden): switch optional hooks on from
    /// /proc/kallsyms alone, unchecked against BTF, so one fails to load.
    #[arg(long, hide = true)]
    pub test_skip_btf_check: bool,

    /// Print each thread the first time it is given a class.
    #[arg(long)]
    pub log_classes: bool,

    /// After loading, print how many instructions the kernel's verifier
    /// processed for each BPF program (to compare changes by).
    #[arg(long)]
    pub verifier_stats: bool,

    /// Print libbpf's debug output while loading.
    #[arg(short, long)]
    pub verbose: bool,

    /// While running, print a short block of statistics every SECONDS
    /// seconds.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub stats: Option<u64>,

    /// Load nothing: attach to the scx_gamer already running (through its
    /// stats socket) and show its statistics every SECONDS seconds; full
    /// screen on a terminal (q quits), plain lines otherwise. Needs access
    /// to the socket (root), not sched_ext.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3_600),
          conflicts_with_all = ["stats", "debug_api", "help_stats"])]
    pub monitor: Option<u64>,

    /// With --monitor: print each snapshot as one JSON object per line.
    #[arg(long, requires = "monitor")]
    pub json: bool,

    /// With --monitor: also write each presented frame to FILE (created or
    /// truncated) in MangoHud's CSV log layout (docs/stats.md).
    #[arg(long, value_name = "FILE", requires = "monitor")]
    pub frame_log: Option<std::path::PathBuf>,

    /// Which frames --frame-log writes: every presented frame (its frame
    /// time on its display), or the game processes' (each one's frame time).
    #[arg(
        long,
        value_name = "WHICH",
        value_enum,
        default_value = "all",
        requires = "frame_log"
    )]
    pub frame_log_frames: crate::stats::FrameSelection,

    /// Describe every statistic, then exit.
    #[arg(long)]
    pub help_stats: bool,

    /// Serve the statistics over HTTP on 127.0.0.1 at this port: GET
    /// /metrics (JSON) and GET /health. Off unless given; read-only.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub debug_api: Option<u16>,

    /// The stats socket: where the scheduler serves its statistics and
    /// where --monitor looks for them.
    #[arg(long, value_name = "PATH", default_value = crate::names::DEFAULT_STATS_SOCKET)]
    pub stats_socket: std::path::PathBuf,

    /// The launch socket: where the scheduler answers `scx_gamer run`, and
    /// where `scx_gamer run` looks for it.
    #[arg(long, value_name = "PATH", default_value = crate::launch::DEFAULT_LAUNCH_SOCKET)]
    pub launch_socket: std::path::PathBuf,

    #[command(subcommand)]
    pub command: Option<Subcommand>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Subcommand {
    /// Start COMMAND as the game: the running scheduler marks this process
    /// as the game before it becomes COMMAND, so the game and all it starts
    /// are classed from their first instruction. In Steam's launch options:
    /// `scx_gamer run -- %command%`. Needs no root; with no scheduler
    /// running, COMMAND still starts, and one line says so. The exit code is
    /// COMMAND's.
    Run {
        /// The command and its arguments.
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMMAND"
        )]
        command: Vec<std::ffi::OsString>,
    },
}

/// `fn <name>_ns(&self)`: a flag in its unit as the nanoseconds BPF takes.
macro_rules! ns_of {
    ($($ns:ident = $flag:ident * $scale:literal),* $(,)?) => {
        $(pub fn $ns(&self) -> u64 {
            self.$flag * $scale
        })*
    };
}

impl Opts {
    /// Parse the process's arguments and check the flags against each
    /// other; a bad combination is reported like any bad flag and exits 2.
    pub fn parse_checked() -> Opts {
        let opts = Opts::parse();
        if let Err(msg) = opts.cross_check() {
            use clap::CommandFactory;
            Opts::command()
                .error(clap::error::ErrorKind::ArgumentConflict, msg)
                .exit();
        }
        opts
    }

    /// What the ranges of single flags cannot say. The awake term of a
    /// deadline is capped at the lag bound, so a lag bound below one slice
    /// would make every task look as if it ran less than a slice per wakeup.
    pub fn cross_check(&self) -> Result<(), String> {
        if self.slice_lag_us < self.slice_us {
            return Err(format!(
                "--slice-lag-us {} is below --slice-us {}: the lag bound must be at least one slice",
                self.slice_lag_us, self.slice_us
            ));
        }
        Ok(())
    }

    ns_of!(
        slice_ns = slice_us * 1_000,
        slice_lag_ns = slice_lag_us * 1_000,
        starve_ns = starve_us * 1_000,
        chain_window_ns = chain_window_us * 1_000,
        runq_wait_ns = runq_wait_us * 1_000,
        class_window_ns = class_window_ms * 1_000_000,
        input_boost_ns = input_boost_ms * 1_000_000,
        game_idle_ns = game_idle_ms * 1_000_000,
        max_wait_ns = max_wait_ms * 1_000_000,
    );

    /// The event streams to print live: `--watch-events`, plus input for
    /// `--watch-input`, plus the class stream, into the log, for
    /// `--log-classes`.
    pub fn watched_streams(&self) -> Vec<Kind> {
        let mut streams = self.watch_events.clone();
        if self.watch_input && !streams.contains(&Kind::Input) {
            streams.push(Kind::Input);
        }
        if self.log_classes {
            streams.push(Kind::Class);
        }
        streams
    }
}

/// A process name as the kernel keeps it: 1 to 15 bytes, no NUL.
fn parse_comm(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("the name is empty".into());
    }
    if s.len() > 15 {
        return Err(format!(
            "'{s}' is {} bytes; the kernel keeps at most 15 of a process name",
            s.len()
        ));
    }
    if s.contains('\0') {
        return Err("the name contains a NUL byte".into());
    }
    Ok(s.to_string())
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
