// SPDX-License-Identifier: GPL-2.0-only
//
// `--monitor --frame-log FILE`: beside the monitor's view, a thread with a
// connection of its own reads every presented frame from the stats
// socket's `frames` target and appends it to FILE in MangoHud's log
// layout (frame_csv.rs).
//
// Bounded, never silent: the scheduler keeps the latest FRAME_RING_LEN
// frames for each reader, and this thread reads them every POLL; frames
// that left the ring before they were read are counted, said on stderr as
// they happen and in the summary at the end. Frames the kernel's ring or
// the stats thread's channel dropped before the ring show in the
// snapshot's `rings.frame.drops` and `channels.stats.dropped`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use crossbeam_channel::{bounded, RecvTimeoutError, Sender};

use super::frame_csv::{FrameCsv, FrameSelection, SystemInfo};
use super::socket::MonitorClient;

/// How often the frames are read: well inside the ring's slack.
const POLL: Duration = Duration::from_millis(250);

/// A running frame log.
pub struct FrameLog {
    path: PathBuf,
    rows: Arc<AtomicU64>,
    lost: Arc<AtomicU64>,
    stop: Sender<()>,
    thread: JoinHandle<Result<()>>,
}

impl FrameLog {
    /// Create `path` (truncating it), write the header, and start logging
    /// the frames presented from now on. Errors when the file cannot be
    /// created or the scheduler does not serve frames.
    pub fn start(socket: &Path, path: &Path, select: FrameSelection) -> Result<Self> {
        let mut client = MonitorClient::connect(socket)?;
        // The first read places this connection's cursor: frames from here.
        client.fetch_frames()?;
        let start_ns = monotonic_ns();
        let mut file = File::create(path)
            .with_context(|| format!("creating the frame log {}", path.display()))?;
        let mut csv = FrameCsv::new(Vec::new(), &SystemInfo::read(), select, start_ns)?;
        write_out(&mut file, &mut csv, path)?;

        let (rows, lost) = (Arc::<AtomicU64>::default(), Arc::<AtomicU64>::default());
        let (stop, stopped) = bounded::<()>(1);
        let (r, l, shown) = (rows.clone(), lost.clone(), path.to_path_buf());
        let thread = std::thread::spawn(move || {
            let mut read = || drain(&mut client, &mut file, &mut csv, &shown, &r, &l);
            let res = loop {
                match stopped.recv_timeout(POLL) {
                    Err(RecvTimeoutError::Timeout) => {
                        if let Err(e) = read() {
                            break Err(e);
                        }
                    }
                    // Asked to stop: the frames presented until now, last.
                    _ => break read(),
                }
            };
            if let Err(e) = &res {
                eprintln!("scx_gamer: frame log stopped: {e:#}");
                // Ends the monitor (its signalfd takes it), which then
                // reports this error. A process-directed signal, since every
                // thread blocks it.
                let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::SIGTERM);
            }
            res
        });
        Ok(FrameLog {
            path: path.to_path_buf(),
            rows,
            lost,
            stop,
            thread,
        })
    }

    /// Read the last frames and stop. The summary line (what was written,
    /// what was lost) and the error that stopped the log, if one did.
    pub fn finish(self) -> (String, Result<()>) {
        let _ = self.stop.try_send(());
        let res = self
            .thread
            .join()
            .unwrap_or_else(|_| Err(anyhow!("the frame log's thread panicked")));
        let summary = format!(
            "frame log {}: {} frames written, {} lost before they were read",
            self.path.display(),
            self.rows.load(Ordering::Relaxed),
            self.lost.load(Ordering::Relaxed)
        );
        (summary, res)
    }
}

/// Write every frame the scheduler holds for this connection.
fn drain(
    client: &mut MonitorClient,
    file: &mut File,
    csv: &mut FrameCsv<Vec<u8>>,
    path: &Path,
    rows: &AtomicU64,
    lost: &AtomicU64,
) -> Result<()> {
    loop {
        let batch = client.fetch_frames()?;
        if batch.lost > 0 {
            eprintln!(
                "scx_gamer: frame log: {} frames lost (read too late)",
                batch.lost
            );
            lost.fetch_add(batch.lost, Ordering::Relaxed);
        }
        for f in &batch.frames {
            csv.frame(f)?;
        }
        write_out(file, csv, path)?;
        rows.store(csv.rows(), Ordering::Relaxed);
        if !batch.more {
            return Ok(());
        }
    }
}

/// Append what `csv` holds to the file in one write, so the file only ever
/// ends with whole rows.
fn write_out(file: &mut File, csv: &mut FrameCsv<Vec<u8>>, path: &Path) -> Result<()> {
    let buf = csv.out_mut();
    file.write_all(buf)
        .with_context(|| format!("writing the frame log {}", path.display()))?;
    buf.clear();
    Ok(())
}

fn monotonic_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}
