// SPDX-License-Identifier: GPL-2.0-only
//
// The game rules, pure: from a process and its parent chain, a score with
// its reasons, and what part the process plays in a launch (a launcher or a
// wrapper to watch, infrastructure never to pick, or a candidate). The
// launch chains these rules model are in docs/detection.md.

use super::procinfo::{base_name, ProcInfo};

/// A process scoring this or more, owned by a logged-in user, is a game.
/// A Wine or Proton game under a launcher scores 100 or more and a native
/// Steam game 75, while a Windows program run by hand with `wine` and a
/// WINEPREFIX scores 65: being a Wine program is not enough without some
/// evidence of a launcher.
pub const GAME_THRESHOLD: i32 = 70;

/// What an exclusion weighs: no evidence can outweigh it.
pub const EXCLUDED: i32 = -1000;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Score {
    pub total: i32,
    pub reasons: Vec<&'static str>,
}

impl Score {
    fn add(&mut self, points: i32, reason: &'static str) {
        self.total += points;
        self.reasons.push(reason);
    }
}

/// The part a process plays in a launch, from its names alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Steam itself: the client and its web helper.
    SteamClient,
    /// A launcher's own process: Lutris, Heroic, Bottles.
    Launcher,
    /// A process that starts the game and waits on it: Steam's reaper and
    /// launch wrapper, the Steam Linux Runtime, Proton, umu, gamescope, the
    /// store clients Heroic runs, lutris-wrapper.
    Wrapper,
    /// Wine's own processes: wineserver and the Windows services.
    WineInfrastructure,
    Compiler,
    Browser,
    /// A shell: when it runs a game's start script, the game is the program
    /// the script starts.
    Shell,
    /// Anything else: the rules decide.
    Other,
}

impl Role {
    /// Whether execs below this process should be reported: it is where
    /// games are started from.
    pub fn watch(self) -> bool {
        matches!(self, Role::Launcher | Role::Wrapper)
    }

    /// Why a process of this role is never the game, if it never is.
    fn exclusion(self) -> Option<&'static str> {
        match self {
            Role::SteamClient => Some("Steam client"),
            Role::Launcher => Some("game launcher"),
            Role::Wrapper => Some("launch wrapper"),
            Role::WineInfrastructure => Some("Wine infrastructure"),
            Role::Compiler => Some("compiler"),
            Role::Browser => Some("web browser"),
            Role::Shell => Some("shell"),
            Role::Other => None,
        }
    }
}

const STEAM_CLIENT: &[&str] = &["steam", "steam.sh", "steamwebhelper"];

const LAUNCHERS: &[&str] = &["lutris", "heroic", "bottles", "bottles-cli"];

const WRAPPERS: &[&str] = &[
    "reaper",
    "steam-launch-wrapper",
    "_v2-entry-point",
    "pressure-vessel-wrap",
    "pressure-vessel-unruntime",
    "pressure-vessel-adverb",
    "pv-adverb",
    "srt-bwrap",
    "proton",
    "umu-run",
    // umu's copy of the Steam Linux Runtime's entry point.
    "umu",
    "gamescope",
    "gamescopereaper",
    "lutris-wrapper",
    "legendary",
    "gogdl",
    "nile",
];

/// Windows programs every Wine prefix runs besides the game, and Proton's
/// steam.exe, which starts the game and waits for it.
const WINE_INFRASTRUCTURE: &[&str] = &[
    "wineserver",
    "wineboot.exe",
    "services.exe",
    "winedevice.exe",
    "plugplay.exe",
    "explorer.exe",
    "svchost.exe",
    "rpcss.exe",
    "conhost.exe",
    "tabtip.exe",
    "rundll32.exe",
    "winemenubuilder.exe",
    "start.exe",
    "cmd.exe",
    "winedbg.exe",
    "msiexec.exe",
    "regsvr32.exe",
    "steam.exe",
];

const COMPILERS: &[&str] = &[
    "cc1", "cc1plus", "cc1obj", "rustc", "gcc", "g++", "cc", "c++", "clang", "clang++", "ld",
    "ld.bfd", "ld.gold", "ld.lld", "lld", "mold", "collect2", "as", "cargo", "make", "ninja",
];

const BROWSERS: &[&str] = &[
    "firefox",
    "firefox-esr",
    "firefox-bin",
    "Web Content",
    "Isolated Web Co",
    "WebExtensions",
    "chrome",
    "chromium",
    "chromium-browser",
    "google-chrome",
    "brave",
    "msedge",
    "opera",
    "vivaldi-bin",
];

const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "fish"];

/// Interpreters whose first argument is the script that names the process.
const INTERPRETERS: &[&str] = &[
    "python", "python3", "perl", "sh", "bash", "dash", "env", "node",
];

/// Wine's loaders: a Windows program's /proc/<pid>/exe is one of these.
const WINE_LOADERS: &[&str] = &["wine64-preloader", "wine-preloader", "wine64", "wine"];

/// Directories in a Steam library that hold Steam's tools, not games.
const STEAM_TOOL_DIRS: &[&str] = &["Proton", "SteamLinuxRuntime", "Steamworks Shared"];

/// The names a process goes by: its comm, its executable's name, argv[0]'s
/// and, for an interpreter, its script's, and the Windows program it runs.
fn names(p: &ProcInfo) -> Vec<&str> {
    let mut names = vec![p.comm.as_str()];
    names.extend(p.exe_name());
    if let Some(arg0) = p.args.first() {
        let arg0 = base_name(arg0);
        names.push(arg0);
        if is_interpreter(arg0) || p.exe_name().is_some_and(is_interpreter) {
            // `python3 -m x` and `env python3 x` put the script further on.
            names.extend(
                p.args
                    .iter()
                    .skip(1)
                    .take(2)
                    .filter(|a| !a.starts_with('-'))
                    .map(|a| base_name(a))
                    .find(|a| !is_interpreter(a)),
            );
        }
    }
    names.extend(windows_image(p));
    names
}

fn is_interpreter(name: &str) -> bool {
    let name = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    INTERPRETERS.contains(&name)
}

/// Whether `name` is one of `list`, allowing for the kernel cutting comm to
/// 15 bytes. Windows names compare without case, as Windows does.
fn named(names: &[&str], list: &[&str]) -> bool {
    names.iter().any(|n| {
        list.iter().any(|l| {
            n.eq_ignore_ascii_case(l)
                || (n.len() == 15 && l.len() > 15 && l.as_bytes().starts_with(n.as_bytes()))
        })
    })
}

/// The part `p` plays, from its names.
pub fn role(p: &ProcInfo) -> Role {
    let names = names(p);
    let table: [(&[&str], Role); 7] = [
        (WINE_INFRASTRUCTURE, Role::WineInfrastructure),
        (STEAM_CLIENT, Role::SteamClient),
        (LAUNCHERS, Role::Launcher),
        (WRAPPERS, Role::Wrapper),
        (COMPILERS, Role::Compiler),
        (BROWSERS, Role::Browser),
        (SHELLS, Role::Shell),
    ];
    table
        .iter()
        .find(|(list, _)| named(&names, list))
        .map_or(Role::Other, |(_, role)| *role)
}

fn runs_wine_loader(p: &ProcInfo) -> bool {
    p.exe_name().is_some_and(|e| WINE_LOADERS.contains(&e))
}

/// The Windows program a process runs, if it runs one: argv[0] once Wine
/// has renamed the process after it, or, just after the exec (before
/// Wine's loader renames it), the first `.exe` argument of a Wine loader.
pub fn windows_image(p: &ProcInfo) -> Option<&str> {
    let is_exe = |a: &&str| a.len() > 4 && a.to_ascii_lowercase().ends_with(".exe");
    let arg0 = p.args.first().map(|a| base_name(a));
    if let Some(a) = arg0.filter(is_exe) {
        return Some(a);
    }
    if runs_wine_loader(p) {
        return p.args.iter().skip(1).map(|a| base_name(a)).find(is_exe);
    }
    None
}

/// Whether the executable sits in a game's folder of a Steam library
/// (`.../steamapps/common/<game>/...`), not in one of Steam's tools there.
fn in_steam_library(p: &ProcInfo) -> bool {
    let Some(exe) = p.exe.as_deref().and_then(|e| e.to_str()) else {
        return false;
    };
    let Some((_, rest)) = exe.split_once("/steamapps/common/") else {
        return false;
    };
    let Some((dir, file)) = rest.split_once('/') else {
        return false;
    };
    !file.is_empty() && !STEAM_TOOL_DIRS.iter().any(|t| dir.starts_with(t))
}

fn has_any(p: &ProcInfo, keys: &[&str]) -> bool {
    keys.iter().any(|k| p.env(k).is_some_and(|v| !v.is_empty()))
}

/// Score `p`, whose parents (nearest first) are `chain`.
pub fn score(p: &ProcInfo, chain: &[ProcInfo]) -> Score {
    let mut s = Score::default();
    if let Some(why) = role(p).exclusion() {
        s.add(EXCLUDED, why);
    }
    if runs_wine_loader(p) {
        s.add(30, "runs a Wine loader");
    }
    if windows_image(p).is_some() {
        s.add(30, "Windows program (.exe)");
    }
    if in_steam_library(p) {
        s.add(35, "executable in a Steam library");
    }
    if has_any(p, &["SteamAppId", "SteamGameId", "STEAM_COMPAT_APP_ID"]) {
        s.add(20, "Steam game environment");
    }
    let umu = p.env("GAMEID").is_some_and(|v| v.starts_with("umu-"));
    if umu || has_any(p, &["LUTRIS_GAME_UUID", "HEROIC_APP_NAME", "BOTTLE"]) {
        s.add(20, "launcher game environment");
    }
    if has_any(p, &["WINEPREFIX", "STEAM_COMPAT_DATA_PATH"]) {
        s.add(5, "Wine prefix environment");
    }
    if chain
        .iter()
        .any(|a| matches!(role(a), Role::Launcher | Role::Wrapper | Role::SteamClient))
    {
        s.add(20, "started by a game launcher");
    }
    s
}

/// The decision: enough evidence, and a process of a logged-in user.
pub fn is_game(score: &Score, in_user_session: bool) -> bool {
    in_user_session && score.total >= GAME_THRESHOLD
}

#[cfg(test)]
mod tests {
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
}
