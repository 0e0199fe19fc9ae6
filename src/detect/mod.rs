// SPDX-License-Identifier: GPL-2.0-only
//
// Finding the game and the audio servers from userspace, without polling:
// procinfo reads /proc, named is the game the flags name, score the pure
// game rules, game the detector fed with BPF's exec and exit events, audio
// (with activation) the audio servers, seat whose processes count, worker
// the thread that writes the BPF maps. docs/detection.md explains the rules.

pub mod activation;
pub mod audio;
pub mod game;
pub mod named;
pub mod procinfo;
pub mod score;
pub mod seat;
pub mod worker;

use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Where systemd-logind makes each logged-in user's runtime dir.
pub const RUN_USER: &str = "/run/user";

/// The ownership rule: `uid` is a logged-in user when `<run_user>/<uid>` is
/// a directory owned by `uid`. Only such users' processes are picked (with
/// logind, only the seat's: `seat::Eligible`), so a system account gains
/// nothing by renaming itself or faking environment keys.
pub fn in_user_session(run_user: &Path, uid: u32) -> bool {
    std::fs::symlink_metadata(run_user.join(uid.to_string()))
        .is_ok_and(|m| m.is_dir() && m.uid() == uid)
}

/// `--list-game-candidates`: one scan of `proc_root`, every process a rule
/// speaks about with its score, reasons and decision, best first.
pub fn write_game_candidates(
    proc_root: &Path,
    run_user: &Path,
    eligible: seat::Eligible,
    out: &mut dyn Write,
) -> io::Result<()> {
    let whose = eligible.describe();
    let mut d = game::GameDetector::new(proc_root.into(), run_user.into(), eligible);
    d.startup_scan();
    let mut candidates = d.candidates();
    candidates.sort_by(|a, b| b.score.cmp(&a.score).then(a.pid.cmp(&b.pid)));
    writeln!(
        out,
        "{:>8} {:>6}  {:<8} {:<16} reasons (a game needs {} or more, from {whose})",
        "pid",
        "score",
        "decision",
        "name",
        score::GAME_THRESHOLD,
    )?;
    for c in &candidates {
        writeln!(
            out,
            "{:>8} {:>6}  {:<8} {:<16} {}",
            c.pid,
            c.score,
            if c.decided { "game" } else { "-" },
            c.comm,
            c.reasons.join(", ")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::DirBuilderExt;

    #[test]
    fn session_needs_a_dir_owned_by_that_uid() {
        let run_user = tempfile::tempdir().unwrap();
        let me = nix::unistd::geteuid().as_raw();
        assert!(!in_user_session(run_user.path(), me), "no dir yet");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(run_user.path().join(me.to_string()))
            .unwrap();
        assert!(in_user_session(run_user.path(), me));
        // A dir named for another uid but owned by us is not that uid's.
        let other = me.wrapping_add(1);
        std::fs::create_dir(run_user.path().join(other.to_string())).unwrap();
        assert!(!in_user_session(run_user.path(), other));
        // A plain file is not a runtime dir.
        let third = me.wrapping_add(2);
        std::fs::write(run_user.path().join(third.to_string()), b"").unwrap();
        assert!(!in_user_session(run_user.path(), third));
    }
}
