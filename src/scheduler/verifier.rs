// SPDX-License-Identifier: GPL-2.0-only
//
// `--verifier-stats`: what the kernel's verifier did with each program.

use std::collections::HashMap;
use std::os::fd::AsFd;

use anyhow::{Context, Result};
use libbpf_rs::query::ProgInfoIter;
use libbpf_rs::Program;

use crate::bpf_skel::BpfSkel;

/// Print, for each loaded program, how many instructions the verifier
/// processed: the figure that grows when a change makes a program harder to
/// verify, and that the kernel caps.
pub fn print_verifier_stats(skel: &BpfSkel<'_>) -> Result<()> {
    use libbpf_rs::skel::Skel;
    let verified: HashMap<u32, u32> = ProgInfoIter::default()
        .map(|p| (p.id, p.verified_insns))
        .collect();
    let mut total = 0u64;
    // Optional hooks this kernel cannot take were never loaded.
    for prog in skel.object().progs().filter(|p| p.autoload()) {
        let name = prog.name().to_string_lossy();
        let insns = Program::id_from_fd(prog.as_fd())
            .ok()
            .and_then(|id| verified.get(&id).copied())
            .with_context(|| format!("reading info of program {name}"))?;
        total += u64::from(insns);
        println!("verifier: {name:<24} {insns:>8} insns processed");
    }
    println!("verifier: {:<24} {:>8} insns processed", "total", total);
    Ok(())
}
