// SPDX-License-Identifier: GPL-2.0-only
//
// Topology planning for one attachment: read the machine's layout and
// decide which CPUs are fast (the decision itself is topology.rs's).

use anyhow::Result;
use log::info;
use scx_utils::Topology;

use crate::cli::Opts;
use crate::topology;

/// Read the machine's layout, log it, and decide which CPUs are fast. A
/// layout that cannot be read costs only the preference, unless
/// `--fast-cpus` asked for one.
pub fn topology_plan(opts: &Opts) -> Result<topology::Plan> {
    let topo = match Topology::new() {
        Ok(topo) => topo,
        Err(e) if opts.fast_cpus.is_none() => {
            log::warn!("could not read the CPU topology ({e:#}): no fast or slow CPU preference");
            return Ok(topology::Plan::none("an unreadable topology"));
        }
        Err(e) => return Err(e.context("--fast-cpus: could not read the CPU topology")),
    };
    info!(
        "topology: {} CPUs, {} cores, {} LLCs, {} nodes, SMT {}",
        topo.all_cpus.len(),
        topo.all_cores.len(),
        topo.all_llcs.len(),
        topo.nodes.len(),
        if topo.smt_enabled { "on" } else { "off" }
    );
    let plan = topology::plan(
        &topology::cpus_of(&topo),
        opts.fast_cpus.as_ref().map(|l| l.0.as_slice()),
    )?;
    if plan.prefer_fast {
        info!(
            "fast CPUs {} (from {}): critical threads prefer them, other tasks avoid them while a game runs",
            plan.fast_list(),
            plan.source
        );
    } else if plan.fast.is_empty() {
        info!("no fast or slow CPU preference: {}", plan.source);
    } else {
        info!(
            "CPUs alike (from {}): no fast or slow CPU preference",
            plan.source
        );
    }
    Ok(plan)
}
