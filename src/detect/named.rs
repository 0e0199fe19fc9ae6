// SPDX-License-Identifier: GPL-2.0-only
//
// The game the command line names (`--game-pid`, `--game-comm`), as opposed
// to the one the rules find (game.rs): which running processes it is made
// of, for the loader to put in the BPF map of game TGIDs.

use std::collections::{BTreeSet, HashMap, HashSet};

use anyhow::{bail, Result};

use super::procinfo::ProcInfo;

/// The processes that make up the game: those named by PID, their
/// descendants, and those running a program file named `comm` (the name an
/// exec under it gets, which the exec hook matches; never the current comm,
/// which any process can set for itself).
pub fn game_processes(procs: &[ProcInfo], pids: &[u32], comm: Option<&str>) -> Result<Vec<u32>> {
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
            .filter(|p| comm.is_some_and(|c| p.exec_name() == c))
            .map(|p| p.pid),
    );
    while let Some(pid) = todo.pop() {
        if game.insert(pid) {
            todo.extend(children.get(&pid).into_iter().flatten());
        }
    }
    Ok(game.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, ppid: u32, comm: &str, exe: &str) -> ProcInfo {
        ProcInfo {
            pid,
            ppid,
            uid: 1000,
            comm: comm.into(),
            args: vec![],
            env: vec![],
            exe: Some(format!("/usr/bin/{exe}").into()),
        }
    }

    fn tree() -> Vec<ProcInfo> {
        [
            (1, 0, "init"),
            (10, 1, "steam"),
            (20, 10, "reaper"),
            (30, 20, "wine64-preload"),
            (31, 30, "game.exe"),
            (40, 1, "cc1"),
            (50, 1, "hl2_linux"),
        ]
        .into_iter()
        .map(|(pid, ppid, name)| p(pid, ppid, name, name))
        .collect()
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
        procs.push(p(60, 1, "hl2_linux", "python3"));
        assert_eq!(
            game_processes(&procs, &[], Some("hl2_linux")).unwrap(),
            vec![50]
        );
    }

    #[test]
    fn unknown_game_pid_is_an_error_naming_it() {
        let err = game_processes(&tree(), &[777], None).unwrap_err();
        assert!(err.to_string().contains("--game-pid 777"), "{err}");
    }
}
