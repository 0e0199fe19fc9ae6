// SPDX-License-Identifier: GPL-2.0-only
//
// The BPF maps and .bss variables userspace reads and writes while the
// scheduler is attached: the per-CPU counters (summed by one helper), the
// game map, and the variables BPF reads concurrently.

use std::mem::size_of;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags};
use log::info;

use crate::bpf_intf;
use crate::bpf_skel::BpfSkel;
use crate::cli::Opts;
use crate::events::records;

/// Keys `0..keys` of the per-CPU array `map`, each value summed over the
/// CPUs, counter by counter: `T` is made of u64 counters only.
pub fn sum_percpu<T: Copy>(map: &dyn MapCore, keys: u32) -> Result<Vec<T>> {
    let name = map.name().to_string_lossy();
    (0..keys)
        .map(|key| {
            let per_cpu = map
                .lookup_percpu(&key.to_ne_bytes(), MapFlags::ANY)
                .with_context(|| format!("reading map {name}"))?
                .unwrap_or_default();
            sum_words(&per_cpu).with_context(|| format!("map {name} holds values of another size"))
        })
        .collect()
}

/// The per-CPU copies of one value, summed u64 by u64; `None` when a
/// copy is shorter than `T` or `T` is not whole u64s.
fn sum_words<T: Copy>(per_cpu: &[Vec<u8>]) -> Option<T> {
    if !size_of::<T>().is_multiple_of(8) || per_cpu.iter().any(|v| v.len() < size_of::<T>()) {
        return None;
    }
    let mut sums = vec![0u64; size_of::<T>() / 8];
    for value in per_cpu {
        for (sum, word) in sums.iter_mut().zip(value.chunks_exact(8)) {
            *sum += u64::from_ne_bytes(word.try_into().ok()?);
        }
    }
    let bytes: Vec<u8> = sums.iter().flat_map(|s| s.to_ne_bytes()).collect();
    records::read(&bytes)
}

/// Every per-CPU counter of the BPF side, summed.
#[derive(Default)]
pub struct Counters {
    /// Per class, in `enum gamer_class` order.
    pub classes: Vec<bpf_intf::class_counters>,
    /// Per dispatch path, in `enum gamer_stat` order.
    pub dispatch: Vec<u64>,
    /// Per stream, in `enum gamer_ring` order.
    pub ring_drops: Vec<u64>,
    /// Per input ringbuf (input_ring_N).
    pub input_ring_drops: Vec<u64>,
}

pub fn read_counters(skel: &BpfSkel<'_>) -> Result<Counters> {
    let maps = &skel.maps;
    let class_stats: Vec<bpf_intf::class_stats> = sum_percpu(&maps.class_stats, 1)?;
    Ok(Counters {
        classes: class_stats[0].c.to_vec(),
        dispatch: sum_percpu(&maps.stats, bpf_intf::gamer_stat_NR_GSTATS)?,
        ring_drops: sum_percpu(&maps.ring_drops, bpf_intf::gamer_ring_GAMER_NR_RINGS)?,
        input_ring_drops: sum_percpu(
            &maps.input_ring_drops,
            bpf_intf::gamer_consts_GAMER_NR_INPUT_RINGS,
        )?,
    })
}

/// Put a process in the game map, as `--game-pid` and the launch socket do.
fn put_game(game_tgids: &dyn MapCore, tgid: u32) -> Result<()> {
    let via = bpf_intf::gamer_class_via_GAMER_VIA_GAME_TGID;
    game_tgids
        .update(&tgid.to_ne_bytes(), &via.to_ne_bytes(), MapFlags::ANY)
        .with_context(|| format!("putting process {tgid} in the game map"))
}

/// The BPF .bss variables userspace writes while the scheduler runs. BPF
/// reads them concurrently, so they are only ever touched atomically.
pub struct SharedVars<'obj> {
    /// CLOCK_TAI - CLOCK_REALTIME (events.bpf.c).
    pub tai_offset: &'obj AtomicU64,
    /// Bumped after each change to a per-process map (classify.bpf.c).
    pub proc_gen: &'obj AtomicU64,
}

impl<'obj> SharedVars<'obj> {
    pub fn take(skel: &mut BpfSkel<'obj>) -> Result<Self> {
        let bss = skel
            .maps
            .bss_data
            .take()
            .context("the BPF object has no .bss to share")?;
        // SAFETY: the .bss is mmapped for as long as the object lives
        // ('obj), the fields are u64-aligned, and from here on this side
        // only reaches them through these atomics.
        unsafe {
            Ok(SharedVars {
                tai_offset: AtomicU64::from_ptr(&mut bss.tai_offset_ns),
                proc_gen: AtomicU64::from_ptr(&mut bss.proc_gen),
            })
        }
    }

    /// `put_game`, and tell the BPF side the map changed.
    pub fn mark_game(&self, game_tgids: &dyn MapCore, tgid: u32) -> Result<()> {
        put_game(game_tgids, tgid)?;
        self.proc_gen.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// evdev stamps events in CLOCK_REALTIME by default and BPF can only
    /// read CLOCK_TAI, so keep the BPF side told of the difference. It
    /// changes only with a leap second or when the TAI offset is first set.
    pub fn update_tai_offset(&self) {
        self.tai_offset.store(tai_offset_ns(), Ordering::Relaxed);
    }
}

/// CLOCK_TAI - CLOCK_REALTIME in ns, rounded to whole seconds as it is
/// defined (the offset is a whole number of leap seconds).
fn tai_offset_ns() -> u64 {
    use nix::time::{clock_gettime, ClockId};
    let (Ok(tai), Ok(real)) = (
        clock_gettime(ClockId::CLOCK_TAI),
        clock_gettime(ClockId::CLOCK_REALTIME),
    ) else {
        return 0;
    };
    let ns = |t: nix::sys::time::TimeSpec| std::time::Duration::from(t).as_nanos() as i128;
    let secs = (ns(tai) - ns(real) + 500_000_000).div_euclid(1_000_000_000);
    (secs.max(0) as u64) * 1_000_000_000
}

/// Put the game's processes (named on the command line, with their
/// descendants) in the BPF map of game TGIDs. On a restart some may have
/// exited since startup; those are skipped rather than refused.
pub fn register_game(skel: &BpfSkel<'_>, opts: &Opts) -> Result<()> {
    if opts.game_pid.is_empty() && opts.game_comm.is_none() {
        return Ok(());
    }
    let procs = crate::detect::procinfo::scan_processes(Path::new("/proc"));
    let alive: Vec<u32> = opts
        .game_pid
        .iter()
        .copied()
        .filter(|pid| procs.iter().any(|p| p.pid == *pid))
        .collect();
    let game = crate::detect::named::game_processes(&procs, &alive, opts.game_comm.as_deref())?;
    for &tgid in &game {
        put_game(&skel.maps.game_tgids, tgid)?;
    }
    info!("game processes: {game:?}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_each_counter_over_the_cpus() {
        let cpu = |a: u64, b: u64| [a.to_ne_bytes(), b.to_ne_bytes()].concat();
        let sum: [u64; 2] = sum_words(&[cpu(1, 10), cpu(2, 20), cpu(3, 30)]).unwrap();
        assert_eq!(sum, [6, 60]);
        let one: u64 = sum_words(&[cpu(5, 99)[..8].to_vec(), cpu(7, 0)[..8].to_vec()]).unwrap();
        assert_eq!(one, 12);
        // No CPUs: zero counters.
        assert_eq!(sum_words::<u64>(&[]), Some(0));
    }

    #[test]
    fn values_of_the_wrong_size_are_refused() {
        assert_eq!(sum_words::<u64>(&[vec![1, 2, 3]]), None);
        assert_eq!(sum_words::<u32>(&[vec![0; 8]]), None);
    }

    #[test]
    fn class_counters_sum_field_by_field() {
        let mut value = vec![0u8; size_of::<bpf_intf::class_stats>()];
        // threads of the second class (input, audio, ...), then its cpu_ns.
        value[40..48].copy_from_slice(&2u64.to_ne_bytes());
        value[56..64].copy_from_slice(&500u64.to_ne_bytes());
        let s: bpf_intf::class_stats = sum_words(&[value.clone(), value]).unwrap();
        assert_eq!(
            (s.c[1].threads, s.c[1].cpu_ns, s.c[0].threads),
            (4, 1000, 0)
        );
    }

    #[test]
    fn tai_offset_is_whole_seconds() {
        assert_eq!(tai_offset_ns() % 1_000_000_000, 0);
    }
}
