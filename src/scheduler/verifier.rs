// SPDX-License-Identifier: GPL-2.0-only
//
// `--verifier-stats`: what the kernel's verifier did with each program.

use std::os::fd::AsFd;

use anyhow::Result;
use libbpf_rs::libbpf_sys;

use crate::bpf_skel::BpfSkel;

/// Print, for each loaded program, how many instructions the verifier
/// processed: the figure that grows when a change makes a program harder to
/// verify, and that the kernel caps.
pub fn print_verifier_stats(skel: &BpfSkel<'_>) -> Result<()> {
    use libbpf_rs::skel::Skel;
    let mut total = 0u64;
    for prog in skel.object().progs() {
        // Optional hooks this kernel cannot take were never loaded.
        if !prog.autoload() {
            continue;
        }
        let mut info = libbpf_sys::bpf_prog_info::default();
        let mut len = std::mem::size_of_val(&info) as u32;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&prog.as_fd());
        // SAFETY: `info` is a plain C struct and `len` is its size, which is
        // what the kernel expects to fill.
        let ret = unsafe {
            libbpf_sys::bpf_obj_get_info_by_fd(
                fd,
                (&mut info as *mut libbpf_sys::bpf_prog_info).cast(),
                &mut len,
            )
        };
        if ret != 0 {
            anyhow::bail!(
                "reading info of program {}: {}",
                prog.name().to_string_lossy(),
                std::io::Error::last_os_error()
            );
        }
        total += u64::from(info.verified_insns);
        println!(
            "verifier: {:<24} {:>8} insns processed",
            prog.name().to_string_lossy(),
            info.verified_insns
        );
    }
    println!("verifier: {:<24} {:>8} insns processed", "total", total);
    Ok(())
}
