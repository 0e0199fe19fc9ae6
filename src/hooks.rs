// SPDX-License-Identifier: GPL-2.0-only
//
// The optional class hooks (`SEC("?fexit/<fn>")` in src/bpf/): which of them
// this kernel can take, and what to do when one fails to load after all. A
// hook is evidence for one class from one driver; losing it must cost that
// evidence alone, never the scheduler.
//
// An fentry/fexit program is attached by the BTF id of its target, so the
// function must exist and be described by BTF: vmlinux's for the core
// kernel, /sys/kernel/btf/<module> for a module. Out-of-tree and DKMS-built
// modules (NVIDIA's among them) usually carry no BTF, and /proc/kallsyms
// alone would switch their hooks on and make the whole object fail to load.
// If libbpf still names an optional program as the one a load failed on,
// the caller loads again without it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::CString;
use std::fmt;
use std::fs;
use std::ptr::NonNull;
use std::sync::Mutex;

use anyhow::{Context, Result};
use libbpf_rs::btf::Btf;
use libbpf_rs::{libbpf_sys, AsRawLibbpf, PrintLevel};
use log::{debug, info, log, Level};

/// The kernel function a tracing program's section names (`fexit/<fn>`),
/// with or without the `?` of an optional program (libbpf drops it).
pub fn hook_target(section: &str) -> Option<&str> {
    let section = section.strip_prefix('?').unwrap_or(section);
    let (kind, target) = section.split_once('/')?;
    matches!(kind, "fentry" | "fexit" | "kprobe" | "kretprobe").then_some(target)
}

/// The function names in /proc/kallsyms, each with the module that holds
/// it (`None` for the core kernel).
pub fn kernel_functions(kallsyms: &str) -> HashMap<&str, Option<&str>> {
    kallsyms
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_addr, kind, name) = (f.next()?, f.next()?, f.next()?);
            let module = f.next().map(|m| m.trim_matches(['[', ']']));
            matches!(kind, "t" | "T").then_some((name, module))
        })
        .collect()
}

/// Whether the BTF of a module (vmlinux's for `None`) describes a function;
/// `Err` carries why that BTF could not be read.
type HasBtf<'a> = dyn FnMut(Option<&str>, &str) -> Result<bool, String> + 'a;

/// Why a hook's target cannot be attached to, or `None` when it can.
fn unusable_because(
    functions: &HashMap<&str, Option<&str>>,
    target: &str,
    has_btf: &mut HasBtf<'_>,
) -> Option<String> {
    let Some(module) = functions.get(target) else {
        return Some("not in this kernel or its loaded modules".into());
    };
    let owner = module.map_or("the kernel".into(), |m| format!("module {m}"));
    match has_btf(*module, target) {
        Ok(true) => None,
        Ok(false) => Some(format!("{owner}'s BTF does not describe it")),
        Err(why) => Some(format!("{owner} has no BTF ({why})")),
    }
}

/// The BTF of vmlinux and of the modules asked about, each read once.
struct KernelBtf {
    vmlinux: Btf<'static>,
    /// Split BTFs over vmlinux's, freed (in Drop) before it.
    modules: HashMap<String, Result<NonNull<libbpf_sys::btf>, String>>,
}

impl KernelBtf {
    fn has_function(&mut self, module: Option<&str>, function: &str) -> Result<bool, String> {
        let base = self.vmlinux.as_libbpf_object();
        let btf = match module {
            None => base,
            Some(m) => self
                .modules
                .entry(m.into())
                .or_insert_with(|| parse_module_btf(base, m))
                .clone()?,
        };
        let name = CString::new(function).map_err(|e| e.to_string())?;
        // SAFETY: btf is a live BTF owned by self; name is NUL-terminated.
        let id = unsafe {
            libbpf_sys::btf__find_by_name_kind(
                btf.as_ptr(),
                name.as_ptr(),
                libbpf_sys::BTF_KIND_FUNC,
            )
        };
        Ok(id > 0)
    }
}

fn parse_module_btf(
    base: NonNull<libbpf_sys::btf>,
    module: &str,
) -> Result<NonNull<libbpf_sys::btf>, String> {
    let path = format!("/sys/kernel/btf/{module}");
    if fs::metadata(&path).is_err() {
        return Err(format!("{path} is missing"));
    }
    let cpath = CString::new(path.clone()).map_err(|e| e.to_string())?;
    // SAFETY: base is the live vmlinux BTF a module's split BTF builds on.
    let btf = unsafe { libbpf_sys::btf__parse_split(cpath.as_ptr(), base.as_ptr()) };
    NonNull::new(btf)
        .ok_or_else(|| format!("{path} unreadable: {}", std::io::Error::last_os_error()))
}

impl Drop for KernelBtf {
    fn drop(&mut self) {
        for btf in self.modules.values().flatten() {
            // SAFETY: each came from btf__parse_split and is freed once,
            // before the vmlinux BTF it refers to.
            unsafe { libbpf_sys::btf__free(btf.as_ptr()) };
        }
    }
}

/// Switch each optional hook on when its target function exists and has
/// BTF and `refused` does not name it; log why for each one left off.
/// Returns the hooks that are on: program name to target function.
pub fn enable_optional_hooks(
    obj: &mut libbpf_rs::OpenObject,
    refused: &BTreeSet<String>,
    check_btf: bool,
) -> Result<BTreeMap<String, String>> {
    let kallsyms = fs::read_to_string("/proc/kallsyms").context("reading /proc/kallsyms")?;
    let functions = kernel_functions(&kallsyms);
    let mut btf = KernelBtf {
        vmlinux: Btf::from_vmlinux().context("reading the kernel's BTF")?,
        modules: HashMap::new(),
    };
    let mut has_btf = |module: Option<&str>, function: &str| {
        if check_btf {
            btf.has_function(module, function)
        } else {
            Ok(true)
        }
    };
    let mut enabled = BTreeMap::new();
    for mut prog in obj.progs_mut().filter(|p| !p.autoload()) {
        let section = prog.section().to_string_lossy().into_owned();
        let Some(target) = hook_target(&section) else {
            continue;
        };
        let name = prog.name().to_string_lossy().into_owned();
        let why = if refused.contains(&name) {
            Some("the kernel refused to load it (above)".to_string())
        } else {
            unusable_because(&functions, target, &mut has_btf)
        };
        prog.set_autoload(why.is_none());
        match why {
            None => {
                enabled.insert(name, target.to_string());
            }
            Some(why) => info!("hook {target} ({name}) off: {why}"),
        }
    }
    Ok(enabled)
}

/// A load that failed in one optional hook's program: the caller loads
/// again without it.
#[derive(Debug)]
pub struct HookLoadFailed {
    pub prog: String,
    /// What libbpf said about that program.
    pub why: String,
}

impl fmt::Display for HookLoadFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "loading hook program {}: {}", self.prog, self.why)
    }
}

impl std::error::Error for HookLoadFailed {}

/// The program libbpf blames in its messages of a failed load, if any:
/// the first `prog '<name>': ...` line that reports a failure.
pub fn blamed_program(messages: &[String]) -> Option<(&str, &str)> {
    messages.iter().find_map(|m| {
        let rest = m.split_once("prog '")?.1;
        let (name, what) = rest.split_once("':")?;
        let what = what.trim();
        (what.contains("fail") || what.contains("error")).then_some((name, what))
    })
}

/// libbpf's warnings while a load runs, kept so that a failure can be
/// pinned on one program; its other messages go to the debug log at once.
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn keep_message(level: PrintLevel, msg: String) {
    let msg = msg.trim_end().to_string();
    match level {
        PrintLevel::Warn => WARNINGS.lock().unwrap().push(msg),
        _ => debug!("libbpf: {msg}"),
    }
}

/// Run `load` with libbpf's messages captured. When it fails in an
/// optional hook program that is on (`hook_progs`), the error is a
/// [`HookLoadFailed`] and libbpf's warnings go to the debug log; otherwise
/// they are logged as warnings, as they would have been.
pub fn load_with_hooks<T>(
    hook_progs: &BTreeMap<String, String>,
    load: impl FnOnce() -> Result<T>,
) -> Result<T> {
    WARNINGS.lock().unwrap().clear();
    let previous = libbpf_rs::set_print(Some((PrintLevel::Debug, keep_message)));
    let result = load();
    libbpf_rs::set_print(previous);
    let warnings = std::mem::take(&mut *WARNINGS.lock().unwrap());
    let blamed = result
        .is_err()
        .then(|| blamed_program(&warnings))
        .flatten()
        .filter(|(prog, _)| hook_progs.contains_key(*prog));
    let level = if blamed.is_some() {
        Level::Debug
    } else {
        Level::Warn
    };
    warnings.iter().for_each(|w| log!(level, "libbpf: {w}"));
    match blamed {
        Some((prog, why)) => Err(HookLoadFailed {
            prog: prog.to_string(),
            why: why.to_string(),
        }
        .into()),
        None => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_function_hooks_have_targets() {
        assert_eq!(hook_target("?fexit/evdev_read"), Some("evdev_read"));
        assert_eq!(hook_target("fexit/evdev_read"), Some("evdev_read"));
        assert_eq!(
            hook_target("fentry/snd_pcm_period_elapsed_under_stream_lock"),
            Some("snd_pcm_period_elapsed_under_stream_lock")
        );
        assert_eq!(hook_target("tp_btf/sched_process_exec"), None);
        assert_eq!(hook_target("struct_ops/gamer_enqueue"), None);
    }

    #[test]
    fn kallsyms_functions_name_their_module_and_skip_data() {
        let k = "ffffffff81000000 T _stext\n\
                 ffffffffc0a01230 t evdev_read\t[evdev]\n\
                 ffffffff82000000 D some_data\n\
                 ffffffffc0b00000 T snd_pcm_period_elapsed_under_stream_lock\t[snd_pcm]\n";
        let f = kernel_functions(k);
        assert_eq!(f.get("evdev_read"), Some(&Some("evdev")));
        assert_eq!(f.get("_stext"), Some(&None));
        assert_eq!(
            f.get("snd_pcm_period_elapsed_under_stream_lock"),
            Some(&Some("snd_pcm"))
        );
        assert!(!f.contains_key("some_data"));
    }

    #[test]
    fn a_module_without_btf_leaves_its_hook_off() {
        let k = "ffffffffc0a01230 t nvidia_unlocked_ioctl\t[nvidia]\n\
                 ffffffffc0a05230 t vgem_fence_attach_ioctl\t[vgem]\n\
                 ffffffff81000000 T evdev_read\n";
        let f = kernel_functions(k);
        let mut btf = |module: Option<&str>, function: &str| match module {
            Some("nvidia") => Err("/sys/kernel/btf/nvidia is missing".to_string()),
            _ => Ok(function != "evdev_read"),
        };
        assert_eq!(
            unusable_because(&f, "nvidia_unlocked_ioctl", &mut btf).unwrap(),
            "module nvidia has no BTF (/sys/kernel/btf/nvidia is missing)"
        );
        assert_eq!(
            unusable_because(&f, "vgem_fence_attach_ioctl", &mut btf),
            None
        );
        assert_eq!(
            unusable_because(&f, "evdev_read", &mut btf).unwrap(),
            "the kernel's BTF does not describe it"
        );
        assert_eq!(
            unusable_because(&f, "panthor_ioctl_group_submit", &mut btf).unwrap(),
            "not in this kernel or its loaded modules"
        );
    }

    #[test]
    fn the_failing_program_is_found_in_libbpfs_messages() {
        let m = |s: &str| s.to_string();
        let messages = [
            m("libbpf: map 'gamer_ops': created"),
            m("libbpf: prog 'gpu_vgem_fence_attach_ioctl': failed to find kernel BTF type ID of 'vgem_fence_attach_ioctl': -3"),
            m("libbpf: prog 'gpu_vgem_fence_attach_ioctl': failed to prepare load attributes: -3"),
            m("libbpf: failed to load object 'bpf_bpf'"),
        ];
        assert_eq!(
            blamed_program(&messages),
            Some((
                "gpu_vgem_fence_attach_ioctl",
                "failed to find kernel BTF type ID of 'vgem_fence_attach_ioctl': -3"
            ))
        );
        assert_eq!(blamed_program(&[m("libbpf: prog 'x': loaded")]), None);
        assert_eq!(blamed_program(&[]), None);
    }
}
