// SPDX-License-Identifier: GPL-2.0-only
//
// Command-line flags. Every tunable carries its unit in its name and a range
// that is checked here, before anything touches the kernel, so a bad value is
// a clear message and a non-zero exit with the system left as it was.

use clap::Parser;

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

    /// After loading, print how many instructions the kernel's verifier
    /// processed for each BPF program (to compare changes by).
    #[arg(long)]
    pub verifier_stats: bool,

    /// Print libbpf's debug output while loading.
    #[arg(short, long)]
    pub verbose: bool,
}

impl Opts {
    pub fn slice_ns(&self) -> u64 {
        self.slice_us * 1000
    }

    pub fn slice_lag_ns(&self) -> u64 {
        self.slice_lag_us * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Opts, clap::Error> {
        Opts::try_parse_from(std::iter::once("scx_gamer").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_in_range_and_converted_to_ns() {
        let o = parse(&[]).unwrap();
        assert_eq!(o.slice_ns(), 5_000_000);
        assert_eq!(o.slice_lag_ns(), 20_000_000);
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for args in [
            &["--slice-us", "99"][..],
            &["--slice-us", "100001"],
            &["--slice-lag-us", "999"],
            &["--slice-lag-us", "1000001"],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{args:?}");
        }
    }

    #[test]
    fn non_numbers_and_unknown_flags_are_refused() {
        assert_eq!(
            parse(&["--slice-us", "fast"]).unwrap_err().kind(),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            parse(&["--slice-ms", "5"]).unwrap_err().kind(),
            ErrorKind::UnknownArgument
        );
    }

    #[test]
    fn range_edges_are_accepted() {
        let o = parse(&["--slice-us", "100", "--slice-lag-us", "1000000"]).unwrap();
        assert_eq!(o.slice_us, 100);
        assert_eq!(o.slice_lag_us, 1_000_000);
    }
}
