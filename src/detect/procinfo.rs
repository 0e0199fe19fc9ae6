// SPDX-License-Identifier: GPL-2.0-only
//
// The one /proc reader: of a process, what the game rules need and nothing
// more, under a root given as a path so tests can point it at fixtures. A
// process can exit while it is read, and kernel threads have no command line,
// environment or executable: a missing file is an absent value, not an error.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The environment keys the rules read, each set by a launcher on what it
/// starts (docs/detection.md says which): Steam's and umu's (the first
/// four), a Wine prefix, Lutris's per-launch UUID, Heroic's, umu's game id
/// (`umu-<id>`) and Bottles' bottle path. The rest is not kept.
pub const ENV_KEYS: &[&str] = &[
    "SteamAppId",
    "SteamGameId",
    "STEAM_COMPAT_APP_ID",
    "STEAM_COMPAT_DATA_PATH",
    "WINEPREFIX",
    "LUTRIS_GAME_UUID",
    "HEROIC_APP_NAME",
    "HEROIC_APP_RUNNER",
    "HEROIC_APP_SOURCE",
    "GAMEID",
    "BOTTLE",
];

/// How many parents are read above a process: enough for Steam's longest
/// chain (reaper, launch wrapper, runtime entry point, pressure-vessel,
/// bwrap, adverb, proton, the Wine processes) nested under gamescope.
pub const MAX_CHAIN: usize = 24;

/// How much of a command line and of an environment is read: any process
/// can make its own as long as it likes, every rule looks at argv[0] or near
/// it, and a game's environment from a launcher is a few KiB.
pub const MAX_CMDLINE: u64 = 4 << 10;
pub const MAX_ENVIRON: u64 = 64 << 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    pub pid: u32,
    pub ppid: u32,
    /// The real uid: the user who started it.
    pub uid: u32,
    /// The kernel's name for it (at most 15 bytes).
    pub comm: String,
    /// The command line, one entry per argument.
    pub args: Vec<String>,
    /// Only the keys of `ENV_KEYS` that are set.
    pub env: Vec<(&'static str, String)>,
    /// Where /proc/<pid>/exe points; None for kernel threads, zombies and
    /// processes we may not look into.
    pub exe: Option<PathBuf>,
}

impl ProcInfo {
    pub fn env(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The executable's file name, without the kernel's " (deleted)" mark.
    pub fn exe_name(&self) -> Option<&str> {
        let name = self.exe.as_deref()?.file_name()?.to_str()?;
        Some(name.strip_suffix(" (deleted)").unwrap_or(name))
    }

    /// The name the kernel gave it at its exec: the executable's file name
    /// cut to the GAMER_COMM_LEN - 1 bytes a comm holds; empty for kernel
    /// threads. Unlike `comm`, the process cannot change it with
    /// PR_SET_NAME.
    pub fn exec_name(&self) -> String {
        let name = self.exe_name().unwrap_or_default().as_bytes();
        let max = crate::bpf_intf::gamer_consts_GAMER_COMM_LEN as usize - 1;
        String::from_utf8_lossy(&name[..name.len().min(max)]).into_owned()
    }
}

/// The file name of a path written the Unix or the Windows way
/// (`Z:\games\Game.exe` gives `Game.exe`).
pub fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Read one process; None when it is gone (no status file).
pub fn read_process(proc_root: &Path, pid: u32) -> Option<ProcInfo> {
    read_with(proc_root, pid, true)
}

/// Read one process without its environment: for a parent, whose names
/// are all the rules look at.
pub fn read_names(proc_root: &Path, pid: u32) -> Option<ProcInfo> {
    read_with(proc_root, pid, false)
}

/// At most `max` bytes of `path`.
fn read_capped(path: &Path, max: u64) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    let file = fs::File::open(path).ok()?;
    file.take(max).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

fn read_with(proc_root: &Path, pid: u32, with_env: bool) -> Option<ProcInfo> {
    let dir = proc_root.join(pid.to_string());
    let status = fs::read_to_string(dir.join("status")).ok()?;
    let (comm, ppid, uid) = parse_status(&status)?;
    let cmdline = read_capped(&dir.join("cmdline"), MAX_CMDLINE);
    let environ = with_env.then(|| read_capped(&dir.join("environ"), MAX_ENVIRON));
    Some(ProcInfo {
        pid,
        ppid,
        uid,
        comm,
        args: cmdline.map(|b| split_nul(&b)).unwrap_or_default(),
        env: environ
            .flatten()
            .map(|b| parse_environ(&b))
            .unwrap_or_default(),
        exe: fs::read_link(dir.join("exe")).ok(),
    })
}

/// The parents of `p`, nearest first, up to `MAX_CHAIN` of them, without
/// their environments. The chain ends at a parent that is gone, at pid 1
/// (included) or at a loop.
pub fn parent_chain(proc_root: &Path, p: &ProcInfo) -> Vec<ProcInfo> {
    chain_with(p, |pid| read_names(proc_root, pid))
}

/// `parent_chain` over processes already read (one scan of /proc).
pub fn chain_with(p: &ProcInfo, mut get: impl FnMut(u32) -> Option<ProcInfo>) -> Vec<ProcInfo> {
    let mut chain: Vec<ProcInfo> = Vec::new();
    let mut next = p.ppid;
    while next > 0 && next != p.pid && chain.len() < MAX_CHAIN {
        if chain.iter().any(|c| c.pid == next) {
            break;
        }
        let Some(parent) = get(next) else {
            break;
        };
        next = if parent.pid == 1 { 0 } else { parent.ppid };
        chain.push(parent);
    }
    chain
}

/// Every pid under `proc_root` now.
pub fn list_pids(proc_root: &Path) -> Vec<u32> {
    let entries = fs::read_dir(proc_root).into_iter().flatten();
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// Every process now under `proc_root`, without environments.
pub fn scan_processes(proc_root: &Path) -> Vec<ProcInfo> {
    list_pids(proc_root)
        .into_iter()
        .filter_map(|pid| read_names(proc_root, pid))
        .collect()
}

/// Name, parent pid and real uid from /proc/<pid>/status.
fn parse_status(status: &str) -> Option<(String, u32, u32)> {
    let (mut name, mut ppid, mut uid) = (None, None, None);
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim_start_matches([' ', '\t']);
        match key {
            "Name" => name = Some(unescape_name(value)),
            "PPid" => ppid = value.trim().parse().ok(),
            "Uid" => uid = value.split_whitespace().next()?.parse().ok(),
            _ => {}
        }
    }
    Some((name?, ppid?, uid?))
}

/// The status file escapes a newline in the name as `\n` and a backslash as
/// `\\`; undo both so the name is the one the process set.
fn unescape_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn split_nul(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

fn parse_environ(bytes: &[u8]) -> Vec<(&'static str, String)> {
    let mut env = Vec::new();
    for entry in bytes.split(|&b| b == 0) {
        let Some(eq) = entry.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (key, value) = (&entry[..eq], &entry[eq + 1..]);
        if let Some(k) = ENV_KEYS.iter().find(|k| k.as_bytes() == key) {
            if !env.iter().any(|(seen, _)| seen == k) {
                env.push((*k, String::from_utf8_lossy(value).into_owned()));
            }
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures(scenario: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/proc")
            .join(scenario)
    }

    #[test]
    fn reads_a_proton_game_process() {
        let p = read_process(&fixtures("proton"), 2006).unwrap();
        assert_eq!(p.pid, 2006);
        assert_eq!(p.ppid, 2005);
        assert_eq!(p.uid, 1000);
        assert_eq!(p.comm, "Cyberpunk2077.e");
        assert_eq!(
            p.args,
            vec![
                "Z:\\home\\alex\\.local\\share\\Steam\\steamapps\\common\\Cyberpunk 2077\\bin\\x64\\Cyberpunk2077.exe",
                "--launcher-skip"
            ]
        );
        assert_eq!(p.env("SteamAppId"), Some("1091500"));
        assert_eq!(p.env("STEAM_COMPAT_APP_ID"), Some("1091500"));
        assert_eq!(p.env("PATH"), None, "keys outside ENV_KEYS are not kept");
        assert_eq!(p.exe_name(), Some("wine64-preloader"));
    }

    #[test]
    fn chain_goes_up_to_the_first_missing_parent() {
        let root = fixtures("proton");
        let p = read_process(&root, 2006).unwrap();
        let chain: Vec<u32> = parent_chain(&root, &p).iter().map(|c| c.pid).collect();
        assert_eq!(chain, vec![2005, 2004, 2003, 2002, 2001, 2000, 1000]);
    }

    #[test]
    fn kernel_threads_and_dead_processes_are_not_errors() {
        let root = fixtures("desktop");
        let k = read_process(&root, 2).unwrap();
        assert_eq!(k.comm, "kthreadd");
        assert!(k.args.is_empty() && k.env.is_empty() && k.exe.is_none());
        // A process whose directory is gone reads as None.
        assert_eq!(read_process(&root, 424242), None);
        // One whose status is gone (it exited between two reads) too.
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("77")).unwrap();
        fs::write(dir.path().join("77/cmdline"), b"x\0").unwrap();
        assert_eq!(read_process(dir.path(), 77), None);
    }

    #[test]
    fn chain_stops_at_loops_and_at_the_bound() {
        let mk = |pid, ppid| ProcInfo {
            pid,
            ppid,
            uid: 0,
            comm: String::new(),
            args: vec![],
            env: vec![],
            exe: None,
        };
        // 10 -> 11 -> 12 -> 11: a loop (pid reuse while reading) ends it.
        let chain = chain_with(&mk(10, 11), |pid| match pid {
            11 => Some(mk(11, 12)),
            12 => Some(mk(12, 11)),
            _ => None,
        });
        assert_eq!(
            chain.iter().map(|c| c.pid).collect::<Vec<_>>(),
            vec![11, 12]
        );
        // An endless line of parents is cut at MAX_CHAIN.
        let chain = chain_with(&mk(1_000, 999), |pid| Some(mk(pid, pid - 1)));
        assert_eq!(chain.len(), MAX_CHAIN);
        // pid 1 is the last.
        let chain = chain_with(&mk(5, 1), |pid| Some(mk(pid, 0)));
        assert_eq!(chain.len(), 1);
    }

    #[test]
    fn status_names_are_unescaped() {
        let (name, ppid, uid) =
            parse_status("Name:\tweird\\nname\\\\x\nPPid:\t7\nUid:\t1000\t1000\t1000\t1000\n")
                .unwrap();
        assert_eq!(name, "weird\nname\\x");
        assert_eq!((ppid, uid), (7, 1000));
        assert_eq!(parse_status("Name:\tx\n"), None);
    }

    #[test]
    fn real_uid_is_the_first_uid_field() {
        let status = "Name:\tgame\nTgid:\t42\nPPid:\t1\nUid:\t1000\t0\t0\t0\n";
        assert_eq!(parse_status(status).map(|s| s.2), Some(1000));
    }

    #[test]
    fn environ_keeps_known_keys_once() {
        let env =
            parse_environ(b"PATH=/bin\0SteamAppId=220\0junk\0SteamAppId=1\0WINEPREFIX=/p=q\0");
        assert_eq!(
            env,
            vec![
                ("SteamAppId", "220".to_string()),
                ("WINEPREFIX", "/p=q".to_string())
            ]
        );
    }

    #[test]
    fn reads_are_capped_and_parents_are_read_without_environment() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("9");
        fs::create_dir(&p).unwrap();
        fs::write(
            p.join("status"),
            "Name:\tx.exe\nPPid:\t1\nUid:\t5\t5\t5\t5\n",
        )
        .unwrap();
        let long_arg = "a".repeat(MAX_CMDLINE as usize * 4);
        fs::write(p.join("cmdline"), format!("x.exe\0{long_arg}\0")).unwrap();
        let filler = format!("JUNK={}\0", "b".repeat(MAX_ENVIRON as usize));
        fs::write(
            p.join("environ"),
            format!("WINEPREFIX=/p\0{filler}SteamAppId=1\0"),
        )
        .unwrap();
        let full = read_process(dir.path(), 9).unwrap();
        assert_eq!(full.args.len(), 2);
        assert_eq!(
            full.args.iter().map(String::len).sum::<usize>(),
            MAX_CMDLINE as usize - 1,
            "the command line stops at the cap (one byte was a NUL)"
        );
        assert_eq!(full.env("WINEPREFIX"), Some("/p"));
        assert_eq!(full.env("SteamAppId"), None, "past the environment cap");
        let names = read_names(dir.path(), 9).unwrap();
        assert!(names.env.is_empty());
        assert_eq!(names.args, full.args);
    }

    #[test]
    fn exec_names_are_cut_like_a_comm() {
        let mut p = read_process(&fixtures("desktop"), 2).unwrap();
        assert_eq!(p.exec_name(), "", "a kernel thread has none");
        p.exe = Some("/opt/game/hl2_linux (deleted)".into());
        assert_eq!(p.exec_name(), "hl2_linux");
        p.exe = Some("/x/a_very_long_program_name".into());
        assert_eq!(p.exec_name(), "a_very_long_pro");
    }

    #[test]
    fn scan_reads_every_process_without_environment() {
        let procs = scan_processes(&fixtures("proton"));
        assert_eq!(
            procs.iter().map(|p| p.pid).collect::<Vec<_>>(),
            list_pids(&fixtures("proton"))
        );
        assert!(procs.len() > 5 && procs.iter().all(|p| p.env.is_empty()));
        assert!(scan_processes(Path::new("/nonexistent")).is_empty());
    }

    #[test]
    fn base_names_of_unix_and_windows_paths() {
        assert_eq!(
            base_name("C:\\windows\\system32\\services.exe"),
            "services.exe"
        );
        assert_eq!(base_name("/usr/bin/wine64"), "wine64");
        assert_eq!(base_name("Game.exe"), "Game.exe");
    }
}
