// SPDX-License-Identifier: GPL-2.0-only
//
// Who serves a UNIX socket: the process SO_PEERCRED names, or, when that is
// a service manager (systemd socket activation), the manager's child that
// holds the listening socket, found through /proc/net/unix and the child's
// fds.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, UnixAddr};

use super::procinfo::read_process;

/// The Linux flag of a listening socket in /proc/net/unix (__SO_ACCEPTCON).
const ACCEPTCON: u32 = 0x10000;

/// The pid and uid of the process that listens on the socket at `path`:
/// connect, SO_PEERCRED, close. Never blocks: a full backlog is an error
/// like a refusal, and is tried again later.
pub fn peer_of(path: &Path) -> nix::Result<(u32, u32)> {
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    socket::connect(fd.as_raw_fd(), &UnixAddr::new(path)?)?;
    let cred = socket::getsockopt(&fd, sockopt::PeerCredentials)?;
    Ok((cred.pid() as u32, cred.uid()))
}

/// Whether `pid` is a systemd instance (the user's service manager, or PID 1
/// for a system-wide server): then it listens for a server it starts.
pub fn is_service_manager(proc_root: &Path, pid: u32) -> bool {
    fs::read_link(proc_root.join(pid.to_string()).join("exe"))
        .is_ok_and(|exe| exe.file_name().is_some_and(|n| n == "systemd"))
}

/// The socket inodes listening at `path`, from /proc/net/unix.
fn listening_inodes(net_unix: &str, path: &Path) -> Vec<u64> {
    let Some(path) = path.to_str() else {
        return Vec::new();
    };
    net_unix
        .lines()
        .skip(1)
        .filter_map(|line| {
            // Num RefCount Protocol Flags Type St Inode Path
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = u32::from_str_radix(fields.get(3)?, 16).ok()?;
            let inode = fields.get(6)?.parse().ok()?;
            (flags & ACCEPTCON != 0 && fields.get(7..)?.join(" ") == path).then_some(inode)
        })
        .collect()
}

/// The child of the service manager `manager` that holds the listening
/// socket at `path`: the server systemd started for it.
pub fn activated_server(proc_root: &Path, manager: u32, path: &Path, uid: u32) -> Option<u32> {
    let net_unix = fs::read_to_string(proc_root.join("net/unix")).ok()?;
    let inodes = listening_inodes(&net_unix, path);
    if inodes.is_empty() {
        return None;
    }
    let links: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let m = manager.to_string();
    let children =
        fs::read_to_string(proc_root.join(&m).join("task").join(&m).join("children")).ok()?;
    children
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .find(|&child| {
            let Some(p) = read_process(proc_root, child) else {
                return false;
            };
            // A child systemd is still setting up has all its fds, the
            // listening socket among them; it is the server only once it
            // has exec'd it.
            let setting_up = p.comm.starts_with('(')
                || matches!(p.exe_name(), Some("systemd" | "systemd-executor"));
            p.uid == uid && !setting_up && holds_any(proc_root, child, &links)
        })
}

fn holds_any(proc_root: &Path, pid: u32, links: &[String]) -> bool {
    let Ok(fds) = fs::read_dir(proc_root.join(pid.to_string()).join("fd")) else {
        return false;
    };
    fds.filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
        .any(|target| links.iter().any(|l| target.as_os_str() == l.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_read_from_proc_net_unix() {
        let table = "Num       RefCount Protocol Flags    Type St Inode Path\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 31337 /run/user/1000/pipewire-0\n\
            0000000000000000: 00000003 00000000 00000000 0001 03 31338 /run/user/1000/pipewire-0\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 4242 /run/user/1000/pulse/native\n\
            0000000000000000: 00000002 00000000 00000000 0002 01 99\n";
        assert_eq!(
            listening_inodes(table, Path::new("/run/user/1000/pipewire-0")),
            vec![31337],
            "an accepted connection shows the path too, but does not listen"
        );
        assert_eq!(
            listening_inodes(table, Path::new("/run/user/1000/pulse/native")),
            vec![4242]
        );
        assert!(listening_inodes(table, Path::new("/run/user/1001/pipewire-0")).is_empty());
    }
}
