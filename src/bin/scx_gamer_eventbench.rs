// SPDX-License-Identifier: GPL-2.0-only
//
// The event path's benchmark: how fast the scheduler's event loop drains
// its input ringbufs, how many syscalls that costs, and how much CPU.
//
// A producer thread runs src/bpf/eventbench.bpf.c's syscall program with
// BPF_PROG_TEST_RUN, writing input records into the scheduler's ringbuf
// layout with its wakeup rule; this thread runs the scheduler's very
// EventLoop and counts. Needs BPF, not sched_ext. docs/events.md has the
// figures and the commands.

mod eventbench_skel {
    #![allow(clippy::all, non_camel_case_types, non_snake_case, dead_code)]
    include!(concat!(env!("OUT_DIR"), "/eventbench_skel.rs"));
}

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{libbpf_sys, MapCore};
use nix::sys::resource::{getrusage, UsageWho};

use eventbench_skel::EventbenchSkelBuilder;
use scx_gamer::bpf_intf::eventbench_args;
use scx_gamer::events::event_loop::{consumer, EventLoop};
use scx_gamer::events::records::Kind;
use scx_gamer::scheduler::sum_percpu;

/// Benchmark the event ringbufs and the event loop (needs root for BPF, not
/// sched_ext).
#[derive(Debug, Parser)]
#[command(name = "scx_gamer_eventbench")]
struct Opts {
    /// How long to produce events, in seconds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    seconds: u64,

    /// Events per second to produce, one at a time; 0 produces as fast as
    /// the producer can, in batches.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    rate_hz: u64,

    /// Records per BPF_PROG_TEST_RUN at full rate.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    batch: u32,

    /// Hand every event on to a consumer thread over a bounded channel, as
    /// the scheduler does for its consumers.
    #[arg(long)]
    channel: bool,

    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let opts = Opts::parse();
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scx_gamer_eventbench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn thread_cpu() -> Duration {
    use nix::sys::time::TimeValLike;
    getrusage(UsageWho::RUSAGE_THREAD).map_or(Duration::ZERO, |u| {
        Duration::from_micros((u.user_time() + u.system_time()).num_microseconds() as u64)
    })
}

/// Run the producer program once, writing `count` records.
fn produce(prog_fd: i32, count: u32, first_seq: u32) -> Result<()> {
    let mut args = eventbench_args { count, first_seq };
    let mut opts = libbpf_sys::bpf_test_run_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as _,
        ctx_in: (&mut args as *mut eventbench_args).cast(),
        ctx_size_in: std::mem::size_of::<eventbench_args>() as u32,
        ..Default::default()
    };
    // SAFETY: `opts` points at `args`, which outlives the call, with its
    // size; the kernel only reads it.
    let ret = unsafe { libbpf_sys::bpf_prog_test_run_opts(prog_fd, &mut opts) };
    if ret != 0 {
        bail!(
            "BPF_PROG_TEST_RUN: {}",
            std::io::Error::from_raw_os_error(-ret)
        );
    }
    Ok(())
}

/// Run the benchmark and print its figures.
fn run(opts: &Opts) -> Result<()> {
    use libbpf_rs::skel::Skel;
    let mut open_object = MaybeUninit::uninit();
    let skel = EventbenchSkelBuilder::default()
        .open(&mut open_object)
        .context("opening the benchmark's BPF object")?
        .load()
        .context("loading the benchmark's BPF object (needs root)")?;

    let maps: Vec<libbpf_rs::Map> = skel
        .object()
        .maps()
        .filter(|m| Kind::of_map(&m.name().to_string_lossy()) == Some(Kind::Input))
        .collect();
    let rings: Vec<(Kind, &dyn MapCore)> = maps
        .iter()
        .map(|m| (Kind::Input, m as &dyn MapCore))
        .collect();
    let nr_rings = scx_gamer::bpf_intf::gamer_consts_GAMER_NR_INPUT_RINGS as usize;
    if rings.len() != nr_rings {
        bail!("expected {nr_rings} input ringbufs, found {}", rings.len());
    }

    let (consumers, rx): (Vec<_>, Option<_>) = if opts.channel {
        let (c, rx) = consumer("bench", &[Kind::Input], 65_536);
        (vec![c], Some(rx))
    } else {
        (Vec::new(), None)
    };
    let mut events = EventLoop::new(&rings, consumers)?;
    let (received, done, produced) = (AtomicU64::new(0), AtomicBool::new(false), AtomicU64::new(0));
    let prog_fd = skel.progs.produce.as_fd().as_raw_fd();
    let start = Instant::now();
    let end = start + Duration::from_secs(opts.seconds);
    std::thread::scope(|s| -> Result<()> {
        let producer = s.spawn(|| -> Result<()> {
            let mut seq = 0u32;
            match 1_000_000_000u64.checked_div(opts.rate_hz) {
                None => {
                    while Instant::now() < end {
                        produce(prog_fd, opts.batch, seq)?;
                        seq = seq.wrapping_add(opts.batch);
                        produced.fetch_add(u64::from(opts.batch), Ordering::Relaxed);
                    }
                }
                Some(period_ns) => {
                    let mut next = Instant::now();
                    while next < end {
                        produce(prog_fd, 1, seq)?;
                        seq = seq.wrapping_add(1);
                        produced.fetch_add(1, Ordering::Relaxed);
                        next += Duration::from_nanos(period_ns);
                        if let Some(d) = next.checked_duration_since(Instant::now()) {
                            std::thread::sleep(d);
                        }
                    }
                }
            }
            done.store(true, Ordering::Release);
            Ok(())
        });
        let channel = rx.map(|rx| {
            let received = &received;
            s.spawn(move || {
                for _ in rx.iter() {
                    received.fetch_add(1, Ordering::Relaxed);
                }
                thread_cpu()
            })
        });

        let cpu0 = thread_cpu();
        while !done.load(Ordering::Acquire) {
            events.wait()?;
        }
        events.drain();
        let loop_cpu = thread_cpu() - cpu0;
        let wall = start.elapsed();
        producer.join().expect("producer thread panicked")?;
        let counts = events.counts();
        drop(events);
        let channel_cpu = channel
            .map(|h| h.join().expect("channel thread panicked"))
            .unwrap_or_default();
        let drops: Vec<u64> = sum_percpu(&skel.maps.ring_drops, Kind::Input.ring() + 1)?;
        let produced = produced.load(Ordering::Relaxed);
        let consumed = counts.events[Kind::Input as usize];
        let bpf_drops = drops[Kind::Input.ring() as usize];
        let channel_received = received.load(Ordering::Relaxed);
        let channel_drops: u64 = counts.channels.iter().map(|c| c.dropped).sum();
        let (syscalls, wakeups) = (counts.syscalls, counts.wakeups);
        let secs = wall.as_secs_f64();
        let cpu = loop_cpu + channel_cpu;
        let rate = consumed as f64 / secs;
        let per_1000 = syscalls as f64 * 1000.0 / consumed.max(1) as f64;
        let ns_per_event = cpu.as_nanos() as f64 / consumed.max(1) as f64;
        let cpu_pct = cpu.as_secs_f64() / secs * 100.0;
        let (loop_ms, channel_ms) = (
            loop_cpu.as_secs_f64() * 1e3,
            channel_cpu.as_secs_f64() * 1e3,
        );
        let channel = opts.channel;
        if opts.json {
            let mode = match opts.rate_hz {
                0 => "full".to_string(),
                hz => format!("{hz}hz"),
            };
            println!(
                "{{\"mode\":\"{mode}\",\"channel\":{channel},\"seconds\":{secs:.3},\"produced\":{produced},\
                 \"consumed\":{consumed},\"bpf_drops\":{bpf_drops},\"channel_received\":{channel_received},\
                 \"channel_drops\":{channel_drops},\"syscalls\":{syscalls},\"wakeups\":{wakeups},\
                 \"events_per_s\":{rate:.0},\"syscalls_per_1000\":{per_1000:.3},\"loop_cpu_ms\":{loop_ms:.3},\
                 \"channel_cpu_ms\":{channel_ms:.3},\"cpu_ns_per_event\":{ns_per_event:.1},\
                 \"cpu_percent\":{cpu_pct:.3}}}"
            );
            return Ok(());
        }
        let mode = match opts.rate_hz {
            0 => format!("full rate, batches of {}", opts.batch),
            hz => format!("{hz} Hz, one event at a time"),
        };
        let with = if channel {
            ", with a consumer thread"
        } else {
            ""
        };
        println!("event benchmark: {mode}, {secs:.2} s{with}");
        println!(
            "  produced {produced} events; consumed {consumed}; dropped in BPF (ring full) {bpf_drops}"
        );
        if channel {
            println!(
                "  consumer thread received {channel_received}; channel drops {channel_drops}"
            );
        }
        println!("  consumed: {:.2} M events/s", rate / 1e6);
        println!(
            "  syscalls by the loop: {syscalls} ({wakeups} wakeups): {per_1000:.3} per 1000 events"
        );
        println!(
            "  consumer CPU: loop {loop_ms:.1} ms + consumer thread {channel_ms:.1} ms = \
             {ns_per_event:.1} ns/event, {cpu_pct:.3} % of one CPU"
        );
        Ok(())
    })
}
