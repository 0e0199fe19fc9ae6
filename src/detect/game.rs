// SPDX-License-Identifier: GPL-2.0-only
//
// The game detector: which processes are games, and below which processes
// execs must be reported so that a game started there is seen, from the
// exec and exit events BPF reports and the proc root. A game's children
// inherit its status in BPF on fork, so a descendant of a game is never a
// game of its own, and its exit changes nothing here.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use super::procinfo::{chain_with, list_pids, parent_chain, read_process, ProcInfo};
use super::score::{self, Role, GAME_THRESHOLD};
use super::seat::Eligible;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GameChange {
    /// `tgid` is a game. `comm` is its name: for a Wine process, the
    /// Windows program it runs.
    Added { tgid: u32, comm: String, score: i32 },
    /// The game `tgid` exited.
    Removed { tgid: u32 },
    /// Report execs in the subtree of `tgid` (a launcher or a wrapper).
    Watch { tgid: u32 },
    /// `tgid` no longer needs its execs reported: it exited, or is a game.
    Unwatch { tgid: u32 },
}

/// A process some rule spoke about, as `--list-game-candidates` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub pid: u32,
    pub comm: String,
    pub score: i32,
    pub reasons: Vec<&'static str>,
    pub decided: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Game {
    pub tgid: u32,
    pub uid: u32,
    pub comm: String,
    pub score: i32,
}

pub struct GameDetector {
    proc_root: PathBuf,
    run_user: PathBuf,
    candidates: BTreeMap<u32, Candidate>,
    games: BTreeMap<u32, Game>,
    /// The watched pids, and their uids.
    watched: BTreeMap<u32, u32>,
    eligible: Eligible,
}

impl GameDetector {
    /// Over `proc_root` (normally /proc) and `run_user` (/run/user).
    pub fn new(proc_root: PathBuf, run_user: PathBuf, eligible: Eligible) -> Self {
        Self {
            proc_root,
            run_user,
            candidates: BTreeMap::new(),
            games: BTreeMap::new(),
            watched: BTreeMap::new(),
            eligible,
        }
    }

    /// The eligible users changed (the seat switched): the games and
    /// watches of users no longer eligible end, and one scan of the proc
    /// root finds what the newly eligible ones run.
    pub fn set_eligible(&mut self, eligible: Eligible) -> Vec<GameChange> {
        self.eligible = eligible;
        let (allowed, run_user) = (&self.eligible, &self.run_user);
        let mut changes = Vec::new();
        self.games.retain(|&tgid, g| {
            let keep = allowed.allows(run_user, g.uid);
            changes.extend((!keep).then_some(GameChange::Removed { tgid }));
            keep
        });
        self.watched.retain(|&tgid, uid| {
            let keep = allowed.allows(run_user, *uid);
            changes.extend((!keep).then_some(GameChange::Unwatch { tgid }));
            keep
        });
        self.candidates.clear();
        changes.extend(self.startup_scan());
        changes
    }

    /// The one scan of the proc root, at start. Besides the games and the
    /// launchers running now, every live process below a launcher is
    /// watched: it was forked before BPF could pass the watch down to it.
    pub fn startup_scan(&mut self) -> Vec<GameChange> {
        let pids = list_pids(&self.proc_root).into_iter();
        let procs: HashMap<u32, ProcInfo> = pids
            .filter_map(|pid| Some((pid, read_process(&self.proc_root, pid)?)))
            .collect();
        let mut ordered: Vec<(&ProcInfo, Vec<ProcInfo>)> = procs
            .values()
            .map(|p| (p, chain_with(p, |pid| procs.get(&pid).cloned())))
            .collect();
        // Parents before children, so a game is known before its children
        // are looked at.
        ordered.sort_by_key(|(p, chain)| (chain.len(), p.pid));
        let consider = |(p, chain): (&ProcInfo, Vec<ProcInfo>)| self.consider(p, &chain, true);
        ordered.into_iter().flat_map(consider).collect()
    }

    /// BPF saw `pid` exec a candidate image, or exec below a watched process.
    pub fn on_exec(&mut self, pid: u32) -> Vec<GameChange> {
        // A game that execs stays the game, as it does in BPF.
        if self.games.contains_key(&pid) {
            return Vec::new();
        }
        let Some(p) = read_process(&self.proc_root, pid) else {
            return Vec::new();
        };
        let chain = parent_chain(&self.proc_root, &p);
        self.consider(&p, &chain, false)
    }

    pub fn on_exit(&mut self, tgid: u32) -> Vec<GameChange> {
        let mut changes = Vec::new();
        self.candidates.remove(&tgid);
        if self.games.remove(&tgid).is_some() {
            changes.push(GameChange::Removed { tgid });
        }
        if self.watched.remove(&tgid).is_some() {
            changes.push(GameChange::Unwatch { tgid });
        }
        changes
    }

    pub fn candidates(&self) -> Vec<Candidate> {
        self.candidates.values().cloned().collect()
    }

    pub fn games(&self) -> Vec<Game> {
        self.games.values().cloned().collect()
    }

    fn consider(&mut self, p: &ProcInfo, chain: &[ProcInfo], startup: bool) -> Vec<GameChange> {
        let (pid, uid) = (p.pid, p.uid);
        if std::iter::once(p)
            .chain(chain)
            .any(|a| self.games.contains_key(&a.pid))
        {
            return Vec::new();
        }
        let s = score::score(p, chain);
        let owned = self.eligible.allows(&self.run_user, uid);
        let decided = score::is_game(&s, owned);
        let comm = score::windows_image(p).unwrap_or(&p.comm).to_string();
        let mut changes = Vec::new();

        // Below a watched process BPF already reports execs (the watch is
        // passed down on fork), except at start, for processes forked
        // before we were there.
        let under_watch = chain.iter().any(|a| self.watched.contains_key(&a.pid));
        let role = score::role(p);
        let watch = (role.watch() && !under_watch) || (startup && under_watch);
        if owned && !decided && watch && self.watched.insert(pid, uid).is_none() {
            changes.push(GameChange::Watch { tgid: pid });
        }
        if decided {
            let (tgid, score) = (pid, s.total);
            let game = Game {
                tgid,
                uid,
                comm: comm.clone(),
                score,
            };
            self.games.insert(pid, game);
            changes.push(GameChange::Added {
                tgid,
                comm: comm.clone(),
                score,
            });
            if self.watched.remove(&pid).is_some() {
                changes.push(GameChange::Unwatch { tgid });
            }
        }

        // Listed: what is part of a launch, and anything with evidence for
        // it (not every shell and compiler on the machine).
        let evidence = s.reasons.len() > usize::from(role != Role::Other);
        let launch_part = matches!(
            role,
            Role::SteamClient | Role::Launcher | Role::Wrapper | Role::WineInfrastructure
        );
        if !evidence && !launch_part {
            self.candidates.remove(&pid);
            return changes;
        }
        let mut reasons = s.reasons;
        if !owned && s.total >= GAME_THRESHOLD {
            reasons.push(self.eligible.refusal());
        }
        let (score, decided) = (s.total, decided);
        let candidate = Candidate {
            pid,
            comm,
            score,
            reasons,
            decided,
        };
        self.candidates.insert(pid, candidate);
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;
    use tempfile::TempDir;
    use GameChange::*;

    /// A proc root made of fixture scenarios, whose user 1000 is the user
    /// running the test, and a runtime dir in which that user is logged in.
    /// The system account (999) of the fixtures stays without a session.
    fn fixture_root(scenarios: &[&str]) -> (TempDir, TempDir) {
        let me = nix::unistd::getuid().as_raw();
        let proc = tempfile::tempdir().unwrap();
        for scenario in scenarios {
            let src = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/proc")
                .join(scenario);
            for pid in fs::read_dir(&src).unwrap() {
                let pid = pid.unwrap();
                let dst = proc.path().join(pid.file_name());
                fs::create_dir(&dst).unwrap();
                for f in fs::read_dir(pid.path()).unwrap() {
                    let f = f.unwrap();
                    let to = dst.join(f.file_name());
                    if f.file_name() == "exe" {
                        std::os::unix::fs::symlink(fs::read_link(f.path()).unwrap(), to).unwrap();
                    } else if f.file_name() == "status" {
                        let status = fs::read_to_string(f.path()).unwrap();
                        let ids = format!("{me}\t{me}\t{me}\t{me}");
                        fs::write(to, status.replace("1000\t1000\t1000\t1000", &ids)).unwrap();
                    } else {
                        fs::copy(f.path(), to).unwrap();
                    }
                }
            }
        }
        let run_user = tempfile::tempdir().unwrap();
        fs::create_dir(run_user.path().join(me.to_string())).unwrap();
        (proc, run_user)
    }

    fn detector(scenarios: &[&str]) -> (GameDetector, TempDir, TempDir) {
        let (proc, run_user) = fixture_root(scenarios);
        let d = GameDetector::new(
            proc.path().to_path_buf(),
            run_user.path().to_path_buf(),
            Eligible::Sessions,
        );
        (d, proc, run_user)
    }

    fn added(tgid: u32, comm: &str, score: i32) -> GameChange {
        Added {
            tgid,
            comm: comm.into(),
            score,
        }
    }

    #[test]
    fn proton_launch_seen_exec_by_exec() {
        let (mut d, _p, _r) = detector(&["proton"]);
        assert_eq!(
            d.on_exec(1000),
            vec![],
            "Steam itself is neither game nor watched"
        );
        assert_eq!(d.on_exec(2000), vec![Watch { tgid: 2000 }]);
        for pid in [2001, 2002, 2003, 2004, 2005, 2007, 2008] {
            assert_eq!(d.on_exec(pid), vec![], "{pid}: already below a watch");
        }
        assert_eq!(d.on_exec(2006), vec![added(2006, "Cyberpunk2077.exe", 105)]);
        assert_eq!(
            d.on_exec(2011),
            vec![],
            "a game's child inherits, no new game"
        );
        assert_eq!(d.on_exec(2006), vec![], "a game that execs stays the game");
        assert_eq!(d.games().len(), 1);

        assert_eq!(d.on_exit(2011), vec![]);
        assert_eq!(d.on_exit(2006), vec![Removed { tgid: 2006 }]);
        assert_eq!(d.on_exit(2000), vec![Unwatch { tgid: 2000 }]);
        assert!(d.games().is_empty());
    }

    #[test]
    fn proton_game_is_named_right_after_its_exec() {
        let (mut d, _p, _r) = detector(&["proton-early"]);
        assert_eq!(d.on_exec(2000), vec![Watch { tgid: 2000 }]);
        assert_eq!(d.on_exec(2005), vec![], "steam.exe is not the game");
        assert_eq!(d.on_exec(2006), vec![added(2006, "Cyberpunk2077.exe", 105)]);
    }

    #[test]
    fn startup_scan_watches_running_launches_and_finds_the_game() {
        let (mut d, _p, _r) = detector(&["proton"]);
        let watched: Vec<GameChange> = [2000, 2001, 2002, 2003, 2004, 2007, 2008, 2010, 2005, 2009]
            .into_iter()
            .map(|tgid| Watch { tgid })
            .collect();
        let mut expected = watched;
        expected.push(added(2006, "Cyberpunk2077.exe", 105));
        assert_eq!(d.startup_scan(), expected);
        let c: BTreeMap<u32, Candidate> = d.candidates().into_iter().map(|c| (c.pid, c)).collect();
        assert!(c[&2006].decided);
        assert_eq!(c[&2005].reasons[0], "Wine infrastructure");
        assert!(!c[&1000].decided);
        assert!(!c.contains_key(&2011), "a game's child is not looked at");
    }

    #[test]
    fn native_game_found_at_startup() {
        let (mut d, _p, _r) = detector(&["native"]);
        let changes = d.startup_scan();
        assert_eq!(
            changes,
            vec![
                Watch { tgid: 3000 },
                Watch { tgid: 3001 },
                Watch { tgid: 3002 },
                added(3003, "hl2_linux", 75),
            ]
        );
    }

    #[test]
    fn several_games_at_once() {
        let (mut d, _p, _r) = detector(&["lutris", "heroic-wine", "heroic-proton"]);
        let games: Vec<GameChange> = d
            .startup_scan()
            .into_iter()
            .filter(|c| matches!(c, Added { .. }))
            .collect();
        assert_eq!(
            games,
            vec![
                added(4002, "witcher3.exe", 105),
                added(5002, "RocketLeague.exe", 105),
                added(5105, "Cyberpunk2077.exe", 125),
            ]
        );
        assert_eq!(d.on_exit(5002), vec![Removed { tgid: 5002 }]);
        let left: Vec<u32> = d.games().iter().map(|g| g.tgid).collect();
        assert_eq!(left, vec![4002, 5105]);
    }

    #[test]
    fn launchers_are_watched_when_they_start() {
        let (mut d, _p, _r) = detector(&["lutris", "heroic-wine"]);
        assert_eq!(d.on_exec(4000), vec![Watch { tgid: 4000 }]);
        assert_eq!(d.on_exec(4001), vec![], "lutris-wrapper is below lutris");
        assert_eq!(d.on_exec(4002), vec![added(4002, "witcher3.exe", 105)]);
        // legendary run by hand, without Heroic's process above it.
        assert_eq!(d.on_exec(5001), vec![Watch { tgid: 5001 }]);
    }

    #[test]
    fn nothing_on_the_desktop_is_a_game() {
        let (mut d, _p, _r) = detector(&["desktop"]);
        let changes = d.startup_scan();
        assert!(
            changes.iter().all(|c| !matches!(c, Added { .. })),
            "{changes:?}"
        );
        assert!(
            !changes.contains(&Watch { tgid: 7000 }),
            "a system account's fake reaper is not watched"
        );
        let c: BTreeMap<u32, Candidate> = d.candidates().into_iter().map(|c| (c.pid, c)).collect();
        assert!(!c[&7001].decided);
        assert_eq!(c[&7001].reasons.last(), Some(&Eligible::Sessions.refusal()));
        assert_eq!(c[&7999].score, 65);
        for pid in [1000, 1001, 6100, 6101, 6102] {
            assert!(c[&pid].score < 0, "{pid}");
        }
        // Nothing speaks for these, and they are no part of a launch.
        for pid in [2, 6000, 6001, 7998] {
            assert!(!c.contains_key(&pid), "{pid} is not listed");
        }
    }

    #[test]
    fn nobody_logged_in_means_no_game() {
        let (proc, _run_user) = fixture_root(&["proton"]);
        let empty = tempfile::tempdir().unwrap();
        let mut d = GameDetector::new(
            proc.path().to_path_buf(),
            empty.path().to_path_buf(),
            Eligible::Sessions,
        );
        assert_eq!(d.startup_scan(), vec![]);
        assert_eq!(d.on_exec(2006), vec![]);
        assert!(d.candidates().iter().any(|c| c.pid == 2006 && !c.decided));
    }

    #[test]
    fn the_game_follows_the_seat() {
        let (mut d, _p, _r) = detector(&["proton"]);
        let me = nix::unistd::getuid().as_raw();
        let other = me.wrapping_add(1);
        assert_eq!(d.set_eligible(Eligible::Seat(Some(other))), vec![]);
        assert_eq!(d.on_exec(2000), vec![], "not the seat's user: not watched");
        assert_eq!(d.on_exec(2006), vec![]);
        let c: BTreeMap<u32, Candidate> = d.candidates().into_iter().map(|c| (c.pid, c)).collect();
        assert_eq!(
            c[&2006].reasons.last(),
            Some(&"owner is not the seat's active user")
        );
        // The seat switches to the game's user: one scan finds the game.
        let changes = d.set_eligible(Eligible::Seat(Some(me)));
        assert!(
            changes.contains(&added(2006, "Cyberpunk2077.exe", 105)),
            "{changes:?}"
        );
        assert!(changes.contains(&Watch { tgid: 2000 }), "{changes:?}");
        // And away again: the game and the watches end.
        let changes = d.set_eligible(Eligible::Seat(None));
        assert!(changes.contains(&Removed { tgid: 2006 }), "{changes:?}");
        assert!(changes.contains(&Unwatch { tgid: 2000 }), "{changes:?}");
        let none_added = !changes.iter().any(|c| matches!(c, Added { .. }));
        assert!(d.games().is_empty() && none_added, "{changes:?}");
    }

    #[test]
    fn vanished_processes_are_ignored() {
        let (mut d, _p, _r) = detector(&["proton"]);
        assert_eq!(d.on_exec(424242), vec![]);
        assert_eq!(d.on_exit(424242), vec![]);
    }

    #[test]
    fn candidate_listing_shows_scores_reasons_and_decisions() {
        let (proc, run_user) = fixture_root(&["proton"]);
        let mut out = Vec::new();
        super::super::write_game_candidates(
            proc.path(),
            run_user.path(),
            Eligible::Sessions,
            &mut out,
        )
        .unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].contains("score"), "{out}");
        // Best first: the game heads the list.
        assert!(
            lines[1].contains("2006") && lines[1].contains("105"),
            "{out}"
        );
        assert!(
            lines[1].contains(" game ") && lines[1].contains("Cyberpunk2077.exe"),
            "{out}"
        );
        assert!(
            lines[1].contains("runs a Wine loader, Windows program (.exe)"),
            "{out}"
        );
        let steam = lines.iter().find(|l| l.contains("Steam client")).unwrap();
        assert!(steam.contains(" - "), "{steam}");
    }
}
