// SPDX-License-Identifier: GPL-2.0-only
//
// Unit tests of the game rules (score.rs), on the /proc fixtures of real launches.

use super::*;
use crate::detect::procinfo::{parent_chain, read_process};
use std::path::{Path, PathBuf};

fn root(scenario: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/proc")
        .join(scenario)
}

/// The score of one fixture process, its role, and the decision for a
/// process of a logged-in user.
fn judge(scenario: &str, pid: u32) -> (Score, Role, bool) {
    let root = root(scenario);
    let p = read_process(&root, pid).unwrap_or_else(|| panic!("{scenario}/{pid}"));
    let s = score(&p, &parent_chain(&root, &p));
    let decided = is_game(&s, true);
    (s, role(&p), decided)
}

fn assert_game(scenario: &str, pid: u32, total: i32, reasons: &[&str]) {
    let (s, r, decided) = judge(scenario, pid);
    assert_eq!(s.total, total, "{scenario}/{pid}: {s:?}");
    assert_eq!(s.reasons, reasons, "{scenario}/{pid}");
    assert_eq!(r, Role::Other, "{scenario}/{pid}");
    assert!(decided, "{scenario}/{pid} is the game");
}

fn assert_never(scenario: &str, pid: u32, role_is: Role, why: &str) {
    let (s, r, decided) = judge(scenario, pid);
    assert_eq!(r, role_is, "{scenario}/{pid}");
    assert_eq!(s.reasons.first(), Some(&why), "{scenario}/{pid}: {s:?}");
    assert!(s.total < 0, "{scenario}/{pid}: {s:?}");
    assert!(!decided, "{scenario}/{pid} must not be picked");
}

const WINE_GAME: [&str; 5] = [
    "runs a Wine loader",
    "Windows program (.exe)",
    "Steam game environment",
    "Wine prefix environment",
    "started by a game launcher",
];

const LAUNCHER_WINE_GAME: [&str; 5] = [
    "runs a Wine loader",
    "Windows program (.exe)",
    "launcher game environment",
    "Wine prefix environment",
    "started by a game launcher",
];

#[test]
fn proton_game_is_picked_and_nothing_else_in_its_chain() {
    assert_game("proton", 2006, 105, &WINE_GAME);
    for pid in [2000, 2001, 2002, 2003, 2004] {
        assert_never("proton", pid, Role::Wrapper, "launch wrapper");
    }
    for pid in [2005, 2007, 2008, 2009, 2010] {
        assert_never(
            "proton",
            pid,
            Role::WineInfrastructure,
            "Wine infrastructure",
        );
    }
    assert_never("proton", 1000, Role::SteamClient, "Steam client");
    assert_never("proton", 1001, Role::SteamClient, "Steam client");
}

#[test]
fn proton_game_is_picked_right_after_its_exec() {
    // Before Wine renames the process, the Windows program is an
    // argument of the loader.
    assert_game("proton-early", 2006, 105, &WINE_GAME);
    assert_never(
        "proton-early",
        2005,
        Role::WineInfrastructure,
        "Wine infrastructure",
    );
}

#[test]
fn native_steam_game_is_picked_not_its_start_script() {
    assert_game(
        "native",
        3003,
        75,
        &[
            "executable in a Steam library",
            "Steam game environment",
            "started by a game launcher",
        ],
    );
    assert_never("native", 3002, Role::Shell, "shell");
    assert_never("native", 3000, Role::Wrapper, "launch wrapper");
}

#[test]
fn lutris_wine_game_is_picked() {
    assert_game("lutris", 4002, 105, &LAUNCHER_WINE_GAME);
    assert_never("lutris", 4000, Role::Launcher, "game launcher");
    assert_never("lutris", 4001, Role::Wrapper, "launch wrapper");
    for pid in [4003, 4004, 4005] {
        assert_never(
            "lutris",
            pid,
            Role::WineInfrastructure,
            "Wine infrastructure",
        );
    }
}

#[test]
fn heroic_games_are_picked_with_wine_and_with_proton() {
    assert_game("heroic-wine", 5002, 105, &LAUNCHER_WINE_GAME);
    assert_never("heroic-wine", 5000, Role::Launcher, "game launcher");
    assert_never("heroic-wine", 5001, Role::Wrapper, "launch wrapper");
    assert_never(
        "heroic-wine",
        5003,
        Role::WineInfrastructure,
        "Wine infrastructure",
    );

    assert_game(
        "heroic-proton",
        5105,
        125,
        &[
            "runs a Wine loader",
            "Windows program (.exe)",
            "Steam game environment",
            "launcher game environment",
            "Wine prefix environment",
            "started by a game launcher",
        ],
    );
    for pid in [5101, 5102, 5103] {
        assert_never("heroic-proton", pid, Role::Wrapper, "launch wrapper");
    }
    assert_never(
        "heroic-proton",
        5104,
        Role::WineInfrastructure,
        "Wine infrastructure",
    );
}

#[test]
fn compilers_browsers_and_kernel_threads_are_never_picked() {
    assert_never("desktop", 6000, Role::Browser, "web browser");
    assert_never("desktop", 6001, Role::Browser, "web browser");
    // Even with Steam's keys in their environment.
    assert_never("desktop", 6100, Role::Compiler, "compiler");
    assert_never("desktop", 6101, Role::Compiler, "compiler");
    assert_never("desktop", 6102, Role::Compiler, "compiler");
    let (s, r, decided) = judge("desktop", 2);
    assert_eq!((s, r, decided), (Score::default(), Role::Other, false));
}

#[test]
fn a_system_account_faking_a_launch_is_not_picked() {
    let (s, _, _) = judge("desktop", 7001);
    assert!(
        s.total >= GAME_THRESHOLD,
        "the fake scores like a game: {s:?}"
    );
    assert!(!is_game(&s, false), "but its owner has no session");
}

#[test]
fn a_windows_program_run_by_hand_is_not_a_game() {
    let (s, r, decided) = judge("desktop", 7999);
    assert_eq!(r, Role::Other);
    assert_eq!(s.total, 65, "{s:?}");
    assert!(!decided);
}

fn proc_with(comm: &str, exe: &str, args: &[&str]) -> ProcInfo {
    ProcInfo {
        pid: 10,
        ppid: 1,
        uid: 1000,
        comm: comm.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        env: vec![],
        exe: Some(exe.into()),
    }
}

#[test]
fn names_allow_for_the_kernels_15_byte_comm() {
    let p = proc_with("pressure-vessel", "/x/pv", &[]);
    assert_eq!(role(&p), Role::Wrapper);
    let p = proc_with("winemenubuilder", "/x/wine64-preloader", &[]);
    assert_eq!(role(&p), Role::WineInfrastructure);
    // A 14-byte name that starts a listed one is not that one.
    let p = proc_with("steam-launch-w", "/x/y", &[]);
    assert_eq!(role(&p), Role::Other);
}

#[test]
fn windows_names_compare_without_case() {
    let p = proc_with(
        "x",
        "/w/wine64-preloader",
        &["C:\\WINDOWS\\SYSTEM32\\SERVICES.EXE"],
    );
    assert_eq!(role(&p), Role::WineInfrastructure);
    assert_eq!(windows_image(&p), Some("SERVICES.EXE"));
    // ".exe" alone, or an .exe argument of something that is not a Wine
    // loader, is not a Windows program.
    assert_eq!(
        windows_image(&proc_with("x", "/usr/bin/cp", &["cp", "a.exe", "b"])),
        None
    );
    assert_eq!(
        windows_image(&proc_with("x", "/usr/bin/x", &[".exe"])),
        None
    );
}

#[test]
fn steam_tools_in_a_library_are_not_games() {
    let lib = "/h/Steam/steamapps/common";
    for exe in [
        format!("{lib}/Proton 9.0 (Beta)/files/bin/wine64-preloader"),
        format!("{lib}/SteamLinuxRuntime_sniper/pressure-vessel/bin/pv-bwrap"),
        format!("{lib}/Steamworks Shared/_CommonRedist/vcredist/x.bin"),
        format!("{lib}/Half-Life 2"),
    ] {
        assert!(!in_steam_library(&proc_with("x", &exe, &[])), "{exe}");
    }
    assert!(in_steam_library(&proc_with(
        "x",
        &format!("{lib}/Portal 2/portal2_linux"),
        &[]
    )));
}

#[test]
fn scripts_are_named_after_the_script_not_the_interpreter() {
    let p = proc_with(
        "python3",
        "/usr/bin/python3.11",
        &["python3", "/p/Proton 9.0/proton", "run", "x.exe"],
    );
    assert_eq!(role(&p), Role::Wrapper);
    let p = proc_with(
        "python3",
        "/usr/bin/python3.11",
        &["/usr/bin/env", "python3", "/usr/bin/lutris"],
    );
    assert_eq!(role(&p), Role::Launcher);
    // A shell script is named by its script, before it counts as a shell.
    let p = proc_with(
        "umu",
        "/usr/bin/dash",
        &["/bin/sh", "/h/.local/share/umu/umu", "--verb", "run"],
    );
    assert_eq!(role(&p), Role::Wrapper);
    // A program that is not an interpreter is not named by its argument.
    let p = proc_with("mpv", "/usr/bin/mpv", &["mpv", "proton"]);
    assert_eq!(role(&p), Role::Other);
}
