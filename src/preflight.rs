// SPDX-License-Identifier: GPL-2.0-only
//
// Checks that run before anything is loaded. Each failure names the cause
// and what to do about it; none changes the system, but for the lock file
// the one-instance lock leaves beside the stats socket.

use std::fmt;
use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// Where the kernel publishes sched_ext's state.
pub const SCHED_EXT_SYSFS: &str = "/sys/kernel/sched_ext";

const CAP_SYS_ADMIN: u32 = 21;
const CAP_BPF: u32 = 39;

/// Why scx_gamer will not start on this system.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The running kernel was built without CONFIG_SCHED_CLASS_EXT.
    NoSchedExt { kernel: String },
    /// The process lacks a capability it needs to load and attach.
    MissingCaps { missing: Vec<&'static str> },
    /// Another sched_ext scheduler holds the system.
    AlreadyAttached { ops: String, state: String },
    /// Another scx_gamer, started at the same moment, passed these checks
    /// too and holds the lock beside the stats socket.
    AnotherInstance { lock: PathBuf },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoSchedExt { kernel } => write!(
                f,
                "the running kernel ({kernel}) has no sched_ext: it was built without \
                 CONFIG_SCHED_CLASS_EXT=y ({SCHED_EXT_SYSFS} does not exist). Boot a kernel \
                 with sched_ext (6.12 or later, built with CONFIG_SCHED_CLASS_EXT=y), or run `scripts/run.sh` from \
                 the scx_gamer source tree, which offers to start it in a VM"
            ),
            Refusal::MissingCaps { missing } => write!(
                f,
                "scx_gamer must run as root: it needs {} to load and attach a BPF \
                 scheduler (try: sudo scx_gamer)",
                missing.join(" and ")
            ),
            Refusal::AlreadyAttached { ops, state } => write!(
                f,
                "another sched_ext scheduler is attached: '{ops}' (sched_ext state: {state}). \
                 Stop it first (for example `systemctl stop scx_loader` or the service that \
                 started it), then start scx_gamer"
            ),
            Refusal::AnotherInstance { lock } => write!(
                f,
                "another scx_gamer is starting or attached (it holds {}); only one can run \
                 at a time. Stop it first, then start scx_gamer",
                lock.display()
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// Everything the checks read, gathered so the decision is a pure function.
#[derive(Debug)]
pub struct SystemView {
    pub sched_ext_dir: PathBuf,
    pub kernel_release: String,
    /// The effective capability set, as in the CapEff line of
    /// /proc/self/status.
    pub cap_eff: u64,
}

impl SystemView {
    /// Read this machine's view.
    pub fn current() -> Self {
        let uname = nix::sys::utsname::uname();
        let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
        SystemView {
            sched_ext_dir: PathBuf::from(SCHED_EXT_SYSFS),
            kernel_release: uname.map_or("unknown".into(), |u| {
                u.release().to_string_lossy().into_owned()
            }),
            cap_eff: parse_cap_eff(&status).unwrap_or(0),
        }
    }
}

/// The CapEff bitmask from the text of /proc/<pid>/status.
pub fn parse_cap_eff(status: &str) -> Option<u64> {
    let v = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(v.trim(), 16).ok()
}

/// The attached scheduler, when sched_ext's state (`disabled`, `enabling`,
/// `enabled`, `disabling`) is `taken`; None when the state cannot be read.
fn attached_other(sched_ext_dir: &Path, taken: fn(&str) -> bool) -> Option<Refusal> {
    let state = fs::read_to_string(sched_ext_dir.join("state")).ok()?;
    let state = state.trim().to_string();
    let ops = fs::read_to_string(sched_ext_dir.join("root/ops")).unwrap_or_default();
    let ops = match ops.trim() {
        "" => "unknown".to_string(),
        ops => ops.to_string(),
    };
    taken(&state).then_some(Refusal::AlreadyAttached { ops, state })
}

/// Decide whether scx_gamer may start. The order matters: a kernel without
/// sched_ext is the more fundamental problem, so it is reported first even
/// to an unprivileged user.
pub fn check(view: &SystemView) -> Result<(), Refusal> {
    if !view.sched_ext_dir.is_dir() {
        return Err(Refusal::NoSchedExt {
            kernel: view.kernel_release.clone(),
        });
    }
    let missing: Vec<&'static str> = [(CAP_SYS_ADMIN, "CAP_SYS_ADMIN"), (CAP_BPF, "CAP_BPF")]
        .into_iter()
        .filter(|(bit, _)| view.cap_eff & (1u64 << bit) == 0)
        .map(|(_, name)| name)
        .collect();
    if !missing.is_empty() {
        return Err(Refusal::MissingCaps { missing });
    }
    // A directory that exists but cannot be read: let the load itself
    // report what is wrong rather than guess here.
    attached_other(&view.sched_ext_dir, |s| s != "disabled").map_or(Ok(()), Err)
}

/// Claim the one-instance lock beside `stats_socket`, held while the
/// returned lock lives: two instances started at once both pass `check`,
/// and the later one would take the stats socket from under the first. The
/// lock file stays on exit: removing it would let a third instance lock a
/// fresh file while a second still holds the old one.
pub fn claim_instance(stats_socket: &Path) -> anyhow::Result<Flock<fs::File>> {
    use anyhow::Context;

    let mut lock = stats_socket.as_os_str().to_owned();
    lock.push(".lock");
    let lock = PathBuf::from(lock);
    if let Some(dir) = lock.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock)
        .with_context(|| format!("opening {}", lock.display()))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(held) => Ok(held),
        Err((_, Errno::EWOULDBLOCK)) => Err(Refusal::AnotherInstance { lock }.into()),
        Err((_, e)) => Err(e).with_context(|| format!("locking {}", lock.display())),
    }
}

/// Why an attach that passed `check` failed, when the reason is another
/// scheduler that took sched_ext in between (two instances started at once,
/// or one started while scx_gamer was re-attaching). A failed attach of our
/// own has already been undone when the kernel returns, so a state still
/// `enabling` or `enabled` belongs to someone else.
pub fn taken_meanwhile(sched_ext_dir: &Path) -> Option<Refusal> {
    attached_other(sched_ext_dir, |s| matches!(s, "enabled" | "enabling"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT_CAPS: u64 = 0x000001ff_ffffffff;

    fn sysfs(state: Option<&str>, ops: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        if let Some(state) = state {
            fs::write(dir.path().join("state"), format!("{state}\n")).unwrap();
        }
        if let Some(ops) = ops {
            fs::create_dir(dir.path().join("root")).unwrap();
            fs::write(dir.path().join("root/ops"), format!("{ops}\n")).unwrap();
        }
        dir
    }

    fn view(dir: &Path, cap_eff: u64) -> SystemView {
        SystemView {
            sched_ext_dir: dir.to_path_buf(),
            kernel_release: "6.1.0-test".into(),
            cap_eff,
        }
    }

    #[test]
    fn parses_cap_eff_from_status() {
        let status = "Name:\tscx_gamer\nCapInh:\t0000000000000000\n\
                      CapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n";
        assert_eq!(parse_cap_eff(status), Some(ROOT_CAPS));
        assert_eq!(parse_cap_eff("Name:\tx\n"), None);
    }

    #[test]
    fn no_sched_ext_names_the_config_and_kernel() {
        let dir = tempfile::tempdir().unwrap();
        let err = check(&view(&dir.path().join("absent"), ROOT_CAPS)).unwrap_err();
        assert_eq!(
            err,
            Refusal::NoSchedExt {
                kernel: "6.1.0-test".into()
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("CONFIG_SCHED_CLASS_EXT"), "{msg}");
        assert!(msg.contains("6.1.0-test"), "{msg}");
    }

    #[test]
    fn no_sched_ext_wins_over_missing_caps() {
        let dir = tempfile::tempdir().unwrap();
        let err = check(&view(&dir.path().join("absent"), 0)).unwrap_err();
        assert!(matches!(err, Refusal::NoSchedExt { .. }));
    }

    #[test]
    fn unprivileged_is_refused_with_the_missing_caps() {
        let dir = sysfs(Some("disabled"), None);
        let err = check(&view(dir.path(), 0)).unwrap_err();
        assert_eq!(
            err,
            Refusal::MissingCaps {
                missing: vec!["CAP_SYS_ADMIN", "CAP_BPF"]
            }
        );
        let only_admin = 1u64 << CAP_SYS_ADMIN;
        assert_eq!(
            check(&view(dir.path(), only_admin)).unwrap_err(),
            Refusal::MissingCaps {
                missing: vec!["CAP_BPF"]
            }
        );
    }

    #[test]
    fn another_scheduler_is_named() {
        let dir = sysfs(Some("enabled"), Some("bpfland_1.1.4_x86_64"));
        let err = check(&view(dir.path(), ROOT_CAPS)).unwrap_err();
        assert_eq!(
            err,
            Refusal::AlreadyAttached {
                ops: "bpfland_1.1.4_x86_64".into(),
                state: "enabled".into()
            }
        );
        assert!(err.to_string().contains("bpfland_1.1.4_x86_64"));
    }

    #[test]
    fn a_scheduler_still_detaching_also_refuses() {
        let dir = sysfs(Some("disabling"), None);
        let err = check(&view(dir.path(), ROOT_CAPS)).unwrap_err();
        assert!(matches!(err, Refusal::AlreadyAttached { ref state, .. } if state == "disabling"));
    }

    #[test]
    fn a_failed_attach_names_a_scheduler_that_came_meanwhile() {
        let dir = sysfs(Some("enabling"), Some("scx_gamer_0.1.0"));
        assert_eq!(
            taken_meanwhile(dir.path()),
            Some(Refusal::AlreadyAttached {
                ops: "scx_gamer_0.1.0".into(),
                state: "enabling".into()
            })
        );
        // Our own failed attach leaves the state disabled, or on its way there.
        for state in ["disabled", "disabling"] {
            let dir = sysfs(Some(state), None);
            assert_eq!(taken_meanwhile(dir.path()), None, "{state}");
        }
        assert_eq!(taken_meanwhile(&dir.path().join("absent")), None);
    }

    #[test]
    fn free_system_with_root_passes() {
        let dir = sysfs(Some("disabled"), None);
        assert_eq!(check(&view(dir.path(), ROOT_CAPS)), Ok(()));
    }

    #[test]
    fn a_second_instance_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("run/stats");
        let first = claim_instance(&socket).unwrap();
        let err = claim_instance(&socket).unwrap_err();
        let refusal = err.downcast_ref::<Refusal>().expect("a refusal");
        assert!(matches!(refusal, Refusal::AnotherInstance { .. }));
        assert!(err
            .to_string()
            .contains("another scx_gamer is starting or attached"));
        drop(first);
        claim_instance(&socket).expect("free once the first lets go");
    }
}
