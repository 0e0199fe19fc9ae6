// SPDX-License-Identifier: GPL-2.0-only
//
// Which CPUs game-critical threads should prefer, and which last-level cache
// each CPU is in, for the CPU choice in src/bpf/topology.bpf.c.
//
// "Fast" CPUs are those of the highest capacity the kernel reports (a hybrid
// part's P-cores), or those --fast-cpus names (such as an X3D part's large-L3
// CCD, which no sysfs capacity shows). When every CPU is alike there is
// nothing to prefer, and BPF leaves the choice to the kernel's idle pick.

use anyhow::{bail, Result};
use log::info;
use scx_utils::{CoreType, Cpumask, Topology};

use crate::bpf_intf;

/// The most CPUs the BPF side's per-CPU tables hold.
pub const MAX_CPUS: usize = bpf_intf::gamer_consts_GAMER_MAX_CPUS as usize;

/// One CPU as the plan needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuInfo {
    pub id: usize,
    pub llc: usize,
    /// Capacity, scaled so the fastest CPU of the machine is 1024.
    pub capacity: usize,
    pub big: bool,
}

/// What the BPF side is told.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Indexed by CPU id.
    pub fast: Vec<bool>,
    pub llc: Vec<u32>,
    /// Whether some CPUs are fast and others are not.
    pub prefer_fast: bool,
    /// How the fast CPUs were chosen, for the log.
    pub source: &'static str,
}

impl Plan {
    /// No CPU preferred over another.
    pub fn none(source: &'static str) -> Self {
        Plan {
            fast: Vec::new(),
            llc: Vec::new(),
            prefer_fast: false,
            source,
        }
    }

    pub fn fast_list(&self) -> String {
        let ids: Vec<usize> = (0..self.fast.len()).filter(|&c| self.fast[c]).collect();
        format_cpu_list(&ids)
    }
}

/// A list of CPU ids, as `--fast-cpus` takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuList(pub Vec<usize>);

impl std::str::FromStr for CpuList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_cpu_list(s).map(CpuList)
    }
}

/// Parse a CPU list as the kernel writes them: "0-3,8,10-11". Not scx_utils'
/// `read_cpulist`, which expands a range before any bound (`0-4000000000`
/// would fill 32 GB) and takes `3-1` for no CPUs.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let num = |t: &str| {
            t.parse::<usize>().map_err(|_| {
                format!("'{part}' is not a CPU number or range (a list looks like 0-3,8)")
            })
        };
        let (lo, hi) = (num(lo)?, num(hi)?);
        if lo > hi {
            return Err(format!("'{part}': a range goes from low to high"));
        }
        if hi >= MAX_CPUS {
            return Err(format!(
                "CPU {hi} is beyond the {MAX_CPUS} CPUs scx_gamer supports"
            ));
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// The kernel's list format, for the log, as scx_utils' `Cpumask` writes it.
/// Only this machine's CPU ids fit in a mask; the callers pass no others.
pub fn format_cpu_list(ids: &[usize]) -> String {
    let mut mask = Cpumask::new();
    for &id in ids {
        let _ = mask.set_cpu(id);
    }
    mask.to_cpulist()
}

/// The plan for these CPUs: fast ones are those named in `fast_cpus`, or
/// else the big cores of the highest capacity.
pub fn plan(cpus: &[CpuInfo], fast_cpus: Option<&[usize]>) -> Result<Plan> {
    let len = cpus.iter().map(|c| c.id + 1).max().unwrap_or(0);
    if len > MAX_CPUS {
        if fast_cpus.is_some() {
            bail!(
                "--fast-cpus: this machine has CPU ids up to {}, beyond the {MAX_CPUS} the tables hold",
                len - 1
            );
        }
        return Ok(Plan::none("a machine of more CPUs than the tables hold"));
    }
    let mut fast = vec![false; len];
    let mut llc = vec![0u32; len];
    for c in cpus {
        llc[c.id] = c.llc as u32;
    }
    let source = match fast_cpus {
        Some(list) => {
            for &id in list {
                if !cpus.iter().any(|c| c.id == id) {
                    bail!(
                        "--fast-cpus names CPU {id}, which this machine does not have (it has {})",
                        format_cpu_list(&cpus.iter().map(|c| c.id).collect::<Vec<_>>())
                    );
                }
                fast[id] = true;
            }
            "--fast-cpus"
        }
        None => {
            let top = cpus.iter().map(|c| c.capacity).max().unwrap_or(0);
            let any_big = cpus.iter().any(|c| c.big);
            for c in cpus {
                fast[c.id] = c.capacity == top && (c.big || !any_big);
            }
            "core capacity and type"
        }
    };
    let nr_fast = cpus.iter().filter(|c| fast[c.id]).count();
    Ok(Plan {
        prefer_fast: nr_fast > 0 && nr_fast < cpus.len(),
        fast,
        llc,
        source,
    })
}

/// Read this machine's layout, log it, and plan its fast CPUs. A layout
/// that cannot be read costs only the preference, unless `--fast-cpus`
/// asked for one.
pub fn machine_plan(fast_cpus: Option<&[usize]>) -> Result<Plan> {
    let topo = match Topology::new() {
        Ok(topo) => topo,
        Err(e) if fast_cpus.is_none() => {
            log::warn!("could not read the CPU topology ({e:#}): no fast or slow CPU preference");
            return Ok(Plan::none("an unreadable topology"));
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
    let cpus: Vec<CpuInfo> = topo
        .all_cpus
        .values()
        .map(|c| CpuInfo {
            id: c.id,
            llc: c.llc_id,
            capacity: c.cpu_capacity,
            big: matches!(c.core_type, CoreType::Big { .. }),
        })
        .collect();
    let plan = plan(&cpus, fast_cpus)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Masks as wide as the tables, whatever this machine's CPU count.
    fn wide_masks() {
        scx_utils::set_cpumask_test_width(MAX_CPUS);
    }

    fn cpu(id: usize, llc: usize, capacity: usize, big: bool) -> CpuInfo {
        CpuInfo {
            id,
            llc,
            capacity,
            big,
        }
    }

    #[test]
    fn cpu_lists_parse_and_print_as_the_kernel_writes_them() {
        wide_masks();
        assert_eq!(
            parse_cpu_list("0-3,8,10-11").unwrap(),
            vec![0, 1, 2, 3, 8, 10, 11]
        );
        assert_eq!(parse_cpu_list("5, 1,1").unwrap(), vec![1, 5]);
        assert_eq!(format_cpu_list(&[0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
        assert_eq!(format_cpu_list(&[]), "none");
        for bad in ["", "a", "3-1", "1-", "-1", "0,,1", &format!("{MAX_CPUS}")] {
            assert!(parse_cpu_list(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn alike_cpus_give_no_preference() {
        let cpus: Vec<_> = (0..4).map(|i| cpu(i, i / 2, 1024, true)).collect();
        let p = plan(&cpus, None).unwrap();
        assert!(!p.prefer_fast);
        assert_eq!(p.llc, vec![0, 0, 1, 1]);
    }

    #[test]
    fn hybrid_parts_prefer_the_big_cores() {
        wide_masks();
        let mut cpus: Vec<_> = (0..4).map(|i| cpu(i, 0, 1024, true)).collect();
        cpus.extend((4..8).map(|i| cpu(i, 0, 512, false)));
        let p = plan(&cpus, None).unwrap();
        assert!(p.prefer_fast);
        assert_eq!(p.fast_list(), "0-3");
    }

    #[test]
    fn the_flag_overrides_and_is_checked_against_the_machine() {
        wide_masks();
        let cpus: Vec<_> = (0..16).map(|i| cpu(i, i / 8, 1024, true)).collect();
        let p = plan(&cpus, Some(&[0, 1, 2, 3, 4, 5, 6, 7])).unwrap();
        assert!(p.prefer_fast);
        assert_eq!((p.fast_list().as_str(), p.source), ("0-7", "--fast-cpus"));
        let all: Vec<usize> = (0..16).collect();
        assert!(!plan(&cpus, Some(&all)).unwrap().prefer_fast);
        let err = plan(&cpus, Some(&[16])).unwrap_err().to_string();
        assert!(err.contains("CPU 16") && err.contains("0-15"), "{err}");
    }

    #[test]
    fn more_cpus_than_the_tables_hold_prefer_none_unless_named() {
        let cpus: Vec<_> = (0..MAX_CPUS + 1)
            .map(|i| cpu(i, 0, if i < 8 { 1024 } else { 512 }, i < 8))
            .collect();
        assert!(!plan(&cpus, None).unwrap().prefer_fast);
        assert!(plan(&cpus, Some(&[0])).is_err());
    }
}
