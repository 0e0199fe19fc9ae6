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
    /// Lutris, Heroic, Bottles.
    Launcher,
    /// What starts the game and waits on it: Steam's reaper, its runtime,
    /// Proton, umu, gamescope, the store clients Heroic runs.
    Wrapper,
    /// wineserver and the Windows services.
    WineInfrastructure,
    Compiler,
    Browser,
    /// When it runs a game's start script, the game is what the script
    /// starts.
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
}

/// The roles by name, first match first, with why each is never the game.
const ROLES: [(&[&str], Role, &str); 7] = [
    (
        WINE_INFRASTRUCTURE,
        Role::WineInfrastructure,
        "Wine infrastructure",
    ),
    (STEAM_CLIENT, Role::SteamClient, "Steam client"),
    (LAUNCHERS, Role::Launcher, "game launcher"),
    (WRAPPERS, Role::Wrapper, "launch wrapper"),
    (COMPILERS, Role::Compiler, "compiler"),
    (BROWSERS, Role::Browser, "web browser"),
    (SHELLS, Role::Shell, "shell"),
];

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

/// Whether a name is one of `list`, allowing for the kernel cutting comm to
/// 15 bytes. Windows names compare without case, as Windows does.
fn named(names: &[&str], list: &[&str]) -> bool {
    names.iter().any(|n| {
        list.iter().any(|l| {
            n.eq_ignore_ascii_case(l)
                || (n.len() == 15 && l.len() > 15 && l.as_bytes().starts_with(n.as_bytes()))
        })
    })
}

/// The part `p` plays, and why that is never the game, from its names.
fn role_of(p: &ProcInfo) -> Option<(Role, &'static str)> {
    let names = names(p);
    let role = ROLES.iter().find(|(list, ..)| named(&names, list));
    role.map(|(_, role, why)| (*role, *why))
}

pub fn role(p: &ProcInfo) -> Role {
    role_of(p).map_or(Role::Other, |(role, _)| role)
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
    let exe = p
        .exe
        .as_deref()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let in_dir = exe
        .split_once("/steamapps/common/")
        .and_then(|(_, r)| r.split_once('/'));
    in_dir.is_some_and(|(dir, file)| {
        !file.is_empty() && !STEAM_TOOL_DIRS.iter().any(|t| dir.starts_with(t))
    })
}

fn has_any(p: &ProcInfo, keys: &[&str]) -> bool {
    keys.iter().any(|k| p.env(k).is_some_and(|v| !v.is_empty()))
}

/// Score `p`, whose parents (nearest first) are `chain`.
pub fn score(p: &ProcInfo, chain: &[ProcInfo]) -> Score {
    let mut s = Score::default();
    if let Some((_, why)) = role_of(p) {
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
#[path = "score_tests.rs"]
mod tests;
