// SPDX-License-Identifier: GPL-2.0-only
//
// The userspace half of thread classification (src/bpf/classify.bpf.c does
// the work): which processes the command line names as the game, and how
// class events and per-class counters are read back and shown. Which
// optional class hooks the kernel can take is src/hooks.rs.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::Path;

use anyhow::{bail, Result};

use crate::bpf_intf;

pub const NR_CLASSES: usize = bpf_intf::gamer_class_GAMER_NR_CLASSES as usize;

/// Class names, in the order of `enum gamer_class` in intf.h.
pub const CLASS_NAMES: [&str; NR_CLASSES] = ["input", "audio", "compositor", "gpu-submit", "game"];

/// How a class was gained, in the order of `enum gamer_class_via`.
const VIA_NAMES: [&str; bpf_intf::gamer_class_via_GAMER_NR_VIAS as usize] = [
    "evdev-read",
    "hidraw-read",
    "pcm-period",
    "audio-server",
    "drm-atomic",
    "drm-page-flip",
    "gpu-ioctl",
    "game-tgid",
    "wake-chain",
];

/// One process as /proc/<pid>/stat describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcEntry {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    /// The name of the program file it runs (/proc/<pid>/exe), cut as the
    /// kernel cuts a name at exec; empty when unknown (kernel threads).
    /// Unlike `comm`, the process cannot change it with PR_SET_NAME.
    pub exec_name: String,
}

/// The name the kernel gives a process that execs @file: its last path
/// component, cut to the GAMER_COMM_LEN - 1 bytes a comm holds.
pub fn exec_name_of(file: &Path) -> String {
    let name = file
        .file_name()
        .map(|n| n.as_encoded_bytes())
        .unwrap_or_default();
    let max = bpf_intf::gamer_consts_GAMER_COMM_LEN as usize - 1;
    String::from_utf8_lossy(&name[..name.len().min(max)]).into_owned()
}

/// Parse /proc/<pid>/stat. The name sits in parentheses and may itself hold
/// spaces and parentheses, so fields are counted from the last ')'.
pub fn parse_stat(stat: &str) -> Option<ProcEntry> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let pid = stat[..open].trim().parse().ok()?;
    let comm = stat.get(open + 1..close)?.to_string();
    let mut rest = stat[close + 1..].split_whitespace();
    let _state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some(ProcEntry {
        pid,
        ppid,
        comm,
        exec_name: String::new(),
    })
}

/// Every process now running, read once from `proc_root`.
pub fn scan_processes(proc_root: &Path) -> Vec<ProcEntry> {
    let Ok(dir) = fs::read_dir(proc_root) else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        e.file_name().to_str()?.parse::<u32>().ok()?;
        let mut p = parse_stat(&fs::read_to_string(e.path().join("stat")).ok()?)?;
        if let Ok(exe) = fs::read_link(e.path().join("exe")) {
            p.exec_name = exec_name_of(&exe);
        }
        Some(p)
    })
    .collect()
}

/// The processes that make up the game: those named by PID, their
/// descendants, and those running a program file named `comm` (the name an
/// exec under it gets, which the exec hook matches; never the current comm,
/// which any process can set for itself).
pub fn game_processes(procs: &[ProcEntry], pids: &[u32], comm: Option<&str>) -> Result<Vec<u32>> {
    let known: HashSet<u32> = procs.iter().map(|p| p.pid).collect();
    for pid in pids {
        if !known.contains(pid) {
            bail!("--game-pid {pid}: there is no process with that PID");
        }
    }
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in procs {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut game: BTreeSet<u32> = BTreeSet::new();
    let mut todo: Vec<u32> = pids.to_vec();
    todo.extend(
        procs
            .iter()
            .filter(|p| Some(p.exec_name.as_str()) == comm)
            .map(|p| p.pid),
    );
    while let Some(pid) = todo.pop() {
        if game.insert(pid) {
            todo.extend(children.get(&pid).into_iter().flatten());
        }
    }
    Ok(game.into_iter().collect())
}

/// The kernel's fixed-size comm field for a name already checked by the CLI.
pub fn comm_bytes(name: &str) -> [i8; bpf_intf::gamer_consts_GAMER_COMM_LEN as usize] {
    let mut out = [0i8; bpf_intf::gamer_consts_GAMER_COMM_LEN as usize];
    let room = out.len() - 1;
    for (o, b) in out.iter_mut().zip(name.bytes().take(room)) {
        *o = b as i8;
    }
    out
}

/// A human line for one class event from the BPF side.
pub fn describe_event(e: &bpf_intf::class_event) -> String {
    let comm: Vec<u8> = e
        .comm
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    let class = CLASS_NAMES.get(e.class_id as usize).unwrap_or(&"?");
    let via = VIA_NAMES.get(e.via as usize).unwrap_or(&"?");
    let mut line = format!(
        "class {class}: tid {} ({}) tgid {} via {via}",
        e.tid,
        String::from_utf8_lossy(&comm),
        e.tgid
    );
    if e.waker_tid != 0 {
        line.push_str(&format!(" from tid {}", e.waker_tid));
    }
    line
}

const ZERO_COUNTERS: bpf_intf::class_counters = bpf_intf::class_counters {
    threads: 0,
    wakeups: 0,
    cpu_ns: 0,
    boosts: 0,
    runq_waits: 0,
};

/// Sum the per-CPU values of the class counters map.
pub fn sum_class_stats(per_cpu: &[Vec<u8>]) -> [bpf_intf::class_counters; NR_CLASSES] {
    let mut total = [ZERO_COUNTERS; NR_CLASSES];
    for bytes in per_cpu {
        if bytes.len() < std::mem::size_of::<bpf_intf::class_stats>() {
            continue;
        }
        // SAFETY: each per-CPU value is one struct class_stats.
        let s: bpf_intf::class_stats = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
        for (t, c) in total.iter_mut().zip(s.c.iter()) {
            t.threads += c.threads;
            t.wakeups += c.wakeups;
            t.cpu_ns += c.cpu_ns;
            t.boosts += c.boosts;
            t.runq_waits += c.runq_waits;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_every_enum_value() {
        assert_eq!(CLASS_NAMES.len(), NR_CLASSES);
        assert_eq!(
            CLASS_NAMES[bpf_intf::gamer_class_GAMER_CLASS_GAME as usize],
            "game"
        );
        assert_eq!(
            VIA_NAMES[bpf_intf::gamer_class_via_GAMER_VIA_WAKE_CHAIN as usize],
            "wake-chain"
        );
    }

    #[test]
    fn stat_parsing_survives_odd_names() {
        let e = parse_stat("1234 (Web Content (x)) S 99 1234 1234 0 -1").unwrap();
        assert_eq!(
            e,
            ProcEntry {
                pid: 1234,
                ppid: 99,
                comm: "Web Content (x)".into(),
                exec_name: String::new(),
            }
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    fn tree() -> Vec<ProcEntry> {
        let p = |pid, ppid, comm: &str| ProcEntry {
            pid,
            ppid,
            comm: comm.into(),
            exec_name: comm.into(),
        };
        vec![
            p(1, 0, "init"),
            p(10, 1, "steam"),
            p(20, 10, "reaper"),
            p(30, 20, "wine64-preload"),
            p(31, 30, "game.exe"),
            p(40, 1, "cc1"),
            p(50, 1, "hl2_linux"),
        ]
    }

    #[test]
    fn game_is_the_named_pid_and_its_descendants() {
        assert_eq!(
            game_processes(&tree(), &[20], None).unwrap(),
            vec![20, 30, 31]
        );
    }

    #[test]
    fn game_comm_adds_matching_processes_and_their_children() {
        assert_eq!(
            game_processes(&tree(), &[], Some("hl2_linux")).unwrap(),
            vec![50]
        );
        assert_eq!(
            game_processes(&tree(), &[31], Some("hl2_linux")).unwrap(),
            vec![31, 50]
        );
        assert!(game_processes(&tree(), &[], Some("nothing"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn game_comm_ignores_a_process_that_renamed_itself() {
        let mut procs = tree();
        procs.push(ProcEntry {
            pid: 60,
            ppid: 1,
            comm: "hl2_linux".into(),
            exec_name: "python3".into(),
        });
        assert_eq!(
            game_processes(&procs, &[], Some("hl2_linux")).unwrap(),
            vec![50]
        );
    }

    #[test]
    fn exec_names_are_cut_like_a_comm() {
        assert_eq!(exec_name_of(Path::new("/opt/game/hl2_linux")), "hl2_linux");
        assert_eq!(
            exec_name_of(Path::new("/x/a_very_long_program_name")),
            "a_very_long_pro"
        );
        assert_eq!(exec_name_of(Path::new("/")), "");
    }

    #[test]
    fn unknown_game_pid_is_an_error_naming_it() {
        let err = game_processes(&tree(), &[777], None).unwrap_err();
        assert!(err.to_string().contains("--game-pid 777"), "{err}");
    }

    #[test]
    fn comm_bytes_are_nul_terminated() {
        let b = comm_bytes("hl2_linux");
        assert_eq!(b[0], b'h' as i8);
        assert_eq!(b[9], 0);
        assert_eq!(comm_bytes("exactly15bytes!")[15], 0);
    }

    #[test]
    fn events_are_described_with_their_waker() {
        let mut e = bpf_intf::class_event {
            ts_ns: 1,
            tid: 31,
            tgid: 30,
            class_id: bpf_intf::gamer_class_GAMER_CLASS_INPUT,
            via: bpf_intf::gamer_class_via_GAMER_VIA_WAKE_CHAIN,
            waker_tid: 33,
            pad: 0,
            comm: [0; 16],
        };
        for (d, s) in e.comm.iter_mut().zip(b"render") {
            *d = *s as i8;
        }
        assert_eq!(
            describe_event(&e),
            "class input: tid 31 (render) tgid 30 via wake-chain from tid 33"
        );
    }

    #[test]
    fn class_stats_sum_over_cpus() {
        let mut one = bpf_intf::class_stats {
            c: [ZERO_COUNTERS; NR_CLASSES],
        };
        one.c[1].threads = 2;
        one.c[1].cpu_ns = 500;
        // SAFETY: viewing a plain C struct as its bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&one as *const bpf_intf::class_stats).cast::<u8>(),
                std::mem::size_of_val(&one),
            )
        }
        .to_vec();
        let total = sum_class_stats(&[bytes.clone(), bytes, vec![0; 3]]);
        assert_eq!(total[1].threads, 4);
        assert_eq!(total[1].cpu_ns, 1000);
        assert_eq!(total[0].wakeups, 0);
    }
}
