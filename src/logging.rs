// SPDX-License-Identifier: GPL-2.0-only
//
// Log output. On a terminal, simplelog's plain lines (coloured only when a
// person watches). When stderr is the stream systemd connected to journald,
// every line starts with the sd-daemon priority prefix (`<3>` errors, `<4>`
// warnings, `<6>` info, `<7>` debug), so the journal records each message at
// its real level (`journalctl -p warning` finds warnings and errors); the
// text after the prefix is the same `[LEVEL] message`, so one grep works on
// both.

use std::io::{self, IsTerminal, Write};

use log::{Level, LevelFilter, Log, Metadata, Record};
use simplelog::{ColorChoice, ConfigBuilder, TermLogger, TerminalMode};

/// Log to stderr, debug messages too when `verbose`.
pub fn init(verbose: bool) {
    let level = if verbose {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    if stderr_is_journal() {
        if log::set_logger(&JournalLogger).is_ok() {
            log::set_max_level(level);
        }
    } else {
        let config = ConfigBuilder::new()
            .set_time_level(LevelFilter::Off)
            .set_target_level(LevelFilter::Off)
            .set_thread_level(LevelFilter::Off)
            .set_location_level(LevelFilter::Off)
            .build();
        let colour = if io::stderr().is_terminal() {
            ColorChoice::Auto
        } else {
            ColorChoice::Never
        };
        let _ = TermLogger::init(level, config, TerminalMode::Stderr, colour);
    }
    if verbose {
        scx_utils::init_libbpf_logging(None);
    }
}

/// The syslog priority journald records for a log level.
pub fn priority(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// Whether stderr is the journal stream systemd set up for this service.
/// systemd names that stream's device and inode in JOURNAL_STREAM; comparing
/// them, rather than only checking that the variable is set, keeps output
/// plain when a child inherited the variable but its stderr goes elsewhere
/// (a redirect to a file, a pipe into another program).
fn stderr_is_journal() -> bool {
    let (Ok(var), Ok(st)) = (
        std::env::var("JOURNAL_STREAM"),
        nix::sys::stat::fstat(io::stderr()),
    ) else {
        return false;
    };
    matches_stream(&var, st.st_dev, st.st_ino)
}

/// Whether a JOURNAL_STREAM value (`<device>:<inode>`, both decimal) names
/// the file with this device and inode.
pub fn matches_stream(var: &str, dev: u64, ino: u64) -> bool {
    var.split_once(':')
        .is_some_and(|(d, i)| d.parse() == Ok(dev) && i.parse() == Ok(ino))
}

/// One record as journald should receive it. journald makes each line its
/// own entry and reads the prefix per line, so every line carries it.
pub fn format(level: Level, msg: &str) -> String {
    let msg = msg.strip_suffix('\n').unwrap_or(msg);
    let text = format!("[{level}] {msg}");
    let prefix = priority(level);
    text.split('\n')
        .map(|l| format!("<{prefix}>{l}\n"))
        .collect()
}

struct JournalLogger;

impl Log for JournalLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let text = format(record.level(), &record.args().to_string());
            // One write per record, so lines logged from different threads
            // cannot interleave inside an entry.
            let _ = io::stderr().lock().write_all(text.as_bytes());
        }
    }

    fn flush(&self) {
        let _ = io::stderr().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(priority(Level::Error), 3);
        assert_eq!(priority(Level::Warn), 4);
        assert_eq!(priority(Level::Info), 6);
        assert_eq!(priority(Level::Debug), 7);
        assert_eq!(priority(Level::Trace), 7);
    }

    #[test]
    fn a_line_carries_its_priority_and_level() {
        assert_eq!(
            format(Level::Error, "another sched_ext scheduler is attached"),
            "<3>[ERROR] another sched_ext scheduler is attached\n"
        );
        assert_eq!(format(Level::Warn, "w"), "<4>[WARN] w\n");
        assert_eq!(format(Level::Info, "i"), "<6>[INFO] i\n");
        assert_eq!(format(Level::Debug, "d"), "<7>[DEBUG] d\n");
    }

    #[test]
    fn every_line_of_a_multi_line_message_is_prefixed() {
        assert_eq!(
            format(Level::Warn, "first\nsecond\n"),
            "<4>[WARN] first\n<4>second\n"
        );
        assert_eq!(format(Level::Info, ""), "<6>[INFO] \n");
    }

    #[test]
    fn journal_stream_must_name_this_device_and_inode() {
        assert!(matches_stream("8:12345", 8, 12345));
        assert!(!matches_stream("8:12345", 8, 12346));
        assert!(!matches_stream("9:12345", 8, 12345));
        for bad in ["", "8", "8:", ":12345", "8:12345:1", "x:y", "-8:12345"] {
            assert!(!matches_stream(bad, 8, 12345), "{bad:?}");
        }
    }
}
