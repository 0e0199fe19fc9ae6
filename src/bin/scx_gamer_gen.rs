// SPDX-License-Identifier: GPL-2.0-only
//
// `scx_gamer_gen <output directory>` writes the man page, the bash, zsh and
// fish completions and the service's commented default config from the
// `Opts` the scheduler parses, so a new flag reaches all of them
// (tests/install.sh checks it). scripts/install.sh runs it; not installed.

use scx_gamer::cli;

use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Arg, Command, CommandFactory};
use clap_complete::Shell;

const BIN: &str = "scx_gamer";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: scx_gamer_gen <output directory>");
        return ExitCode::from(2);
    };
    match generate(Path::new(&dir)) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scx_gamer_gen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut cmd = cli::Opts::command();
    cmd.build();

    let mut written = vec![write_man(&cmd, dir)?];
    let mut visible = without_hidden(&cmd);
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        written.push(clap_complete::generate_to(shell, &mut visible, BIN, dir)?);
    }
    let config = dir.join("scx_gamer.default");
    fs::write(&config, default_config(&cmd))?;
    written.push(config);
    Ok(written)
}

/// The command with its hidden flags left out. clap_complete's generators
/// offer hidden flags too; the test-only ones must not be offered.
fn without_hidden(cmd: &Command) -> Command {
    // clap adds --help and --version itself when the copy is built.
    let mut visible = Command::new(BIN).version(env!("CARGO_PKG_VERSION")).args(
        cmd.get_arguments()
            .filter(|a| !a.is_hide_set() && !matches!(a.get_id().as_str(), "help" | "version"))
            .cloned(),
    );
    visible.build();
    visible
}

/// The man page: clap_mangen's sections for what clap knows, plus the ones
/// a service needs and clap cannot know (files, exit status, where logs go).
fn write_man(cmd: &Command, dir: &Path) -> std::io::Result<PathBuf> {
    let man = clap_mangen::Man::new(cmd.clone());
    let path = dir.join(man.get_filename());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    out.write_all(MAN_SERVICE_SECTIONS.as_bytes())?;
    man.render_version_section(&mut out)?;
    fs::write(&path, out)?;
    Ok(path)
}

// Written in roff by hand: hyphens in flags and paths are `\-` so they print
// as hyphens that can be searched for and copied.
const MAN_SERVICE_SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Detached cleanly: on SIGINT or SIGTERM, or when the kernel unregistered the
scheduler without an error.
.TP
\fB1\fR
Refused to start (for example: no sched_ext in the running kernel, not root,
another sched_ext scheduler attached), or the kernel ended the scheduler on an
error or on sysrq\-S. The last lines of output say which; an \fBEXIT:\fR line gives
the kernel's reason.
.TP
\fB2\fR
Invalid flags or values.
.SH FILES
.TP
\fI/etc/default/scx_gamer\fR
Flags for the systemd service, in the variable \fBSCX_GAMER_FLAGS\fR.
.TP
\fIscx_gamer.service\fR
The systemd unit. It runs \fBscx_gamer $SCX_GAMER_FLAGS\fR, is not restarted
after exit status 1 or 2, and conflicts with \fIscx.service\fR.
.TP
\fI/sys/kernel/sched_ext/state\fR, \fI/sys/kernel/sched_ext/root/ops\fR
Whether a sched_ext scheduler is attached, and which.
.SH LOGGING
Messages go to standard error. On a terminal they may be coloured; otherwise
they are plain. When standard error is the journal stream systemd set up
(\fBJOURNAL_STREAM\fR names it), each line starts with a syslog priority
prefix, so \fBjournalctl \-p warning \-u scx_gamer\fR shows warnings and errors.
.SH "SEE ALSO"
\fBsystemctl\fR(1), \fBjournalctl\fR(1), \fBsystemd.exec\fR(5)
"#;

/// The head of /etc/default/scx_gamer, the path the unit, the man page and
/// the docs name; SCX_GAMER_FLAGS is the variable the unit expands.
const CONFIG_HEAD: &str = "\
# /etc/default/scx_gamer: flags for scx_gamer.service
#
# The service runs `scx_gamer $SCX_GAMER_FLAGS`. Put the flags between the
# quotes at the end of this file, for example
#
#   SCX_GAMER_FLAGS=\"--slice-us 3000\"
#
# then apply them with `systemctl restart scx_gamer`. Left empty, scx_gamer
# runs with its defaults. A flag it rejects makes the service fail at once
# with the reason in `journalctl -u scx_gamer`. `man scx_gamer` describes
# the flags; the project's docs/tuning.md suggests values per machine.
#
";

/// The commented default for /etc/default/scx_gamer, listing every flag with
/// its help text and default.
fn default_config(cmd: &Command) -> String {
    let mut out = CONFIG_HEAD.to_string();
    let version = cmd.get_version().unwrap_or_default();
    let _ = writeln!(out, "# The flags of scx_gamer {version}:");
    for arg in cmd.get_arguments() {
        // Flags that print something and exit have no place in a service.
        let one_shot = matches!(
            arg.get_id().as_str(),
            "help" | "version" | "list_game_candidates"
        );
        if arg.is_hide_set() || one_shot {
            continue;
        }
        let _ = writeln!(out, "#\n# {}", spelling(arg));
        let help = arg.get_long_help().or_else(|| arg.get_help());
        for line in wrap(&help.map(|h| h.to_string()).unwrap_or_default(), 72) {
            let _ = writeln!(out, "#     {line}");
        }
        let defaults: Vec<_> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy())
            .collect();
        if arg.get_action().takes_values() && !defaults.is_empty() {
            let _ = writeln!(out, "#     Default: {}", defaults.join(" "));
        }
    }
    out + "\nSCX_GAMER_FLAGS=\"\"\n"
}

/// How a flag is written on the command line: `-v, --verbose`,
/// `--slice-us <SLICE_US>`.
fn spelling(arg: &Arg) -> String {
    let short = arg.get_short().map(|s| format!("-{s}"));
    let long = arg.get_long().map(|l| format!("--{l}"));
    let mut s = [short, long]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    if arg.get_action().takes_values() {
        match arg.get_value_names() {
            Some(values) => values.iter().for_each(|v| s += &format!(" <{v}>")),
            None => s += &format!(" <{}>", arg.get_id().as_str().to_uppercase()),
        }
    }
    s
}

/// Greedy word wrap for the config's comments.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.extend((!line.is_empty()).then_some(line));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> Command {
        let mut cmd = cli::Opts::command();
        cmd.build();
        cmd
    }

    /// Whether `text` has `--flag` as a whole flag (so --help-stats does
    /// not count as --help).
    fn names_flag(text: &str, flag: &str) -> bool {
        let needle = format!("--{flag}");
        text.match_indices(&needle).any(|(at, _)| {
            !text[at + needle.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
        })
    }

    #[test]
    fn config_lists_every_flag_and_sets_the_variable_the_unit_reads() {
        let cmd = command();
        let config = default_config(&cmd);
        for arg in cmd.get_arguments() {
            let long = arg.get_long().unwrap();
            if arg.is_hide_set() || matches!(long, "help" | "version" | "list-game-candidates") {
                assert!(!names_flag(&config, long), "{long}");
            } else {
                assert!(
                    config.contains(&format!("# --{long}"))
                        || config.contains(&format!(", --{long}")),
                    "{long}"
                );
            }
        }
        assert!(config.ends_with("\nSCX_GAMER_FLAGS=\"\"\n"));
        let active: Vec<_> = config
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        assert_eq!(active, ["SCX_GAMER_FLAGS=\"\""]);
    }

    #[test]
    fn completions_offer_every_visible_flag_and_no_hidden_one() {
        let cmd = command();
        let mut visible = without_hidden(&cmd);
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut visible, BIN, &mut out);
            let text = String::from_utf8(out).unwrap();
            for arg in cmd.get_arguments() {
                let long = arg.get_long().unwrap();
                assert_eq!(text.contains(long), !arg.is_hide_set(), "{shell}: --{long}");
            }
        }
    }

    #[test]
    fn config_gives_defaults_for_valued_flags_only() {
        let config = default_config(&command());
        assert!(config.contains("# --slice-us <SLICE_US>\n"));
        assert!(config.contains("#     Default: 5000\n"));
        assert!(config.contains("#     Default: 20000\n"));
        assert!(config.contains("# -v, --verbose\n"));
        assert!(!config.contains("Default: false"));
    }

    #[test]
    fn wrap_keeps_lines_within_width_and_every_word() {
        let text = "one two three four five six seven eight nine ten eleven";
        let lines = wrap(text, 12);
        assert!(lines.iter().all(|l| l.len() <= 12), "{lines:?}");
        assert_eq!(lines.join(" "), text);
    }
}
