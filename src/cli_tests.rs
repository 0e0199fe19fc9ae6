// SPDX-License-Identifier: GPL-2.0-only
//
// The flags' parsing, ranges and conflicts (src/cli.rs).

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
    assert_eq!(o.starve_ns(), 20_000_000);
}

#[test]
fn out_of_range_values_are_refused() {
    for args in [
        &["--slice-us", "99"][..],
        &["--slice-us", "100001"],
        &["--slice-lag-us", "999"],
        &["--slice-lag-us", "1000001"],
        &["--starve-us", "999"],
        &["--starve-us", "1000001"],
        &["--max-wait-ms", "49"],
        &["--max-wait-ms", "10001"],
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
fn game_flags() {
    let o = parse(&[
        "--game-pid",
        "42",
        "--game-pid",
        "7",
        "--game-comm",
        "hl2_linux",
    ])
    .unwrap();
    assert_eq!(o.game_pid, vec![42, 7]);
    assert_eq!(o.game_comm.as_deref(), Some("hl2_linux"));
    for args in [
        &["--game-pid", "0"][..],
        &["--game-pid=-3"],
        &["--game-comm", ""],
        &["--game-comm", "a-name-of-16-byt"],
    ] {
        assert_eq!(
            parse(args).unwrap_err().kind(),
            ErrorKind::ValueValidation,
            "{args:?}"
        );
    }
    assert!(parse(&["--game-comm", "exactly15bytes!"]).is_ok());
    assert!(
        parse(&["--list-game-candidates"])
            .unwrap()
            .list_game_candidates
    );
    assert!(!parse(&[]).unwrap().list_game_candidates);
}

#[test]
fn class_windows_convert_and_refuse_out_of_range() {
    let o = parse(&["--class-window-ms", "250", "--chain-window-us", "500"]).unwrap();
    assert_eq!(o.class_window_ns(), 250_000_000);
    assert_eq!(o.chain_window_ns(), 500_000);
    for args in [
        &["--class-window-ms", "9"][..],
        &["--chain-window-us", "99"],
        &["--chain-max-depth", "0"],
        &["--chain-max-depth", "9"],
    ] {
        assert_eq!(
            parse(args).unwrap_err().kind(),
            ErrorKind::ValueValidation,
            "{args:?}"
        );
    }
}

#[test]
fn watch_flags_name_known_streams() {
    let o = parse(&["--watch-events", "frame,exec", "--watch-input"]).unwrap();
    assert_eq!(o.watched_streams(), [Kind::Frame, Kind::Proc, Kind::Input]);
    let o = parse(&["--watch-input", "--log-classes"]).unwrap();
    assert_eq!(o.watched_streams(), [Kind::Input, Kind::Class]);
    let err = parse(&["--watch-events", "frames"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidValue);
    assert!(err.to_string().contains("'frames'"), "{err}");
    assert!(err.to_string().contains("gpu-submit"), "{err}");
    // The class stream goes to the log through --log-classes only.
    assert!(parse(&["--watch-events", "class"]).is_err());
    assert_eq!(
        parse(&["--runq-wait-us", "99"]).unwrap_err().kind(),
        ErrorKind::ValueValidation
    );
    assert_eq!(
        parse(&["--runq-wait-us", "250"]).unwrap().runq_wait_ns(),
        250_000
    );
}

#[test]
fn restart_on_error_is_bounded_and_off_by_default() {
    assert_eq!(parse(&[]).unwrap().restart_on_error, 0);
    assert_eq!(
        parse(&["--restart-on-error", "3"])
            .unwrap()
            .restart_on_error,
        3
    );
    assert_eq!(
        parse(&["--restart-on-error", "101"]).unwrap_err().kind(),
        ErrorKind::ValueValidation
    );
}

#[test]
fn the_test_flags_are_hidden_and_validated() {
    use clap::CommandFactory;
    let cmd = Opts::command();
    for long in ["test-bpf-error-after-ms", "test-skip-btf-check"] {
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(long))
            .unwrap();
        assert!(arg.is_hide_set(), "--{long} is shown");
    }
    assert_eq!(parse(&[]).unwrap().test_bpf_error_after_ms, None);
    assert!(!parse(&[]).unwrap().test_skip_btf_check);
    assert_eq!(
        parse(&["--test-bpf-error-after-ms", "0"])
            .unwrap_err()
            .kind(),
        ErrorKind::ValueValidation
    );
}

#[test]
fn run_takes_the_command_as_it_is() {
    let o = parse(&["run", "--", "game", "--fullscreen", "-x"]).unwrap();
    let Some(Subcommand::Run { command }) = o.command else {
        panic!("no run subcommand");
    };
    assert_eq!(command, ["game", "--fullscreen", "-x"]);
    let o = parse(&["--launch-socket", "/tmp/l", "run", "game"]).unwrap();
    assert_eq!(o.launch_socket.to_str(), Some("/tmp/l"));
    assert!(parse(&["run"]).is_err(), "run without a command");
    assert!(parse(&[]).unwrap().command.is_none());
}

#[test]
fn stats_flags() {
    let o = parse(&["--stats", "2", "--debug-api", "9100"]).unwrap();
    assert_eq!(o.stats, Some(2));
    assert_eq!(o.debug_api, Some(9100));
    assert_eq!(o.stats_socket.to_str(), Some("/var/run/scx/root/stats"));
    let o = parse(&["--monitor", "1", "--json", "--stats-socket", "/tmp/s"]).unwrap();
    assert_eq!(o.monitor, Some(1));
    assert!(o.json);
    assert_eq!(o.stats_socket.to_str(), Some("/tmp/s"));
    for args in [
        &["--stats", "0"][..],
        &["--stats", "3601"],
        &["--monitor", "0"],
        &["--debug-api", "0"],
        &["--debug-api", "65536"],
    ] {
        assert_eq!(
            parse(args).unwrap_err().kind(),
            ErrorKind::ValueValidation,
            "{args:?}"
        );
    }
    assert_eq!(
        parse(&["--json"]).unwrap_err().kind(),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        parse(&["--monitor", "1", "--stats", "1"])
            .unwrap_err()
            .kind(),
        ErrorKind::ArgumentConflict
    );
    assert_eq!(
        parse(&["--monitor", "1", "--debug-api", "80"])
            .unwrap_err()
            .kind(),
        ErrorKind::ArgumentConflict
    );
}

#[test]
fn fast_cpus_take_a_cpu_list() {
    assert_eq!(parse(&[]).unwrap().fast_cpus, None);
    let o = parse(&["--fast-cpus", "0-3,8"]).unwrap();
    assert_eq!(
        o.fast_cpus,
        Some(crate::topology::CpuList(vec![0, 1, 2, 3, 8]))
    );
    for bad in ["", "3-1", "x"] {
        let err = parse(&["--fast-cpus", bad]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation, "{bad:?}");
    }
}

#[test]
fn lag_bound_below_one_slice_is_refused() {
    let o = parse(&["--slice-us", "5000", "--slice-lag-us", "4999"]).unwrap();
    let err = o.cross_check().unwrap_err();
    assert!(
        err.contains("--slice-lag-us 4999 is below --slice-us 5000"),
        "{err}"
    );
    let o = parse(&["--slice-us", "5000", "--slice-lag-us", "5000"]).unwrap();
    assert_eq!(o.cross_check(), Ok(()));
    assert_eq!(parse(&[]).unwrap().cross_check(), Ok(()));
}

#[test]
fn range_edges_are_accepted() {
    let o = parse(&["--slice-us", "100", "--slice-lag-us", "1000000"]).unwrap();
    assert_eq!(o.slice_us, 100);
    assert_eq!(o.slice_lag_us, 1_000_000);
}
