// SPDX-License-Identifier: GPL-2.0-only
//
// `--monitor --frame-log FILE`: beside the monitor's view, a thread with a
// connection of its own reads every presented frame from the stats
// socket's `frames` target every POLL and appends it to FILE in MangoHud's
// CSV log layout (its src/logging.cpp), so tools that read MangoHud logs
// read ours (docs/stats.md has the columns):
//
//   os,cpu,gpu,ram,kernel,driver,cpuscheduler        system-info header
//   <values>                                         what this machine says
//   fps,frametime,cpu_load,...,cpu_mhz,elapsed       the frame columns
//   one row per frame
//
// The system values are read as MangoHud reads them; gpu and driver stay
// empty (scx_gamer does not know the game's renderer), and so does a value
// it cannot read. The format has no quoting, so commas in a value become
// spaces. The sensor columns are 0, as MangoHud writes for a sensor it
// lacks: scx_gamer measures none. Frames that left the scheduler's ring
// before they were read are counted, said on stderr as they happen and in
// the summary at the end; never a silent gap.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use crossbeam_channel::{bounded, RecvTimeoutError, Sender};

use super::publisher::LoggedFrame;
use super::socket::MonitorClient;

/// How often the frames are read: well inside the ring's slack.
const POLL: Duration = Duration::from_millis(250);

/// MangoHud's frame columns, in its order.
pub const FRAME_COLUMNS: [&str; 16] = [
    "fps",
    "frametime",
    "cpu_load",
    "cpu_power",
    "gpu_load",
    "cpu_temp",
    "gpu_temp",
    "gpu_core_clock",
    "gpu_mem_clock",
    "gpu_vram_used",
    "gpu_power",
    "ram_used",
    "swap_used",
    "process_rss",
    "cpu_mhz",
    "elapsed",
];

/// Which frames become rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FrameSelection {
    /// Every presented frame; its frame time is the interval since the
    /// previous presented frame on the same CRTC (the display's frames).
    All,
    /// The frames presented to game processes; a frame time is the interval
    /// since the same process's previous presented frame.
    Game,
}

/// The system-info line's values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemInfo {
    pub os: String,
    pub cpu: String,
    pub ram_kb: String,
    pub kernel: String,
    pub governor: String,
}

impl SystemInfo {
    /// What this machine says; whatever cannot be read stays empty.
    pub fn read() -> Self {
        let file = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        SystemInfo {
            os: os_name(&file("/etc/os-release")),
            cpu: cpu_model(&file("/proc/cpuinfo")),
            ram_kb: mem_total_kb(&file("/proc/meminfo")),
            kernel: nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
            governor: file("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        }
    }

    fn line(&self) -> String {
        let (os, cpu, ram, kernel, gov) = (
            &self.os,
            &self.cpu,
            &self.ram_kb,
            &self.kernel,
            &self.governor,
        );
        [os, cpu, "", ram, kernel, "", gov]
            .map(|v| v.replace([',', '\n', '\r'], " ").trim().to_string())
            .join(",")
    }
}

fn os_name(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches(['"', '\'']).to_string())
        .unwrap_or_default()
}

fn cpu_model(cpuinfo: &str) -> String {
    let models = cpuinfo.lines().filter(|l| l.starts_with("model name"));
    let model = models.filter_map(|l| l.split_once(':')).next_back();
    model.map(|(_, v)| v.trim().to_string()).unwrap_or_default()
}

fn mem_total_kb(meminfo: &str) -> String {
    let total = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:"));
    total
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or_default()
        .to_string()
}

/// The log's text: the header on creation, then a row per frame taken,
/// held in `out` until written out whole.
struct FrameCsv {
    out: Vec<u8>,
    select: FrameSelection,
    /// The log's start, CLOCK_MONOTONIC ns: `elapsed` counts from here.
    start_ns: u64,
    /// Each game process's latest presented frame.
    game_last: HashMap<u32, u64>,
    rows: u64,
}

impl FrameCsv {
    fn new(info: &SystemInfo, select: FrameSelection, start_ns: u64) -> Self {
        let info_columns = "os,cpu,gpu,ram,kernel,driver,cpuscheduler";
        let head = format!(
            "{info_columns}\n{}\n{}\n",
            info.line(),
            FRAME_COLUMNS.join(",")
        );
        FrameCsv {
            out: head.into_bytes(),
            select,
            start_ns,
            game_last: HashMap::new(),
            rows: 0,
        }
    }

    /// The row for `f`, if it is one: a frame with no frame time (the
    /// first on its CRTC, or of its game process) is not.
    fn frame(&mut self, f: &LoggedFrame) {
        let frame_ns = match self.select {
            FrameSelection::All => f.interval_ns,
            FrameSelection::Game if f.game => {
                let last = self.game_last.insert(f.tgid, f.present_ns);
                last.map_or(0, |l| f.present_ns.saturating_sub(l))
            }
            FrameSelection::Game => 0,
        };
        if frame_ns == 0 {
            return;
        }
        let ms = frame_ns as f64 / 1e6;
        // The 13 columns between frametime and elapsed have no value.
        let zeros = ",0".repeat(FRAME_COLUMNS.len() - 3);
        let elapsed = f.present_ns.saturating_sub(self.start_ns);
        let _ = writeln!(self.out, "{:.3},{ms:.6}{zeros},{elapsed}", 1000.0 / ms);
        self.rows += 1;
    }

    /// Append what is held to `file` in one write, so the file only ever
    /// ends with whole rows.
    fn write_out(&mut self, file: &mut File, path: &Path) -> Result<()> {
        let failed = || format!("writing the frame log {}", path.display());
        file.write_all(&self.out).with_context(failed)?;
        self.out.clear();
        Ok(())
    }
}

/// A running frame log.
pub struct FrameLog {
    path: PathBuf,
    stop: Sender<()>,
    /// Rows written and frames lost, and what stopped the log.
    thread: JoinHandle<(u64, u64, Result<()>)>,
}

impl FrameLog {
    /// Create `path` (truncating it), write the header, and start logging
    /// the frames presented from now on. Errors when the file cannot be
    /// created or the scheduler does not serve frames.
    pub fn start(socket: &Path, path: &Path, select: FrameSelection) -> Result<Self> {
        let mut client = MonitorClient::connect(socket)?;
        // The first read places this connection's cursor: frames from here.
        client.fetch_frames()?;
        let start_ns = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map_or(0, |t| {
                t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
            });
        let mut file = File::create(path)
            .with_context(|| format!("creating the frame log {}", path.display()))?;
        let mut csv = FrameCsv::new(&SystemInfo::read(), select, start_ns);
        csv.write_out(&mut file, path)?;

        let (stop, stopped) = bounded::<()>(1);
        let shown = path.to_path_buf();
        let thread = std::thread::spawn(move || {
            let mut lost = 0;
            let mut read = || drain(&mut client, &mut file, &mut csv, &shown, &mut lost);
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
            (csv.rows, lost, res)
        });
        Ok(FrameLog {
            path: path.to_path_buf(),
            stop,
            thread,
        })
    }

    /// Read the last frames and stop. The summary line (what was written,
    /// what was lost) and the error that stopped the log, if one did.
    pub fn finish(self) -> (String, Result<()>) {
        let _ = self.stop.try_send(());
        let (rows, lost, res) = self
            .thread
            .join()
            .unwrap_or_else(|_| (0, 0, Err(anyhow!("the frame log's thread panicked"))));
        let path = self.path.display();
        let summary =
            format!("frame log {path}: {rows} frames written, {lost} lost before they were read");
        (summary, res)
    }
}

/// Write every frame the scheduler holds for this connection.
fn drain(
    client: &mut MonitorClient,
    file: &mut File,
    csv: &mut FrameCsv,
    path: &Path,
    lost: &mut u64,
) -> Result<()> {
    loop {
        let batch = client.fetch_frames()?;
        if batch.lost > 0 {
            eprintln!(
                "scx_gamer: frame log: {} frames lost (read too late)",
                batch.lost
            );
            *lost += batch.lost;
        }
        batch.frames.iter().for_each(|f| csv.frame(f));
        csv.write_out(file, path)?;
        if !batch.more {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(present_ns: u64, interval_ns: u64, tgid: u32, game: bool) -> LoggedFrame {
        LoggedFrame {
            present_ns,
            interval_ns,
            missed: 0,
            crtc: 0,
            tgid,
            game,
        }
    }

    fn info() -> SystemInfo {
        SystemInfo {
            os: "Debian GNU/Linux 13 (trixie)".into(),
            cpu: "QEMU Virtual CPU, version 2.5+".into(),
            ram_kb: "2017000".into(),
            kernel: "7.3.4+deb13-amd64".into(),
            governor: String::new(),
        }
    }

    fn log(select: FrameSelection, frames: &[LoggedFrame]) -> Vec<String> {
        let mut csv = FrameCsv::new(&info(), select, 1_000_000_000);
        for f in frames {
            csv.frame(f);
        }
        String::from_utf8(csv.out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn header_is_mangohuds_three_lines() {
        let lines = log(FrameSelection::All, &[]);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "os,cpu,gpu,ram,kernel,driver,cpuscheduler");
        // The comma in the CPU's name would shift every later column.
        assert_eq!(
            lines[1],
            "Debian GNU/Linux 13 (trixie),QEMU Virtual CPU  version 2.5+,,2017000,7.3.4+deb13-amd64,,"
        );
        assert_eq!(
            lines[2],
            "fps,frametime,cpu_load,cpu_power,gpu_load,cpu_temp,gpu_temp,gpu_core_clock,\
             gpu_mem_clock,gpu_vram_used,gpu_power,ram_used,swap_used,process_rss,cpu_mhz,elapsed"
        );
    }

    #[test]
    fn a_row_is_fps_frametime_in_ms_zeros_and_elapsed_in_ns() {
        let lines = log(
            FrameSelection::All,
            &[frame(1_500_000_000, 16_666_667, 9, false)],
        );
        assert_eq!(lines.len(), 4);
        let cols: Vec<&str> = lines[3].split(',').collect();
        assert_eq!(cols.len(), FRAME_COLUMNS.len());
        assert_eq!(cols[0], "60.000");
        assert_eq!(cols[1], "16.666667");
        assert!(cols[2..15].iter().all(|c| *c == "0"), "{cols:?}");
        assert_eq!(cols[15], "500000000");
    }

    #[test]
    fn all_frames_skip_only_those_without_a_frame_time() {
        let lines = log(
            FrameSelection::All,
            &[
                frame(1_000_000_000, 0, 9, false),
                frame(1_010_000_000, 10_000_000, 9, false),
                frame(1_030_000_000, 20_000_000, 4, true),
            ],
        );
        let ft: Vec<&str> = lines[3..]
            .iter()
            .map(|l| l.split(',').nth(1).unwrap())
            .collect();
        assert_eq!(ft, ["10.000000", "20.000000"]);
    }

    #[test]
    fn game_frames_are_timed_per_game_process() {
        let lines = log(
            FrameSelection::Game,
            &[
                frame(1_000_000_000, 5, 4, true),
                frame(1_005_000_000, 5, 9, false),
                frame(1_010_000_000, 5, 5, true),
                frame(1_033_000_000, 5, 4, true),
                frame(1_050_000_000, 5, 5, true),
            ],
        );
        let rows: Vec<(&str, &str)> = lines[3..]
            .iter()
            .map(|l| {
                let c: Vec<&str> = l.split(',').collect();
                (c[1], c[15])
            })
            .collect();
        assert_eq!(rows, [("33.000000", "33000000"), ("40.000000", "50000000")]);
    }

    #[test]
    fn system_info_is_read_as_mangohud_reads_it() {
        assert_eq!(
            os_name("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n"),
            "Debian GNU/Linux 13 (trixie)"
        );
        assert_eq!(os_name("NAME=x\n"), "");
        let cpuinfo = "processor\t: 0\nmodel name\t: A\n\nprocessor\t: 1\nmodel name\t: B CPU\n";
        assert_eq!(cpu_model(cpuinfo), "B CPU");
        assert_eq!(
            mem_total_kb("MemTotal:        2017000 kB\nMemFree: 1 kB\n"),
            "2017000"
        );
        assert_eq!(mem_total_kb(""), "");
    }
}
