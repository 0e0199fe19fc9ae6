// SPDX-License-Identifier: GPL-2.0-only
//
// The frame log's file layout: MangoHud's CSV log (its src/logging.cpp), so
// tools that read MangoHud logs read ours. The layout, and what scx_gamer
// puts in each column (docs/stats.md says the same for users):
//
//   os,cpu,gpu,ram,kernel,driver,cpuscheduler        system-info header
//   <values>                                         what this machine says
//   fps,frametime,cpu_load,...,cpu_mhz,elapsed       the frame columns
//   one row per frame
//
// - os: /etc/os-release PRETTY_NAME; cpu: the last "model name" of
//   /proc/cpuinfo; ram: MemTotal in kB; kernel: the release (uname -r);
//   cpuscheduler: cpu0's cpufreq governor, as MangoHud writes it; gpu and
//   driver: empty (scx_gamer does not know the game's renderer). A value
//   it cannot read is empty too; commas in a value become spaces, since
//   the format has no quoting.
// - fps: 1000 / frametime; frametime: the frame time in ms (ns precision);
//   elapsed: ns from the log's start to the frame's presentation (the
//   kernel's vblank timestamp, CLOCK_MONOTONIC).
// - Every other column (loads, temperatures, clocks, power, memory) is 0,
//   which is what MangoHud itself writes for a sensor it does not have:
//   scx_gamer measures none of them.

use std::collections::HashMap;
use std::io::{self, Write};

use super::frame_ring::LoggedFrame;

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

/// MangoHud's system-info columns, in its order.
const INFO_COLUMNS: [&str; 7] = [
    "os",
    "cpu",
    "gpu",
    "ram",
    "kernel",
    "driver",
    "cpuscheduler",
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
            governor: file("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
                .trim()
                .to_string(),
        }
    }

    fn line(&self) -> String {
        let values = [
            &self.os,
            &self.cpu,
            "",
            &self.ram_kb,
            &self.kernel,
            "",
            &self.governor,
        ];
        values
            .iter()
            .map(|v| v.replace([',', '\n', '\r'], " ").trim().to_string())
            .collect::<Vec<_>>()
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
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("model name"))
        .filter_map(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .next_back()
        .unwrap_or_default()
}

fn mem_total_kb(meminfo: &str) -> String {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or_default()
        .to_string()
}

/// Writes the log: the header on creation, then a row per frame taken.
pub struct FrameCsv<W: Write> {
    out: W,
    select: FrameSelection,
    /// The log's start, CLOCK_MONOTONIC ns: `elapsed` counts from here.
    start_ns: u64,
    /// Each game process's latest presented frame.
    game_last: HashMap<u32, u64>,
    rows: u64,
}

impl<W: Write> FrameCsv<W> {
    pub fn new(
        mut out: W,
        info: &SystemInfo,
        select: FrameSelection,
        start_ns: u64,
    ) -> io::Result<Self> {
        writeln!(out, "{}", INFO_COLUMNS.join(","))?;
        writeln!(out, "{}", info.line())?;
        writeln!(out, "{}", FRAME_COLUMNS.join(","))?;
        Ok(FrameCsv {
            out,
            select,
            start_ns,
            game_last: HashMap::new(),
            rows: 0,
        })
    }

    /// The row for `f`, if it is one: a frame with no frame time (the
    /// first on its CRTC, or of its game process) is not.
    pub fn frame(&mut self, f: &LoggedFrame) -> io::Result<()> {
        let frame_ns = match self.select {
            FrameSelection::All => f.interval_ns,
            FrameSelection::Game if f.game => {
                let last = self.game_last.insert(f.tgid, f.present_ns);
                last.map_or(0, |l| f.present_ns.saturating_sub(l))
            }
            FrameSelection::Game => 0,
        };
        if frame_ns == 0 {
            return Ok(());
        }
        let ms = frame_ns as f64 / 1e6;
        write!(self.out, "{:.3},{:.6}", 1000.0 / ms, ms)?;
        // The 13 columns scx_gamer has no value for.
        self.out
            .write_all(",0".repeat(FRAME_COLUMNS.len() - 3).as_bytes())?;
        writeln!(self.out, ",{}", f.present_ns.saturating_sub(self.start_ns))?;
        self.rows += 1;
        Ok(())
    }

    /// Where the rows go: a caller that writes them on in batches takes
    /// them from here.
    pub fn out_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
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
        let mut buf = Vec::new();
        let mut csv = FrameCsv::new(&mut buf, &info(), select, 1_000_000_000).unwrap();
        for f in frames {
            csv.frame(f).unwrap();
        }
        drop(csv);
        String::from_utf8(buf)
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
